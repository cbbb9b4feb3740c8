"""The UI's handle on a run: where its events come from, where its commands go.

:class:`LocalSession` drives a job in this process (runner thread + queue);
:class:`AttachedSession` watches a headless run by following its event file and
steers it through its control file -- detaching leaves that run untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.control import Control
from core.events import Error, EventFollower, QueueSink
from core.job import Job
from core.rundir import RunDir
from core.runner import Runner


class Session:
    """Events in, requests out; requests go through a :class:`~core.control.Control` either way."""

    run_dir: RunDir
    control: Control
    local: bool = False

    def poll(self) -> list[Any]:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        raise NotImplementedError

    def stop_now(self) -> None:
        self.control.request_stop()

    def stop_at(self, epoch: int) -> None:
        self.control.stop_at_epoch(epoch)

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

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
        self.sink = QueueSink()
        self._backlog = list(job.run_dir.events()) if job.resume else []
        job.bus.subscribe(self.sink)
        self.runner = Runner(job)

    def start(self) -> LocalSession:
        self.runner.start()
        return self

    def poll(self) -> list[Any]:
        backlog, self._backlog = self._backlog, []
        return backlog + self.sink.drain()

    def interrupt(self) -> None:
        self.runner.interrupt()

    @property
    def running(self) -> bool:
        return self.runner.alive


class AttachedSession(Session):
    """A run in another process: read its events.jsonl as it grows, write its control.json."""

    def __init__(self, path: Path) -> None:
        self.run_dir = RunDir.open(path)
        self.control = Control(self.run_dir.control_file)
        self.follower = EventFollower(self.run_dir.events_file)
        self._finished = False

    def poll(self) -> list[Any]:
        bad_before = self.follower.bad_lines
        events = self.follower.poll()
        if any(e.kind in ("retrain_done", "error") for e in events):
            self._finished = True
        if self.follower.bad_lines > bad_before:
            events.append(
                Error(
                    message=f"skipped {self.follower.bad_lines - bad_before} damaged line(s) of "
                    f"{self.run_dir.events_file}"
                )
            )
        return events

    @property
    def running(self) -> bool:
        return not self._finished
