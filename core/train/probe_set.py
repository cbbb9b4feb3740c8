"""The search's probes as one part: the curvature probe, the perturbation readout, their shared budget
(:class:`core.train.probes.ProbeSchedule`) and what they recorded.  The search calls
:meth:`SearchProbes.after_epoch` once per epoch and keeps :meth:`state_dict` in its checkpoint; nothing
here changes the search's trajectory (each probe's own rules: :mod:`core.train.curvature`,
:mod:`core.train.perturbation`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.config import Config
from core.run.readout import PerturbationReadout, latest_readout
from core.run.summary import PerturbationAccount, ProbeShare
from core.space.network import SearchNet
from core.train.batches import BatchSource
from core.train.checkpoints import ProbeSection
from core.train.curvature import CurvatureProbe
from core.train.perturbation import PerturbationProbe
from core.train.probes import ProbeClock, ProbeSchedule


@dataclass
class EpochProbes:
    """What the probes measured after one epoch, and the lines the search should say."""

    curvature: float | None = None
    perturbation: PerturbationReadout | None = None
    warnings: list[str] = field(default_factory=list)


class SearchProbes:
    """Both probes, their budget, the search epochs counted past the warm-up and every recorded value."""

    def __init__(self, config: Config, val: BatchSource) -> None:
        s, seed, batch = config.search, config.run.seed, config.data.batch_size
        self.curvature = CurvatureProbe.build(s.curvature, val, seed, batch) if s.curvature.enabled else None
        pert = s.perturbation
        self.perturbation = PerturbationProbe.build(pert, val, seed, batch) if pert.enabled else None
        self.schedule = ProbeSchedule(s.probe_budget)
        if self.curvature is not None:
            self.schedule.clocks["curvature"] = ProbeClock(s.curvature.every, exempt=s.stop_rule == "curvature")
        if self.perturbation is not None:
            exempt = s.select == "perturbation"
            self.schedule.clocks["perturbation"] = ProbeClock(s.perturbation.every, exempt=exempt)
        self.search_epochs = 0  #: epochs past the warm-up(s): ``every`` counts them
        self.curvatures: list[tuple[int, float]] = []  #: (epoch, largest eigenvalue) of each measured epoch
        self.readouts: dict[int, PerturbationReadout] = {}  #: each measured epoch's perturbation readout

    def after_epoch(self, net: SearchNet, epoch: int, phase: str, elapsed_s: float) -> EpochProbes:
        """This epoch's measurements when it is a search epoch and the schedule lets them run (before
        its checkpoint: a resume after the save does not measure it again). ``elapsed_s``: the search's
        seconds so far, the probes' included."""
        out = EpochProbes()
        if phase != "search":
            return out
        self.search_epochs += 1
        # the readout first: it is the cheaper of the two, and an architecture can be derived from it
        if self.perturbation is not None:
            pert = self.perturbation
            if self._due("perturbation", elapsed_s, lambda: pert.estimate_s(net), out):
                out.perturbation = pert.measure(net)
                self.schedule.record("perturbation", pert.last_s)
                self.readouts[epoch] = out.perturbation
        if self.curvature is not None:
            probe = self.curvature
            if self._due("curvature", elapsed_s, lambda: probe.estimate_s(net), out):
                out.curvature = probe.measure(net)
                self.schedule.record("curvature", probe.last_s)
                self.curvatures.append((epoch, out.curvature))
        return out

    def _due(self, name: str, elapsed_s: float, estimate: Any, out: EpochProbes) -> bool:
        work = max(0.0, elapsed_s - self.schedule.spent_s)
        verdict = self.schedule.due(name, self.search_epochs, work, estimate)
        if verdict.announce:
            out.warnings.append(verdict.announce)
        return verdict.run

    def readout_for(self, epoch: int) -> tuple[int, PerturbationReadout] | None:
        """The latest readout at or before ``epoch`` (the architecture's epoch), with its own epoch."""
        return latest_readout(self.readouts, epoch)

    def shares(self, elapsed_s: float) -> dict[str, ProbeShare]:
        """Each probe's runs and share of the search's time (``summary.json``, ``presnet bench``)."""
        return self.schedule.shares(max(0.0, elapsed_s - self.schedule.spent_s))

    def account(self, arch_epoch: int) -> PerturbationAccount | None:
        """``summary.json``'s account of the readout (None without one): per measured epoch its agreement
        with the argmax ([epoch, agreeing, decisions]); at the architecture's epoch (the latest readout at
        or before it) the choices and where they differ from the argmax."""
        if self.perturbation is None:
            return None
        at = self.readout_for(arch_epoch)
        return PerturbationAccount(
            agreement=[[e, *r.agreement()] for e, r in sorted(self.readouts.items())],
            epoch=at[0] if at else None,
            choices=at[1].choices() if at else {},
            disagreements=[list(d) for d in at[1].disagreements()] if at else [],
        )

    def state_dict(self) -> ProbeSection:
        return ProbeSection(
            search_epochs=self.search_epochs,
            curvatures=self.curvatures,
            readouts={e: r.model_dump(mode="json") for e, r in self.readouts.items()},
            schedule=self.schedule.state_dict(),
        )

    def load_state_dict(self, state: ProbeSection) -> None:
        """Older checkpoints: no readouts nor schedule (the section's defaults: the account starts afresh)."""
        self.search_epochs = int(state.search_epochs)
        self.curvatures = [(int(e), float(v)) for e, v in state.curvatures]
        self.readouts = {int(e): PerturbationReadout.model_validate(r) for e, r in state.readouts.items()}
        if state.schedule is not None:
            self.schedule.load_state_dict(state.schedule)
