"""The live progress of a run, for a watcher in another process: ``progress.json``, replaced atomically.

Progress events are too frequent for the history (``events.jsonl`` skips them), yet an attached TUI
wants the step, images/s and ETA as an in-process one gets them.  So the newest one is kept in a small
file, rewritten by rename (a reader sees the old or the new, never half) and at most every
:data:`MIN_INTERVAL_S` seconds; not fsynced, since it is a view, not history.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from core.run.events import AnyEvent, Progress

#: At most this many seconds between two writes (the engine emits progress every 0.5 s anyway).
MIN_INTERVAL_S = 0.2


class ProgressFile:
    """A bus subscriber: the latest :class:`Progress` into ``path`` (other events pass by)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._tmp = self.path.with_name(f".{self.path.name}.tmp")
        self._last = float("-inf")
        self.writes = 0
        self.failed = 0  #: writes a full disk refused (a view only: the run goes on)

    def __call__(self, event: AnyEvent) -> None:
        if not isinstance(event, Progress):
            return
        now = time.monotonic()
        if now - self._last < MIN_INTERVAL_S and event.step != event.steps_per_epoch:
            return
        self._last = now
        try:
            self._tmp.write_text(event.model_dump_json())
            os.replace(self._tmp, self.path)
        except OSError:  # a full disk: the next history write (event, checkpoint) stops the run and says so
            self.failed += 1
            return
        self.writes += 1


def read_progress(path: Path) -> Progress | None:
    """The newest progress a run wrote, or None (no file yet, or one from an older presnet)."""
    try:
        return Progress.model_validate_json(Path(path).read_bytes())
    except (OSError, ValueError):
        return None
