"""The UI's handle on a run: where its events come from, where its commands go.

A run is always another process (core.api.handle: a detached worker, or a headless run started
elsewhere).  :class:`AttachedSession` follows its event file and its progress file on a thread and
steers it through its control file; closing the app (or its terminal, or its browser tab) leaves the
run untouched.  Events collect in an :class:`Inbox` that tells the UI when there is news.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from core.api.handle import RunHandle
from core.run.control import Control
from core.run.events import AnyEvent, Error, RetrainDone

if TYPE_CHECKING:
    from core.api.handle import RunDir

#: Seconds between reads of an attached run's event file.
FOLLOW_S = 0.25


class Inbox:
    """Events from another thread, and one notification per batch.

    ``notify`` is called (on the producing thread) when the first event lands in an empty,
    untaken inbox; more events pile up silently until the UI calls :meth:`take`. So a burst
    of progress events costs the UI one message, not one each.
    """

    def __init__(self, backlog: list[AnyEvent] | None = None) -> None:
        self._events: list[AnyEvent] = list(backlog or [])
        self._lock = threading.Lock()
        self._notify: Callable[[], None] | None = None
        self._pending = False

    def connect(self, notify: Callable[[], None]) -> None:
        with self._lock:
            self._notify, self._pending = notify, bool(self._events)
        if self._pending:
            notify()

    def put(self, event: AnyEvent) -> None:
        with self._lock:
            self._events.append(event)
            notify = self._notify if not self._pending else None
            self._pending = self._pending or notify is not None
        if notify is not None:
            notify()

    def take(self) -> list[AnyEvent]:
        with self._lock:
            out, self._events, self._pending = self._events, [], False
        return out


class Session:
    """Events in, requests out; requests go through the run's :class:`~core.run.control.Control`.

    ``local``: this app started (or took over) the run, so its screen offers the retrain."""

    run_dir: RunDir
    control: Control
    local: bool = False

    inbox: Inbox

    def connect(self, notify: Callable[[], None]) -> None:
        """Have ``notify`` called (from any thread) when events wait in :meth:`take`."""
        self.inbox.connect(notify)

    def take(self) -> list[AnyEvent]:
        """The events that arrived since the last call (on the UI thread)."""
        return self.inbox.take()

    def close(self) -> None:
        """The UI stops watching; the run goes on (it is another process)."""

    @property
    def running(self) -> bool:
        raise NotImplementedError

    def stop_now(self) -> None:
        self.control.request_stop()

    def stop_at(self, epoch: int) -> None:
        self.control.stop_at_epoch(epoch)

    def pause(self) -> None:
        self.control.pause()

    def cont(self) -> None:
        self.control.cont()

    def pause_requested(self) -> bool:
        """Whether a pause is asked for now (the engine confirms with a `state` event)."""
        return self.control.poll().paused


class AttachedSession(Session):
    """A run in another process: its events.jsonl and progress.json read as they change (on a thread),
    its control.json written.  ``owned``: this app started it (its screen offers the retrain)."""

    def __init__(self, run: Path | RunHandle, owned: bool = False) -> None:
        self.handle = run if isinstance(run, RunHandle) else RunHandle.attach(run)
        self.run_dir = self.handle.run_dir
        self.control = self.handle.control
        self.local = owned
        self.inbox = Inbox()
        self._finished = False
        self._progress_at = 0.0
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="presnet-follow", daemon=True)

    def start(self) -> AttachedSession:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()

    def suspend(self) -> bool:
        """Checkpoint and leave (resumable): the run's worker gets SIGTERM."""
        return self.handle.suspend()

    def _follow(self) -> None:
        while not self._closed.is_set():
            self.read()
            self._closed.wait(FOLLOW_S)

    def read(self) -> None:
        """Move what the files gained into the inbox (the follower thread's step)."""
        bad_before = self.handle.damaged_lines
        events = self.handle.events()
        if any(isinstance(e, RetrainDone | Error) for e in events):
            self._finished = True
        if self.handle.damaged_lines > bad_before:
            events.append(
                Error(
                    message=f"skipped {self.handle.damaged_lines - bad_before} damaged line(s) of "
                    f"{self.run_dir.events_file}"
                )
            )
        for e in events:
            self.inbox.put(e)
        self._read_progress()

    def _read_progress(self) -> None:
        """The newest step (the history file has none): one stat, and a read when it changed."""
        try:
            mtime = self.run_dir.progress_file.stat().st_mtime
        except FileNotFoundError:
            return
        if mtime == self._progress_at:
            return
        self._progress_at = mtime
        progress = self.handle.progress()
        if progress is not None:
            self.inbox.put(progress)

    @property
    def running(self) -> bool:
        """A worker writes the run (its lock is held), and no closing event has been read yet."""
        return not self._finished and self.handle.is_alive()
