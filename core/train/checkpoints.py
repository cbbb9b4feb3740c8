"""The checkpoints as typed sections: one dataclass per stateful part, assembled here (and only here)
into the payload torch saves, and read back from it.

Each part keeps its own state, Lightning's way: ``state_dict()`` gives its section, ``load_state_dict()``
takes it back.  A section's fields are its keys in the payload, so the layout stays the one the search
and the retrain have always written (a checkpoint of main 7ccfc44 resumes, tests/e2e/test_resume_fixtures.py),
and a key an older checkpoint lacks takes the field's default: the legacy cases are those defaults,
in one place, instead of branches in the loops.  The payload holds tensors, numbers, strings and
plain containers only: ``torch.load(weights_only=True)`` reads nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeAlias, TypedDict

import torch
from typing_extensions import Self

from core.run.checkpoint import CheckpointHeader
from core.run.events import AlphaSnapshot
from core.run.summary import DecisionRecord, StageRecord
from core.run.tuning import Tuning
from core.train.batches import LoaderState
from core.train.convergence import TrackerState
from core.train.meters import MeterState
from core.train.probes import ScheduleState

#: The payload as torch saves and loads it: the checkpoint's edge, read only through the sections below.
Payload: TypeAlias = dict[str, Any]
#: torch's own state dicts (a module's, an optimiser's, a scheduler's, a loss scaler's), kept as torch gives them.
TorchState: TypeAlias = dict[str, Any]


@dataclass(frozen=True)
class Section:
    """A part's state: each field is one key of the payload (or of the part's own sub-dict)."""

    def payload(self) -> Payload:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Self:
        """From a payload; a key it lacks (an older checkpoint) takes the field's default."""
        return cls(**{f.name: raw[f.name] for f in fields(cls) if f.name in raw})


@dataclass(frozen=True)
class LoopHead:
    """What every loop's checkpoint holds besides its parts: where the loop stood (the header), the torch
    RNG, the speed settings ``auto`` chose (a resume reuses them) and, distributed, every rank's sums."""

    header: CheckpointHeader
    torch_rng: torch.Tensor
    tuning: Tuning | None = None  #: older checkpoints: none recorded (the resume measures again)
    rank_meters: list[list[MeterState]] | None = None

    def payload(self) -> Payload:
        out: Payload = {**self.header.model_dump(), "torch_rng": self.torch_rng}
        if self.tuning is not None:
            out["tuning"] = self.tuning.model_dump()
        if self.rank_meters is not None:
            out["rank_meters"] = self.rank_meters
        return out

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> LoopHead:
        tuning = raw.get("tuning")
        return cls(
            CheckpointHeader.of(raw),
            raw["torch_rng"],
            Tuning.model_validate(tuning) if tuning is not None else None,
            raw.get("rank_meters"),
        )

    def own_meters(self, rank: int) -> list[MeterState] | None:
        """This rank's own epoch sums in a distributed checkpoint (None in a single-process one)."""
        return self.rank_meters[rank] if self.rank_meters else None


class SearchMeters(TypedDict):
    train: MeterState
    val: MeterState


@dataclass(frozen=True)
class SupernetSection(Section):
    """The weights' side of the search: the supernet, its SGD and schedule, the loaders' positions."""

    model: TorchState
    w_opt: TorchState
    sched: TorchState
    scaler: TorchState
    train_loader: LoaderState
    val_loader: LoaderState
    meters: SearchMeters


@dataclass(frozen=True)
class StrategySection(Section):
    """The search strategy's state (core.train.strategy): the alphas' optimiser and scaler, the path sampler."""

    a_opt: TorchState
    sampler: str  #: the path sampler's bit generator state (JSON)
    arch_steps: int
    arch_scaler: TorchState | None = None  #: older checkpoints: none (a fresh scaler recalibrates in a few steps)


