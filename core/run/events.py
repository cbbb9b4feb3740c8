"""Typed events: the only way the engine talks to a front end.

Every event is a pydantic model with a ``kind`` tag, serialisable to one JSON line
(:mod:`core.run.event_types`, re-exported here).  The same stream feeds the TUI (an in-process
queue), ``events.jsonl`` in the run directory (the durable record the user steers by) and the
console: the bus fans an event out in the engine's thread; the file is appended one line per event
(fsynced after the events that make up the history), read back whole or followed as it grows, and
cut back to a checkpoint's offset on resume.
"""

from __future__ import annotations

import errno
import os
import queue
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from core.errors import PresnetError
from core.faults import ENV as FAULT_ENV
from core.faults import fault_point
from core.io import write_failed
from core.run.event_types import DURABLE as DURABLE
from core.run.event_types import Alphas as Alphas
from core.run.event_types import AlphaSnapshot as AlphaSnapshot
from core.run.event_types import AnyEvent as AnyEvent
from core.run.event_types import ArchitectureDerived as ArchitectureDerived
from core.run.event_types import ConfidenceRecord as ConfidenceRecord
from core.run.event_types import Converged as Converged
from core.run.event_types import EpochEnd as EpochEnd
from core.run.event_types import Error as Error
from core.run.event_types import Event as Event
from core.run.event_types import PerturbationReadout as PerturbationReadout
from core.run.event_types import Progress as Progress
from core.run.event_types import ProgressiveWhere as ProgressiveWhere
from core.run.event_types import RetrainDone as RetrainDone
from core.run.event_types import RetrainEpochEnd as RetrainEpochEnd
from core.run.event_types import RetrainStarted as RetrainStarted
from core.run.event_types import SearchStarted as SearchStarted
from core.run.event_types import SearchStopped as SearchStopped
from core.run.event_types import SpaceWarning as SpaceWarning
from core.run.event_types import StageEnd as StageEnd
from core.run.event_types import StageStart as StageStart
from core.run.event_types import State as State
from core.run.event_types import StopReason as StopReason
from core.run.event_types import Suspended as Suspended
from core.run.event_types import Tuning as Tuning
from core.run.event_types import Unstable as Unstable
from core.run.event_types import _Event
from core.run.event_types import parse_event as parse_event

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
        self.queue: queue.Queue[AnyEvent] = queue.Queue()

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
