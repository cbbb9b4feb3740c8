"""Typed events: the only way the engine talks to a front end.

Every event is a pydantic model with a ``kind`` tag, serialisable to one JSON line.
The same stream feeds the TUI (an in-process queue), ``events.jsonl`` in the run
directory (the durable record the user steers by) and the console.
"""

from __future__ import annotations

import errno
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, Field, TypeAdapter

from core.errors import PresnetError
from core.faults import ENV as FAULT_ENV
from core.faults import fault_point
from core.io import write_failed
from core.run.readout import PerturbationReadout
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
    #: a progressive search where it (re)starts: {"stage", "stages", "blocks" (searched so far), "frozen"}
    progressive: dict[str, Any] | None = None
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
    confidence: dict[str, Any] | None = None


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
_ADAPTER: TypeAdapter = TypeAdapter(Event)

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


def parse_event(line: str | dict) -> AnyEvent:
    if isinstance(line, dict):
        return _ADAPTER.validate_python(line)
    return _ADAPTER.validate_json(line)


Subscriber = Callable[[AnyEvent], None]
S = TypeVar("S", bound=Subscriber)


class EventBus:
    """Fan-out to any number of subscribers, called in the emitting (engine) thread.

    A subscriber's exception reaches the emitter: a failed write to ``events.jsonl``
    (a full disk) must end the run with an error, not lose history silently.
    """

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: S) -> S:
        with self._lock:
            self._subscribers.append(fn)
        return fn

    def unsubscribe(self, fn: Subscriber) -> None:
        with self._lock:
            self._subscribers.remove(fn)

    def emit(self, event: AnyEvent) -> None:
        with self._lock:
            subs = list(self._subscribers)
        for fn in subs:
            fn(event)


class QueueSink:
    """For a UI thread: events land in a queue it drains on a timer."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()

    def __call__(self, event: AnyEvent) -> None:
        self.queue.put(event)

    def drain(self, limit: int = 10_000) -> list[AnyEvent]:
        out: list[AnyEvent] = []
        while len(out) < limit:
            try:
                out.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return out


class JsonlSink:
    """Appends one JSON line per event; fsyncs after the events that make up the history.

    ``offset`` is the file size after the last complete line, which a checkpoint
    records so a resume can cut the file back to exactly what the checkpoint knew.
    """

    def __init__(self, path: Path, skip: tuple[type[_Event], ...] = (Progress,)) -> None:
        self.path = Path(path)
        self.skip = skip
        self._f = open(self.path, "ab", buffering=0)  # unbuffered: a failed write leaves no bytes to flush later
        self.offset = self._f.tell()

    def __call__(self, event: AnyEvent) -> None:
        if isinstance(event, self.skip):
            return
        data = (event.model_dump_json() + "\n").encode()
        try:
            if os.environ.get(FAULT_ENV) is not None:  # test-only: a kill in mid-line (core.faults)
                epoch = getattr(event, "epoch", None)
                self._write(data[: len(data) // 2])
                fault_point("event", event.kind if epoch is None else f"{event.kind}-{epoch}")
                data = data[len(data) // 2 :]
            self._write(data)
            if isinstance(event, DURABLE):
                os.fsync(self._f.fileno())
        except OSError as err:  # a full or failing disk: no torn line left behind, one clear error
            self._cut_back()
            raise write_failed(self.path, err, "the history up to the last complete line is kept") from None
        self.offset = os.fstat(self._f.fileno()).st_size

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:  # a raw write may take part of the bytes (a disk filling up): the rest, or the error
            n = self._f.write(view)
            if not n:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            view = view[n:]

    def _cut_back(self) -> None:
        """After a failed write: cut the file back to the last complete line."""
        try:
            os.truncate(self.path, self.offset)
        except OSError:
            return  # the disk refuses even that: a resume cuts the file back to its checkpoint's offset

    def close(self) -> None:
        self._f.close()


def parse_lines(lines: Iterable[bytes]) -> tuple[list[AnyEvent], int]:
    """The events of complete lines, for a reader that must go on past a damaged one (a watcher, a
    status line): the events, and how many non-empty lines were not events."""
    out: list[AnyEvent] = []
    bad = 0
    for line in lines:
        if line.strip():
            try:
                out.append(parse_event(line.decode()))
            except ValueError:
                bad += 1
    return out, bad


def read_events(path: Path) -> list[AnyEvent]:
    """All events of a file; a torn last line (a kill mid-write) is left out, any other bad line is an error."""
    events = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.endswith(b"\n"):
                break
            try:
                events.append(parse_event(raw.decode()))
            except ValueError as err:
                raise PresnetError(
                    f"line {number} is not a presnet event ({err.__class__.__name__})",
                    where=str(path),
                    hint="the file was edited or damaged; restore it",
                ) from None
    return events


def repair_events(path: Path, offset: int | None = None) -> None:
    """Cut the file to ``offset`` (a checkpoint's view), or to its last complete line.

    A ``suspended`` line past ``offset`` is kept: the work after the checkpoint is redone, but that
    the run was suspended there (and by what) is history, which a resume must not erase."""
    path = Path(path)
    if not path.exists():
        return
    size = path.stat().st_size
    if offset is None:
        with open(path, "rb") as f:
            data = f.read()
        offset = data.rfind(b"\n") + 1
    if offset >= size:
        return
    with open(path, "rb") as f:
        f.seek(offset)
        kept = b"".join(_suspended_lines(f.read()))
    os.truncate(path, offset)
    with open(path, "ab") as f:
        f.write(kept)


def _suspended_lines(tail: bytes) -> list[bytes]:
    """The complete ``suspended`` lines of a cut-away tail, as they were written (the last piece of the
    split is empty or a torn line; a line that is not an event is dropped with the rest)."""
    lines = tail.split(b"\n")[:-1]
    return [line + b"\n" for line in lines if [type(e) for e in parse_lines([line])[0]] == [Suspended]]


class EventFollower:
    """Reads an event file as it grows (attach to a headless run)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._pos = 0
        self._partial = b""
        self.bad_lines = 0

    def skip(self, offset: int) -> None:
        """Start reading at ``offset`` (the end of a history the reader does not want)."""
        self._pos, self._partial = offset, b""

    def poll(self) -> list[AnyEvent]:
        if not self.path.exists():
            return []
        size = self.path.stat().st_size
        if size < self._pos:  # cut back by a resume: read again from the start
            self._pos, self._partial = 0, b""
        with open(self.path, "rb") as f:
            f.seek(self._pos)
            chunk = f.read()
        self._pos += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        out, bad = parse_lines(lines)
        self.bad_lines += bad  # counted, not fatal: a watcher must not die of one damaged line
        return out