@dataclass(frozen=True)
class StopSection(Section):
    """The stop rules' state (core.train.stopping); ``snapshots`` and ``converged_at`` sit in ``rules``."""

    tracker: TrackerState
    prev_alphas: AlphaSnapshot | None = None
    stopping: str | None = None  #: a stop decided at an epoch's end (a StopReason's value)
    snapshots: dict[int, AlphaSnapshot] = field(default_factory=dict)  #: older: none (no rollback history)
    converged_at: int | None = None

    IN_RULES: ClassVar[tuple[str, ...]] = ("snapshots", "converged_at")


@dataclass(frozen=True)
class ProbeSection(Section):
    """The probes' record (core.train.probe_set), in ``rules``; older checkpoints: an account started afresh."""

    search_epochs: int = 0
    curvatures: list[tuple[int, float]] = field(default_factory=list)
    readouts: dict[int, Payload] = field(default_factory=dict)  #: PerturbationReadout as JSON, per epoch
    schedule: ScheduleState | None = None


@dataclass(frozen=True)
class StageSection(Section):
    """A progressive search's stage controller (core.train.progressive), under ``progressive``."""

    stage: int
    stage_start: int
    frozen: dict[str, dict[str, str]]
    steps: list[list[Any]]  #: ["freeze", {block: {decision: choice}}] / ["add", [block ids]], in order
    done: str | None = None
    history: list[StageRecord] = field(default_factory=list)
    frozen_confidence: list[DecisionRecord] = field(default_factory=list)


@dataclass(frozen=True)
class SearchCheckpoint:
    """The search's checkpoint: the loop's head and the parts' sections."""

    head: LoopHead
    supernet: SupernetSection
    strategy: StrategySection
    stop: StopSection
    probes: ProbeSection
    stages: StageSection | None = None  #: a progressive search's

    def payload(self) -> Payload:
        stop = self.stop.payload()
        rules = {**self.probes.payload(), **{k: stop.pop(k) for k in StopSection.IN_RULES}}
        out = {**self.head.payload(), **self.supernet.payload(), **self.strategy.payload(), **stop, "rules": rules}
        if self.stages is not None:
            out["progressive"] = self.stages.payload()
        return out

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> SearchCheckpoint:
        rules = raw.get("rules", {})  # older checkpoints: no rules (the probes' and rules' record starts afresh)
        stages = raw.get("progressive")
        return cls(
            LoopHead.of(raw),
            SupernetSection.of(raw),
            StrategySection.of(raw),
            StopSection.of({**raw, **{k: rules[k] for k in StopSection.IN_RULES if k in rules}}),
            ProbeSection.of(rules),
            StageSection.of(stages) if stages is not None else None,
        )


@dataclass(frozen=True)
class RetrainSection:
    """The retrain's own state (core.train.retrain_loop)."""

    model: TorchState
    opt: TorchState
    sched: TorchState
    scaler: TorchState
    train_loader: LoaderState
    meter: MeterState
    last_val_top1: float | None = None
    test_top1: float | None = None  #: set once, after the last epoch
    stopped: bool = False
    #: older checkpoints named the test top-1 of a finished retrain ``last_top1`` (read, never written)
    legacy_top1: float | None = None

    def payload(self) -> Payload:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "legacy_top1"}

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> RetrainSection:
        known = {f.name for f in fields(cls)} - {"legacy_top1"}
        return cls(**{k: raw[k] for k in known if k in raw}, legacy_top1=raw.get("last_top1"))

    @property
    def final_top1(self) -> float:
        """A finished retrain's test top-1."""
        top1 = self.test_top1 if self.test_top1 is not None else self.legacy_top1
        assert top1 is not None, "a finished retrain checkpoint without its test top-1"
        return float(top1)


@dataclass(frozen=True)
class RetrainCheckpoint:
    head: LoopHead
    retrain: RetrainSection

    def payload(self) -> Payload:
        return {**self.head.payload(), **self.retrain.payload()}

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> RetrainCheckpoint:
        return cls(LoopHead.of(raw), RetrainSection.of(raw))
