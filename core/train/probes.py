"""What the search's probes (curvature, perturbation) share: a fixed, seeded validation subset each, and
one schedule that holds them within a share of the search's time.

*The budget.* The probes measure the supernet; they do not train it, so what they cost is overhead on
the search.  :class:`ProbeSchedule` lets a due probe run only if, counting what it is expected to cost,
all probes together stay within ``budget`` of the search's time so far (the search's own seconds plus
the probes'), measured as the run goes: a probe that would exceed it waits for later epochs, so it
runs less often, and the search says so once per probe (a ``warning`` event).  The expected cost is
the probe's last measured time; before its first measurement, its own estimate (one timed forward pass
over its subset, scaled by the passes it makes).

A probe a decision depends on is exempt: the curvature probe when ``search.stop_rule`` is ``curvature``
(the rule counts its evaluations), the perturbation readout when ``search.select`` is ``perturbation``
(the architecture is read from it).  Their time still counts against the others'.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypedDict, TypeVar

import torch

from core.run.summary import ProbeShare
from core.train.batches import BatchSource
from core.train.seeds import stream

Batch = tuple[torch.Tensor, torch.Tensor]


def fixed_subset(val: BatchSource, images: int, seed: int, batch_size: int) -> list[Batch]:
    """``images`` validation images picked by a generator seeded with ``seed`` (none of training's),
    read unaugmented, in batches of ``batch_size``; a lone image in a last batch joins the one before
    (train-mode BatchNorm cannot normalise one image)."""
    n = val.count()
    picked = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[: min(images, n)]
    chunks = torch.split(picked, max(1, batch_size))
    if len(chunks) > 1 and len(chunks[-1]) < 2:
        chunks = (*chunks[:-2], torch.cat(chunks[-2:]))
    return [val.fixed(c) for c in chunks]


class _SubsetSize(Protocol):
    @property
    def images(self) -> int: ...


C = TypeVar("C", bound=_SubsetSize)
P = TypeVar("P", bound="SubsetProbe[Any]")


@dataclass
class SubsetProbe(Generic[C]):
    """A probe read on a fixed validation subset of its own, drawn once from its own seed stream
    (:data:`STREAM`), so that it consumes none of training's random numbers and a resumed search reads
    the same images; ``last_s``: its last measurement's seconds (the schedule's next expected cost)."""

    STREAM: ClassVar[str]

    config: C
    batches: list[Batch]
    seed: int
    last_s: float = 0.0

    @classmethod
    def build(cls: type[P], config: Any, val: BatchSource, run_seed: int, batch_size: int) -> P:
        seed = stream(run_seed, cls.STREAM)
        return cls(config, fixed_subset(val, config.images, seed, batch_size), seed)


class ClockState(TypedDict):
    """A :class:`ProbeClock` in a checkpoint (its fields)."""

    every: int
    exempt: bool
    last_s: float | None
    spent_s: float
    runs: int
    skipped: int
    announced: bool


class ScheduleState(TypedDict):
    budget: float
    clocks: dict[str, ClockState]


@dataclass
class ProbeClock:
    """One probe's account: how often it may run, what it cost, whether it was held back."""

    every: int
    exempt: bool = False
    last_s: float | None = None  #: seconds of its last measurement (its next one's expected cost)
    spent_s: float = 0.0
    runs: int = 0
    skipped: int = 0  #: due epochs it did not run for the budget
    announced: bool = False  #: the search said it runs less often

    def state_dict(self) -> ClockState:
        return ClockState(
            every=self.every,
            exempt=self.exempt,
            last_s=self.last_s,
            spent_s=self.spent_s,
            runs=self.runs,
            skipped=self.skipped,
            announced=self.announced,
        )


@dataclass
class Verdict:
    run: bool
    #: a first hold-back: the line the search emits (once per probe)
    announce: str | None = None


@dataclass
class ProbeSchedule:
    """The probes' shared budget (a part of the search with a state: resumed runs keep the account)."""

    budget: float
    clocks: dict[str, ProbeClock] = field(default_factory=dict)

    @property
    def spent_s(self) -> float:
        return sum(c.spent_s for c in self.clocks.values())

    def due(self, name: str, search_epoch: int, work_s: float, estimate: Callable[[], float]) -> Verdict:
        """Whether probe ``name`` runs after the ``search_epoch``-th search epoch (1-based), ``work_s``
        seconds of the search's own work so far; ``estimate`` is asked only before its first run."""
        clock = self.clocks[name]
        if (search_epoch - 1) % clock.every != 0:
            return Verdict(False)
        if clock.exempt:
            return Verdict(True)
        cost = clock.last_s
        if cost is None:
            t0 = time.perf_counter()
            cost = estimate()
            clock.spent_s += time.perf_counter() - t0
        spent = self.spent_s
        if spent + cost <= self.budget * (work_s + spent + cost):
            return Verdict(True)
        clock.skipped += 1
        if clock.announced:
            return Verdict(False)
        clock.announced = True
        share = (spent + cost) / max(work_s + spent + cost, 1e-9)
        return Verdict(
            False,
            f"the {name} probe runs less often than every {clock.every} search epoch(s): one measurement "
            f"(~{cost:.2g} s) would bring the probes to {share:.0%} of the search's time, past its budget of "
            f"{self.budget:.0%} (search.probe_budget); it runs when the budget allows",
        )

    def record(self, name: str, seconds: float) -> None:
        clock = self.clocks[name]
        clock.last_s, clock.spent_s, clock.runs = seconds, clock.spent_s + seconds, clock.runs + 1

    def shares(self, work_s: float) -> dict[str, ProbeShare]:
        """Per probe: runs, held-back due epochs, seconds and share of the search's time, its budget and
        whether it is exempt from it (summary.json)."""
        total = work_s + self.spent_s
        return {
            n: ProbeShare(
                runs=c.runs,
                skipped=c.skipped,
                seconds=round(c.spent_s, 3),
                share=round(c.spent_s / total, 4) if total > 0 else 0.0,
                budget=self.budget,
                exempt=c.exempt,
            )
            for n, c in self.clocks.items()
        }

    def state_dict(self) -> ScheduleState:
        return {"budget": self.budget, "clocks": {n: c.state_dict() for n, c in self.clocks.items()}}

    def load_state_dict(self, state: ScheduleState) -> None:
        for name, saved in state["clocks"].items():
            if name in self.clocks:  # the config decides which probes exist and how often they may run
                c = self.clocks[name]
                c.last_s, c.spent_s, c.runs = saved["last_s"], saved["spent_s"], saved["runs"]
                c.skipped, c.announced = saved["skipped"], saved["announced"]
