"""What the screens show, folded from the event stream (no widgets here).

Keeping this a plain object makes the UI a pure view: the same model is fed by a
local runner's events or by a followed ``events.jsonl`` (attach), and tests can
feed it fixed events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.api.state import RunState, reduce
from core.run.events import AnyEvent, EpochEnd, PerturbationReadout, RetrainEpochEnd
from core.space import JOINT_DECISION, argmax_label, block_choice, marginals
from presnet_tui.shared.trajectory import Trajectory, cut_back, event_point

if TYPE_CHECKING:  # the service layer (and torch) load when a derive asks for them
    from core.api.derive import SearchSnapshots
    from core.api.stops import RuleVerdicts


def fmt_eta(seconds: float | None) -> str:
    """``mm:ss`` or ``h:mm:ss``; ``--:--`` while unknown."""
    if seconds is None:
        return "--:--"
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


@dataclass
class Curves:
    """Per-epoch scalar series, for the loss/top-1 plots."""

    epochs: list[float] = field(default_factory=list)
    values: dict[str, list[float | None]] = field(default_factory=dict)

    def add(self, epoch: int, **values: float | None) -> None:
        cut_back(self.epochs, epoch, self.values.values())  # a resume re-emits: keep the last write
        self.epochs.append(float(epoch))
        for k, v in values.items():
            self.values.setdefault(k, []).append(v)


@dataclass
class RunModel(RunState):
    """The run's state (:mod:`core.run.state`'s one reducer) plus what only the screens draw:
    the alpha trajectories and the loss/top-1 curves."""

    trajectory: Trajectory = field(default_factory=Trajectory)
    search_curves: Curves = field(default_factory=Curves)
    retrain_curves: Curves = field(default_factory=Curves)
    _verdicts: tuple[int, RuleVerdicts] | None = None  # (epochs folded in, verdicts): replayed once per epoch

    def apply(self, e: AnyEvent) -> None:
        """Fold one event into the model."""
        point = event_point(e)
        if point is not None:
            self.trajectory.add(*point)
        reduce(self, e)
        if isinstance(e, EpochEnd):
            self.search_curves.add(
                e.epoch, train_loss=e.train_loss, val_loss=e.val_loss, train_top1=e.train_top1, val_top1=e.val_top1
            )
        elif isinstance(e, RetrainEpochEnd):
            self.retrain_curves.add(
                e.epoch, train_loss=e.train_loss, val_loss=e.val_loss, train_top1=e.train_top1, val_top1=e.val_top1
            )

    # -- derived views ---------------------------------------------------------------------
    def snapshots(self, source: str = "") -> SearchSnapshots:
        """What :func:`core.api.derive.derive` needs, from the events already folded in (no file read)."""
        from core.api.derive import snapshots_of_state

        return snapshots_of_state(self, source)

    def readout(self, epoch: int | None = None) -> tuple[int, PerturbationReadout] | None:
        """(epoch, readout): the latest perturbation readout at or before ``epoch`` (default: the last);
        None when there is none."""
        from core.api.derive import latest_readout

        return latest_readout({e: end.perturbation for e, end in self.epoch_ends.items()}, epoch)

    def curvature(self) -> list[tuple[int, float]]:
        """(epoch, largest Hessian eigenvalue) of each measured search epoch."""
        from core.api.stops import curvature_points

        return curvature_points(self.epoch_ends.values())

    def stop_verdicts(self) -> RuleVerdicts | None:
        """Where the margin and curvature rules fire in the epochs so far (core.api.stops.RuleVerdicts),
        replayed with the run's own settings; None before the search has started."""
        if not self.search_config:
            return None
        if self._verdicts is None or self._verdicts[0] != len(self.epoch_ends):
            from core.api.stops import rule_verdicts
            from core.config import validate

            self._verdicts = (
                len(self.epoch_ends),
                rule_verdicts(validate(self.search_config), self.epoch_ends.values()),
            )
        return self._verdicts[1]

    @property
    def joint(self) -> bool:
        return JOINT_DECISION in self.candidates

    def block_probs(self, block: str) -> dict[str, dict[str, float]]:
        """A block's distributions; in joint mode the kernel and activation marginals are added."""
        probs = dict(self.alphas.get(block, {}))
        probs |= {d: {choice: 1.0} for d, choice in self.frozen.get(block, {}).items()}  # frozen: certain
        if JOINT_DECISION in probs:
            probs.update(marginals(probs[JOINT_DECISION]))
        return probs

    def argmax(self, block: str, decision: str) -> tuple[str, float]:
        """The derived choice of a decision and its probability. Joint candidates: the kernel or the
        activation of the most probable pair (what derive picks), with that kernel's or activation's
        marginal probability."""
        pairs = self.alphas.get(block, {}).get(JOINT_DECISION)
        if pairs and decision in ("kernel", "activation"):
            k, a = block_choice({JOINT_DECISION: pairs})
            label = str(k) if decision == "kernel" else a
            return label, self.block_probs(block)[decision].get(label, 0.0)
        probs = self.block_probs(block).get(decision, {})
        if not probs:
            return "-", 0.0
        label = argmax_label(probs)  # the one derive rule
        return label, probs[label]

    def status(self, block: int) -> str:
        """A mark per decision (kernel then activation, or the joint op): ✓ settled, ! unstable
        (lost its lead or margin after settling, and not settled again since), · moving, = frozen (a
        progressive search's earlier stage).  Settled is the stop criterion's latest word, as derive's."""
        marks = ""
        for d in self.candidates or ("kernel", "activation"):
            if d in self.frozen.get(str(block), {}):
                marks += "="
            elif self.settled.get(str(block), {}).get(d, False):
                marks += "✓"
            elif (block, d) in self.unstable:
                marks += "!"
            else:
                marks += "·"
        return marks
