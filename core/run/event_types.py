"""The event types: one pydantic model per kind of event, their union, and its parser.

Every event has a ``kind`` tag and is one JSON line.  Import them from :mod:`core.run.events`
(which re-exports everything here next to the bus and the event file); this module exists so the
types sit below the code that moves and stores them.
"""

from __future__ import annotations

import time
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from core.run.payloads import ConfidenceRecord as ConfidenceRecord  # re-exported: front ends read them
from core.run.payloads import ProgressiveWhere as ProgressiveWhere
from core.run.readout import PerturbationReadout as PerturbationReadout  # re-exported: epoch_end carries it
from core.run.tuning import Tuning as Tuning  # re-exported: the started events carry it

#: {"<block id>": {"kernel": {"3": p, "5": p}, "activation": {"relu": p, ...}}}
AlphaSnapshot = dict[str, dict[str, dict[str, float]]]


class StopReason(str, Enum):
    """Why a search ended; str-valued, so ``events.jsonl`` and summaries keep the plain words."""

    COMPLETED = "completed"
    USER = "user"
    CONVERGED = "converged"
    CURVATURE = "curvature"  #: the curvature rule saw the eigenvalue rise (the architecture is from before)
    ERROR = "error"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class _Event(BaseModel):
    time: float = Field(default_factory=time.time)


class SearchStarted(_Event):
    kind: Literal["search_started"] = "search_started"
    config: dict[str, Any]
    block_ids: list[int]
    stages: dict[str, int]
    candidates: dict[str, list[str]]
    params: int
    num_classes: int
    steps_per_epoch: int
    epochs: int
    start_epoch: int = 1
    resumed: bool = False
    device: str = "cpu"
    world_size: int = 1  #: processes (ranks) the search runs on
    global_batch_size: int | None = None  #: data.batch_size x world_size
    #: a progressive search where it (re)starts (None: a direct search)
    progressive: ProgressiveWhere | None = None
    tuning: Tuning | None = None  #: what ``auto`` chose for the speed settings, and the timings (core.train.autotune)


class Progress(_Event):
    kind: Literal["progress"] = "progress"
    phase: Literal["warmup", "search", "retrain"]
    epoch: int
    epochs: int
    step: int
    steps_per_epoch: int
    images_per_s: float
    eta_s: float | None = None


class Alphas(_Event):
    kind: Literal["alphas"] = "alphas"
    epoch: int
    step: int
    steps_per_epoch: int
    arch_step: int
    alphas: AlphaSnapshot


class EpochEnd(_Event):
    kind: Literal["epoch_end"] = "epoch_end"
    epoch: int
    epochs: int
    phase: Literal["warmup", "search"]
    train_loss: float
    train_top1: float
    val_loss: float | None = None
    val_top1: float | None = None
    lr: float
    elapsed_s: float
    alphas: AlphaSnapshot
    #: cost-aware search only: E[c] under softmax(alpha) at the epoch's end, in ``cost_metric`` units
    expected_cost: float | None = None
    cost_metric: str | None = None
    #: per block and decision, the total variation between this epoch's distribution and the last one's
    alpha_change: dict[str, dict[str, float]] = Field(default_factory=dict)
    #: per block and decision, whether the stop criterion (core.train.convergence) holds it settled
    #: after this epoch; empty in warm-up and in event files written before the field existed
    settled: dict[str, dict[str, bool]] = Field(default_factory=dict)
    #: the largest (algebraic) eigenvalue of the relaxed validation loss's Hessian w.r.t. the alphas
    #: (core.train.curvature); None in warm-up, on epochs it skips (``every``, the probe budget), older files
    curvature: float | None = None
    #: each decision pinned to each candidate (core.train.perturbation); None where it did not run
    perturbation: PerturbationReadout | None = None
    #: per block and decision, the entropy of its distribution over log(candidates) (1 uniform, 0 decided)
    entropy: dict[str, dict[str, float]] = Field(default_factory=dict)


class Converged(_Event):
    kind: Literal["converged"] = "converged"
    epoch: int
    architecture: dict[str, dict[str, str]]


class Unstable(_Event):
    kind: Literal["unstable"] = "unstable"
    epoch: int
    block: int
    decision: str
    was: str
    now: str
    reason: Literal["flip", "margin"] = "flip"  #: the argmax changed, or it kept the lead but lost the margin


class StageStart(_Event):
    """A progressive search's stage begins: ``blocks`` are its search blocks (``new_blocks`` joined now)."""

    kind: Literal["stage_start"] = "stage_start"
    stage: int  #: 1-based
    stages: int
    scope: str | list[int]  #: the stage's scope as configured (a letter or block ids)
    blocks: list[int]
    new_blocks: list[int] = Field(default_factory=list)
    epoch: int  #: the stage's first epoch
    warmup_epochs: int = 0


