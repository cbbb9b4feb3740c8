"""Typed events: the only way the engine talks to a front end.

Every event is a pydantic model with a ``kind`` tag, serialisable to one JSON line.
The same stream feeds the TUI (an in-process queue), ``events.jsonl`` in the run
directory (the durable record the user steers by) and the console.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from core.errors import PresnetError

#: {"<block id>": {"kernel": {"3": p, "5": p}, "activation": {"relu": p, ...}}}
AlphaSnapshot = dict[str, dict[str, dict[str, float]]]


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


class State(_Event):
    kind: Literal["state"] = "state"
    state: Literal["running", "paused"]
    epoch: int


class SearchStopped(_Event):
    kind: Literal["search_stopped"] = "search_stopped"
    epoch: int
    reason: Literal["completed", "user", "converged", "error"]
    elapsed_s: float = 0.0


class ArchitectureDerived(_Event):
    kind: Literal["architecture"] = "architecture"
    epoch: int
    architecture: dict[str, Any]
    params: int
    path: str


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


class RetrainEpochEnd(_Event):
    kind: Literal["retrain_epoch_end"] = "retrain_epoch_end"
    epoch: int
    epochs: int
    train_loss: float
    train_top1: float
    test_loss: float
    test_top1: float
    best_top1: float
    lr: float
    elapsed_s: float


class RetrainDone(_Event):
    kind: Literal["retrain_done"] = "retrain_done"
    epochs: int
    test_top1: float
    best_top1: float
    params: int
    stopped: bool = False
    weights: str = ""


class Error(_Event):
    kind: Literal["error"] = "error"
    message: str
    where: str | None = None


Event = Annotated[
    SearchStarted
    | Progress
    | Alphas
    | EpochEnd
    | Converged
    | Unstable
    | State
    | SearchStopped
    | ArchitectureDerived
    | RetrainStarted
    | RetrainEpochEnd
    | RetrainDone
    | Error,
    Field(discriminator="kind"),
]
_ADAPTER: TypeAdapter = TypeAdapter(Event)

#: Events after which the event file is fsynced: losing them would lose history.
DURABLE = {"epoch_end", "search_stopped", "architecture", "retrain_epoch_end", "retrain_done", "error", "converged"}


def parse_event(line: str | dict) -> Any:
    if isinstance(line, dict):
        return _ADAPTER.validate_python(line)
    return _ADAPTER.validate_json(line)


Subscriber = Callable[[Any], None]


class EventBus:
    """Fan-out to any number of subscribers, called in the emitting (engine) thread.

    A subscriber's exception reaches the emitter: a failed write to ``events.jsonl``
    (a full disk) must end the run with an error, not lose history silently.
    """

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: Subscriber) -> Subscriber:
        with self._lock:
            self._subscribers.append(fn)
        return fn

    def unsubscribe(self, fn: Subscriber) -> None:
        with self._lock:
            self._subscribers.remove(fn)

    def emit(self, event: Any) -> None:
        with self._lock:
            subs = list(self._subscribers)
        for fn in subs:
            fn(event)


class QueueSink:
    """For a UI thread: events land in a queue it drains on a timer."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()

    def __call__(self, event: Any) -> None:
        self.queue.put(event)

    def drain(self, limit: int = 10_000) -> list[Any]:
        out = []
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

    def __init__(self, path: Path, skip: tuple[str, ...] = ("progress",)) -> None:
        self.path = Path(path)
        self.skip = set(skip)
        self._f = open(self.path, "ab")
        self.offset = self._f.tell()

    def __call__(self, event: Any) -> None:
        if event.kind in self.skip:
            return
        data = (event.model_dump_json() + "\n").encode()
        self._f.write(data)
        self._f.flush()
        if event.kind in DURABLE:
            os.fsync(self._f.fileno())
        self.offset = self._f.tell()

    def close(self) -> None:
        self._f.close()


def read_events(path: Path) -> list[Any]:
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
    """Cut the file to ``offset`` (a checkpoint's view), or to its last complete line."""
    path = Path(path)
    if not path.exists():
        return
    size = path.stat().st_size
    if offset is None:
        with open(path, "rb") as f:
            data = f.read()
        offset = data.rfind(b"\n") + 1
    if offset < size:
        os.truncate(path, offset)


class EventFollower:
    """Reads an event file as it grows (attach to a headless run)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._pos = 0
        self._partial = b""
        self.bad_lines = 0

    def poll(self) -> list[Any]:
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
        out = []
        for line in lines:
            if line.strip():
                try:
                    out.append(parse_event(line.decode()))
                except ValueError:
                    self.bad_lines += 1  # counted, not fatal: a watcher must not die of one damaged line
        return out
