"""The UI's handle on a run: where its events come from, where its commands go.

:class:`LocalSession` drives a job in this process (runner thread + queue);
:class:`AttachedSession` watches a headless run by following its event file and
steers it through its control file -- detaching leaves that run untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.control import read_control, write_control
from core.events import Error, EventFollower, QueueSink
from core.job import Job, JobResult
from core.rundir import RunDir
from core.runner import Runner


class Session:
    run_dir: RunDir
    local: bool = False

    def poll(self) -> list[Any]:
        raise NotImplementedError

    def stop_now(self) -> None:
        raise NotImplementedError

    def stop_at(self, epoch: int) -> None:
        raise NotImplementedError

    def pause(self) -> None:
        raise NotImplementedError

    def resume(self) -> None:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        raise NotImplementedError

    def pause_requested(self) -> bool:
        """Whether a pause is asked for now (the engine confirms with a `state` event)."""
        raise NotImplementedError

    def result(self) -> JobResult | None:
        return None


class LocalSession(Session):
    """A prepared job, started on a runner thread; past events of a resumed run come first."""

    local = True

    def __init__(self, job: Job) -> None:
        self.job = job
        self.run_dir = job.run_dir
        self.sink = QueueSink()
        self._backlog = list(job.run_dir.events()) if job.resume else []
        job.bus.subscribe(self.sink)
        self.runner = Runner(job)

    def start(self) -> "LocalSession":
        self.runner.start()
        return self

    def poll(self) -> list[Any]:
        backlog, self._backlog = self._backlog, []
        return backlog + self.sink.drain()

    def stop_now(self) -> None:
        self.runner.request_stop()

    def stop_at(self, epoch: int) -> None:
        self.runner.stop_at_epoch(epoch)

    def pause(self) -> None:
        self.runner.pause()

    def resume(self) -> None:
        self.runner.resume()

    def interrupt(self) -> None:
        self.runner.interrupt()

    def pause_requested(self) -> bool:
        return self.runner.control.poll().paused

    @property
    def running(self) -> bool:
        return self.runner.alive

    def result(self) -> JobResult | None:
        return self.runner.wait(0) if not self.runner.alive else self.runner.result


class AttachedSession(Session):
    """A run in another process: read its events.jsonl as it grows, write its control.json."""

    def __init__(self, path: Path) -> None:
        self.run_dir = RunDir.open(path)
        self.follower = EventFollower(self.run_dir.events_file)
        self._finished = False

    def poll(self) -> list[Any]:
        bad_before = self.follower.bad_lines
        events = self.follower.poll()
        if any(e.kind in ("retrain_done", "error") for e in events):
            self._finished = True
        if self.follower.bad_lines > bad_before:
            events.append(Error(message=f"skipped {self.follower.bad_lines - bad_before} damaged line(s) of "
                                        f"{self.run_dir.events_file}"))
        return events

    def _update(self, **changes: Any) -> None:
        state = read_control(self.run_dir.control_file)
        for k, v in changes.items():
            setattr(state, k, v)
        write_control(self.run_dir.control_file, state)

    def stop_now(self) -> None:
        self._update(stop=True, paused=False)

    def stop_at(self, epoch: int) -> None:
        self._update(stop_at_epoch=epoch)

    def pause(self) -> None:
        self._update(paused=True)

    def resume(self) -> None:
        self._update(paused=False)

    def pause_requested(self) -> bool:
        return read_control(self.run_dir.control_file).paused

    @property
    def running(self) -> bool:
        return not self._finished