class StageEnd(_Event):
    """A progressive search's stage ends at ``epoch``: ``frozen`` are the decisions pinned now
    ({block: {decision: candidate}}), ``open`` the blocks with a decision still searched."""

    kind: Literal["stage_end"] = "stage_end"
    stage: int
    epoch: int
    reason: Literal["settled", "budget", "cap", "user"] = "settled"
    frozen: dict[str, dict[str, str]] = Field(default_factory=dict)
    open: list[int] = Field(default_factory=list)


class SpaceWarning(_Event):
    """Something the user should know before trusting the result (e.g. a void kernel choice)."""

    kind: Literal["warning"] = "warning"
    message: str
    where: str | None = None


class State(_Event):
    kind: Literal["state"] = "state"
    state: Literal["running", "paused"]
    epoch: int


class Suspended(_Event):
    """The run left after a step, on request, with a checkpoint that resumes mid-epoch with the same
    batches: ``by`` says who asked (``SIGTERM``/``SIGUSR1``: a scheduler's preemption; ``interrupt``:
    Ctrl+C or the TUI).  ``presnet ls`` reads a run whose last event is this one as *stopped*, not crashed."""

    kind: Literal["suspended"] = "suspended"
    phase: Literal["search", "retrain"]
    epoch: int  #: the epoch it was in
    step: int  #: steps of that epoch done
    by: str = "interrupt"
    checkpoint: str = ""
    #: several ranks: each rank's state digest at the suspension (its step included); all equal
    rank_state_sha256: list[str] | None = None


class SearchStopped(_Event):
    kind: Literal["search_stopped"] = "search_stopped"
    epoch: int
    reason: StopReason
    elapsed_s: float = 0.0
    #: the stop rule in force (search.stop_rule: margin, curvature, none); None in older event files
    rule: str | None = None
    #: the epoch whose alphas the architecture is derived from (the curvature rule's rollback epoch)
    architecture_epoch: int | None = None


class ArchitectureDerived(_Event):
    kind: Literal["architecture"] = "architecture"
    epoch: int
    architecture: dict[str, Any]
    params: int
    path: str
    #: how much the search decided (core.train.convergence.Confidence.as_dict): searched, arch_steps,
    #: settled, decisions_total, decisions; absent in event files written before it existed
    confidence: ConfidenceRecord | None = None


class RetrainStarted(_Event):
    kind: Literal["retrain_started"] = "retrain_started"
    epochs: int
    params: int
    baseline_params: int
    steps_per_epoch: int
    architecture: dict[str, Any]
    start_epoch: int = 1
    resumed: bool = False
    world_size: int = 1  #: processes (ranks) the retrain runs on
    global_batch_size: int | None = None  #: data.batch_size x world_size
    tuning: Tuning | None = None  #: what ``auto`` chose for the speed settings, and the timings


class RetrainEpochEnd(_Event):
    kind: Literal["retrain_epoch_end"] = "retrain_epoch_end"
    epoch: int
    epochs: int
    train_loss: float
    train_top1: float
    #: on the retrain's held-out validation share (``retrain.val_fraction``); None in older event files
    val_loss: float | None = None
    val_top1: float | None = None
    #: older event files only (the test set was read every epoch); now the test set is read once (RetrainDone)
    test_loss: float | None = None
    test_top1: float | None = None
    #: event files written before test-set selection was removed carry the best test top-1 so far; now None
    best_top1: float | None = None
    lr: float
    elapsed_s: float


class RetrainDone(_Event):
    kind: Literal["retrain_done"] = "retrain_done"
    epochs: int
    test_top1: float  #: measured once, on the final weights (older event files: the last epoch's)
    val_top1: float | None = None  #: the last epoch's validation top-1 (None in older event files)
    best_top1: float | None = None  #: older event files only (see RetrainEpochEnd)
    params: int
    stopped: bool = False
    weights: str = ""


class Error(_Event):
    kind: Literal["error"] = "error"
    message: str
    where: str | None = None


AnyEvent = (
    SearchStarted
    | Progress
    | Alphas
    | EpochEnd
    | Converged
    | Unstable
    | StageStart
    | StageEnd
    | SpaceWarning
    | State
    | SearchStopped
    | Suspended
    | ArchitectureDerived
    | RetrainStarted
    | RetrainEpochEnd
    | RetrainDone
    | Error
)
"""Any event, for type checkers and ``match``; :data:`Event` is the same union, tagged by ``kind`` for parsing."""

Event = Annotated[AnyEvent, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(Event)

#: Events after which the event file is fsynced: losing them would lose history.
DURABLE: tuple[type[_Event], ...] = (
    EpochEnd,
    SearchStopped,
    ArchitectureDerived,
    RetrainEpochEnd,
    RetrainDone,
    Error,
    Converged,
    StageStart,
    StageEnd,
)


def parse_event(line: str | dict[str, object]) -> AnyEvent:
    if isinstance(line, dict):
        return _ADAPTER.validate_python(line)
    return _ADAPTER.validate_json(line)
