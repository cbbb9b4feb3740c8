"""A run's state, folded from its event stream: the one reducer every view shares.

The TUI's model, the headless view's lines and :mod:`core.api.derive` all need the same facts of a
run (its blocks, epochs, alphas, frozen choices, stop reason, ...).  Each event type has one small
function here, registered by its class with :func:`on`; :func:`reduce` dispatches by the event's
type, so a new event (or a new field) is one function, not a branch in three ``match`` blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from core.run.events import (
    Alphas,
    AnyEvent,
    ArchitectureDerived,
    Converged,
    EpochEnd,
    Error,
    Progress,
    RetrainDone,
    RetrainEpochEnd,
    RetrainStarted,
    SearchStarted,
    SearchStopped,
    SpaceWarning,
    StageEnd,
    StageStart,
    State,
    StopReason,
    Suspended,
    Unstable,
)
from core.run.payloads import ConfidenceRecord


@dataclass
class RunState:
    """What the events of one run have said so far (mutable: :func:`reduce` updates it in place)."""

    block_ids: list[int] = field(default_factory=list)
    stages: dict[str, int] = field(default_factory=dict)
    candidates: dict[str, list[str]] = field(default_factory=dict)
    epochs: int = 0
    device: str = ""
    phase: str = "starting"
    epoch: int = 0
    step: int = 0
    steps_per_epoch: int = 0
    images_per_s: float = 0.0
    eta_s: float | None = None
    paused: bool = False
    search_done: bool = False
    stop_reason: StopReason | None = None
    epochs_done: int = 0
    converged_at: int | None = None
    unstable: dict[tuple[int, str], int] = field(default_factory=dict)
    alphas: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    #: the last epoch's per-decision change (total variation), block -> decision -> tv
    change: dict[str, dict[str, float]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    architecture: dict[str, Any] | None = None
    arch_params: int | None = None
    baseline_params: int | None = None
    confidence: ConfidenceRecord | None = None  #: the derived architecture's, as architecture_derived carried it
    retrain_epochs: int = 0
    retrain_epoch: int = 0  #: retrain epochs done (the retrain's own count, beside the search's ``epochs_done``)
    retrain_done: RetrainDone | None = None
    errors: list[str] = field(default_factory=list)
    stopped: SearchStopped | None = None  #: how the search ended: which rule fired, the architecture's epoch
    arch_epoch: int | None = None  #: the epoch the stopped search's architecture comes from (a rollback's)
    suspended: Suspended | None = None  #: the worker checkpointed and left (a signal, Ctrl+C, a stop): resumable
    #: every ended search epoch's alphas (what derive picks from), and what derive needs besides
    epoch_ends: dict[int, EpochEnd] = field(default_factory=dict)
    arch_steps: dict[int, int] = field(default_factory=dict)  #: epoch -> architecture steps taken by then
    search_config: dict[str, Any] = field(default_factory=dict)
    num_classes: int | None = None
    #: block -> decision -> settled, as the search's stop criterion last reported it (epoch_end)
    settled: dict[str, dict[str, bool]] = field(default_factory=dict)
    expected_cost: tuple[float, str] | None = None  #: cost-aware search: E[c] at the last epoch end, and its metric
    batch_size: int = 0
    live_progress: bool = False  # progress events arrive (a local run), or not (an attached one)
    #: progressive search: "stage 2/4", and the decisions frozen so far (block -> decision -> choice)
    stage: str = ""
    frozen: dict[str, dict[str, str]] = field(default_factory=dict)
    stage_ends: list[StageEnd] = field(default_factory=list)  #: what derive needs to place frozen choices
    _epoch_clock: tuple[int, float] | None = None  # (epoch, elapsed_s) of the last epoch end

    def rate_from_epochs(self, epoch: int, epochs: int, elapsed_s: float) -> None:
        """Rate and ETA from two epoch ends' elapsed times, for a view with no progress events.

        ``events.jsonl`` leaves progress events out, so an attached TUI would show "0 img/s" forever.
        """
        previous, self._epoch_clock = self._epoch_clock, (epoch, elapsed_s)
        if self.live_progress or previous is None or epoch <= previous[0] or elapsed_s <= previous[1]:
            return
        per_epoch = (elapsed_s - previous[1]) / (epoch - previous[0])
        if self.batch_size and self.steps_per_epoch:
            self.images_per_s = self.steps_per_epoch * self.batch_size / per_epoch
        self.eta_s = per_epoch * max(0, epochs - epoch)


S = TypeVar("S", bound=RunState)
E = TypeVar("E", bound=BaseModel)
_REDUCERS: dict[type[BaseModel], Callable[[RunState, Any], None]] = {}


def on(kind: type[E]) -> Callable[[Callable[[RunState, E], None]], Callable[[RunState, E], None]]:
    """Register the function that folds events of type ``kind`` (one per type)."""

    def register(fn: Callable[[RunState, E], None]) -> Callable[[RunState, E], None]:
        assert kind not in _REDUCERS, f"{kind.__name__} has a reducer already"
        _REDUCERS[kind] = fn
        return fn

    return register


def reduce(state: S, event: AnyEvent) -> S:
    """Fold one event into ``state`` (in place) and return it; an event type with no reducer changes nothing."""
    fn = _REDUCERS.get(type(event))
    if fn is not None:
        fn(state, event)
    return state


def fold(events: Iterable[AnyEvent], state: S | None = None) -> RunState:
    """A run's state from its events (e.g. a run directory's ``events.jsonl``)."""
    out: RunState = RunState() if state is None else state
    for e in events:
        reduce(out, e)
    return out


# -- one function per event type -------------------------------------------------------------
@on(SearchStarted)
def _search_started(s: RunState, e: SearchStarted) -> None:
    s.block_ids, s.stages, s.candidates = e.block_ids, e.stages, e.candidates
    s.epochs, s.device = e.epochs, e.device
    s.steps_per_epoch = e.steps_per_epoch
    s.batch_size = e.config.get("data", {}).get("batch_size", 0)
    s.search_config, s.num_classes = e.config, e.num_classes
    if e.resumed:  # the epochs the resume redoes are written again
        s.epoch_ends = {k: v for k, v in s.epoch_ends.items() if k < e.start_epoch}
        s.stage_ends = [x for x in s.stage_ends if x.epoch < e.start_epoch]
    s.search_done, s.stop_reason, s.suspended, s.stopped, s.arch_epoch = False, None, None, None, None
    s._epoch_clock = None
    if e.progressive:  # blocks appear as their stage starts; frozen ones keep their choice
        s.stage = f"stage {e.progressive.stage}/{e.progressive.stages}"
        s.block_ids = list(e.progressive.blocks)
        s.frozen = {b: dict(d) for b, d in e.progressive.frozen.items()}


@on(Progress)
def _progress(s: RunState, e: Progress) -> None:
    s.live_progress = True
    s.phase, s.epoch, s.step = e.phase, e.epoch, e.step
    s.steps_per_epoch, s.images_per_s, s.eta_s = e.steps_per_epoch, e.images_per_s, e.eta_s
    if e.phase == "retrain":
        s.retrain_epochs = e.epochs


@on(EpochEnd)
def _epoch_end(s: RunState, e: EpochEnd) -> None:
    s.epochs_done, s.epochs = e.epoch, e.epochs
    s.phase, s.epoch, s.step = e.phase, e.epoch, s.steps_per_epoch
    s.alphas = e.alphas
    s.epoch_ends[e.epoch] = e
    if e.expected_cost is not None:
        s.expected_cost = (e.expected_cost, e.cost_metric or "flops")
    s.change = e.alpha_change
    if e.phase == "search":
        s.settled = e.settled
    s.rate_from_epochs(e.epoch, e.epochs, e.elapsed_s)


@on(Alphas)
def _alphas(s: RunState, e: Alphas) -> None:
    s.alphas = e.alphas
    s.arch_steps[e.epoch] = max(s.arch_steps.get(e.epoch, 0), e.arch_step)


@on(State)
def _state(s: RunState, e: State) -> None:
    s.paused = e.state == "paused"


@on(Converged)
def _converged(s: RunState, e: Converged) -> None:
    s.converged_at = e.epoch


@on(Unstable)
def _unstable(s: RunState, e: Unstable) -> None:
    s.unstable[(e.block, e.decision)] = e.epoch


@on(StageStart)
def _stage_start(s: RunState, e: StageStart) -> None:
    s.stage, s.block_ids = f"stage {e.stage}/{e.stages}", list(e.blocks)


@on(StageEnd)
def _stage_end(s: RunState, e: StageEnd) -> None:
    s.stage_ends.append(e)
    for block, decisions in e.frozen.items():
        s.frozen.setdefault(block, {}).update(decisions)


@on(SpaceWarning)
def _space_warning(s: RunState, e: SpaceWarning) -> None:
    s.warnings.append(e.message)


@on(SearchStopped)
def _search_stopped(s: RunState, e: SearchStopped) -> None:
    s.search_done, s.stop_reason, s.epochs_done = True, e.reason, e.epoch
    s.stopped, s.arch_epoch = e, e.architecture_epoch


@on(ArchitectureDerived)
def _architecture_derived(s: RunState, e: ArchitectureDerived) -> None:
    s.architecture, s.arch_params, s.confidence = e.architecture, e.params, e.confidence


@on(RetrainStarted)
def _retrain_started(s: RunState, e: RetrainStarted) -> None:
    # The header counts the retrain's own epochs from here, and no longer shows the search's rate and ETA.
    s.phase, s.epoch, s.step, s.images_per_s, s.eta_s = "retrain", e.start_epoch - 1, 0, 0.0, None
    s.architecture, s.arch_params = e.architecture, e.params
    s.baseline_params, s.retrain_epochs = e.baseline_params, e.epochs
    s.retrain_epoch, s.suspended = e.start_epoch - 1, None
    s.steps_per_epoch = e.steps_per_epoch
    s._epoch_clock = None


@on(RetrainEpochEnd)
def _retrain_epoch_end(s: RunState, e: RetrainEpochEnd) -> None:
    s.epoch, s.step, s.retrain_epochs = e.epoch, s.steps_per_epoch, e.epochs
    s.retrain_epoch = e.epoch
    s.rate_from_epochs(e.epoch, e.epochs, e.elapsed_s)


@on(RetrainDone)
def _retrain_done(s: RunState, e: RetrainDone) -> None:
    s.retrain_done = e


@on(Suspended)
def _suspended(s: RunState, e: Suspended) -> None:
    s.suspended = e


@on(Error)
def _error(s: RunState, e: Error) -> None:
    s.errors.append(e.message)
