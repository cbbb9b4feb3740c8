"""A run in this process, to its end: what ``presnet run --headless`` does, and so what every detached
worker (:mod:`core.api.handle`) does.

The job runs on its runner thread; this (main) thread hands each event to the front end's callback and
turns signals into requests: SIGINT (Ctrl+C) and the preemption signals (SIGTERM, SIGUSR1 -- what SLURM's
``--signal`` sends -- and SIGHUP, a lost terminal) make the run checkpoint after the current step,
mid-epoch, and leave resumable, with a ``suspended`` event naming the signal.  The exit codes are part of
the interface (a job script tests them).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

from core.run.events import AnyEvent, QueueSink

if TYPE_CHECKING:  # torch
    from core.train.job import Job, JobResult

#: Exit codes of a run: done; failed (its error event says why); Ctrl+C; a preemption signal
#: (SIGTERM/SIGUSR1/SIGHUP: checkpoint written, resume with ``presnet resume RUN --headless``).
#: Bad input exits 2 before anything runs (the CLI's usage code).
EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_PREEMPTED = 0, 1, 130, 143
#: The signals that checkpoint and leave (SIGINT is Ctrl+C's, with its own code).
PREEMPT_SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP)
#: Seconds between two drains of the event queue.
POLL_S = 0.25


@dataclass(frozen=True)
class WorkerOutcome:
    """How a run in this process ended: its result, its exit code, and the signal that ended it early."""

    result: JobResult
    exit_code: int
    signal: str | None
    world_size: int


def run_to_end(
    job: Job,
    on_event: Callable[[AnyEvent], None],
    on_signal: Callable[[str], None] | None = None,
) -> WorkerOutcome:
    """Run a prepared job to its end, ``on_event`` called on this thread for every event.

    ``on_signal(name)`` is told when a signal asked the run to leave (to print a line)."""
    from core.train.runner import Runner

    sink = QueueSink()
    job.bus.subscribe(sink)
    caught: list[str] = []

    def leave(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if not caught:  # the first signal decides; a second one changes nothing (the checkpoint is on its way)
            caught.append(name)
            job.control.interrupt(by="interrupt" if signum == signal.SIGINT else name)
            if on_signal is not None:
                on_signal(name)

    runner = Runner(job).start()
    restore = _install(leave)
    try:
        while True:
            alive = runner.alive  # read before draining: everything emitted before the runner ended is drained
            for event in sink.drain():
                on_event(event)
            if not alive:
                break
            time.sleep(POLL_S)
    finally:
        restore()
    result = runner.wait()
    assert result is not None
    code = EXIT_OK if result.status == "done" else EXIT_FAILED
    if result.status == "interrupted":
        code = EXIT_INTERRUPTED if caught in ([], ["SIGINT"]) else EXIT_PREEMPTED
    return WorkerOutcome(result, code, caught[0] if caught else None, job.coll.world_size)


def _install(handler: Callable[[int, FrameType | None], None]) -> Callable[[], None]:
    """Handle SIGINT and the preemption signals (main thread only: elsewhere, nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    signals = (signal.SIGINT, *PREEMPT_SIGNALS)
    before = {s: signal.signal(s, handler) for s in signals}

    def restore() -> None:
        for s, h in before.items():
            signal.signal(s, h)

    return restore
