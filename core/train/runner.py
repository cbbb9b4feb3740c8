"""A job in a background thread.

Front ends (the TUI, the headless CLI) steer it through its shared :class:`Control`
(stop, stop at an epoch, pause, interrupt) from their own thread and read events from
a queue; nothing here blocks them except :meth:`wait`.
"""

from __future__ import annotations

import threading

from core.run.control import Control
from core.run.events import Error
from core.train.job import Job, JobResult


class Runner:
    def __init__(self, job: Job) -> None:
        self.job = job
        self.control: Control = job.control
        self.result: JobResult | None = None
        self._thread = threading.Thread(target=self._main, name="presnet-engine", daemon=True)

    def _main(self) -> None:
        try:
            self.result = self.job.run()
        except BaseException as err:  # Job.run reports its own errors; this is the last line of defence
            self.result = JobResult("error", str(self.job.run_dir.path), message=f"{err.__class__.__name__}: {err}")
            self.job.bus.emit(Error(message=self.result.message or ""))

    def start(self) -> Runner:
        self._thread.start()
        return self

    def interrupt(self) -> None:
        """Checkpoint after the current step and leave; the run stays resumable."""
        self.control.interrupt()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> JobResult | None:
        self._thread.join(timeout)
        return None if self._thread.is_alive() else self.result
