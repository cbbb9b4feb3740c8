"""What the live-progress channel costs a training step (issue 29): the engine's progress clock and the
``progress.json`` an attached window reads (core.run.progress).

Measured directly rather than as the difference of two training loops (a 0.1 % effect drowns in a loaded
machine's noise): the cost of a tick that emits nothing, and of one that emits a progress event and
replaces the file; a step pays the first always and the second once per :data:`PROGRESS_INTERVAL_S` at
most.  ``ratio`` is that cost over the step time it is given (the benchmark's plain step).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from core.run.events import EventBus
from core.run.progress import ProgressFile
from core.run.rundir import RunDir
from core.train.loop import PROGRESS_INTERVAL_S, ProgressClock


def bench_progress(step_s: float, n: int = 400, rounds: int = 5) -> dict[str, float | list[float]]:
    """Seconds per quiet tick and per emitting tick (median of ``rounds`` rounds of ``n``), and the share
    of a ``step_s`` step they take together."""
    quiet, emitting = [], []
    with tempfile.TemporaryDirectory() as tmp:
        bus = EventBus()
        sink = bus.subscribe(ProgressFile(RunDir(Path(tmp)).progress_file))
        clock = ProgressClock(bus, batch_size=32)
        for _ in range(rounds):
            t0 = time.perf_counter()
            for i in range(n):
                clock.last = time.monotonic()  # inside the interval: nothing is emitted
                clock.tick("search", 1, 10, 1 + i % 50, 100)
            quiet.append((time.perf_counter() - t0) / n)
            t0 = time.perf_counter()
            for i in range(n):
                clock.last, sink._last = float("-inf"), float("-inf")  # emit and write every time
                clock.tick("search", 1, 10, 1 + i % 50, 100)
            emitting.append((time.perf_counter() - t0) / n)
        writes = sink.writes
    quiet_s, emit_s = statistics.median(quiet), statistics.median(emitting)
    per_step = quiet_s + emit_s * min(1.0, step_s / PROGRESS_INTERVAL_S)
    return {
        "quiet_tick_s": quiet_s,
        "emitting_tick_s": emit_s,
        "spread_emitting_s": [min(emitting), max(emitting)],
        "writes": writes,
        "step_s": step_s,
        "per_step_s": per_step,
        "ratio": per_step / step_s,
    }
