"""The UI's handle on a run: where its events come from, where its commands go.

:class:`LocalSession` drives a job in this process (runner thread);
:class:`AttachedSession` watches a headless run by following its event file on a
thread and steers it through its control file -- detaching leaves that run untouched.
Either way events collect in an :class:`Inbox` that tells the UI when there is news.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from core.run.control import Control
from core.run.events import AnyEvent, Error, EventFollower, RetrainDone
from core.run.rundir import RunDir
from core.train.job import Job
from core.train.runner import Runner

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
    """Events in, requests out; requests go through a :class:`~core.run.control.Control` either way."""

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
        """The UI stops watching (a local run goes on; its runner is the app's to stop)."""

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


class LocalSession(Session):
    """A prepared job, started on a runner thread; past events of a resumed run come first."""

    local = True

    def __init__(self, job: Job) -> None:
        self.job = job
        self.run_dir = job.run_dir
        self.control = job.control
        self.inbox = Inbox(job.run_dir.events() if job.resume else [])
        job.bus.subscribe(self.inbox.put)
        self.runner = Runner(job)

    def start(self) -> LocalSession:
        self.runner.start()
        return self

    def interrupt(self) -> None:
        self.runner.interrupt()

    @property
    def running(self) -> bool:
        return self.runner.alive


class AttachedSession(Session):
    """A run in another process: read its events.jsonl as it grows (on a thread), write its control.json."""

    def __init__(self, path: Path) -> None:
        self.run_dir = RunDir.open(path)
        self.control = Control(self.run_dir.control_file)
        self.follower = EventFollower(self.run_dir.events_file)
        self.inbox = Inbox()
        self._finished = False
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="presnet-follow", daemon=True)

    def start(self) -> AttachedSession:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()

    def _follow(self) -> None:
        while not self._closed.is_set():
            self.read()
            self._closed.wait(FOLLOW_S)

    def read(self) -> None:
        """Move what the file gained into the inbox (the follower thread's step)."""
        bad_before = self.follower.bad_lines
        events = self.follower.poll()
        if any(isinstance(e, RetrainDone | Error) for e in events):
            self._finished = True
        if self.follower.bad_lines > bad_before:
            events.append(
                Error(
                    message=f"skipped {self.follower.bad_lines - bad_before} damaged line(s) of "
                    f"{self.run_dir.events_file}"
                )
            )
        for e in events:
            self.inbox.put(e)

    @property
    def running(self) -> bool:
        return not self._finished
