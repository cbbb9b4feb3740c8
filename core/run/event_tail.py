"""The last events of an event file, read from its end: a status line polled every second must not
re-read a days-long history, and must go on past a torn or damaged line."""

from __future__ import annotations

import os
from pathlib import Path

from core.run.events import AnyEvent, parse_lines


def tail_events(path: Path, nbytes: int = 256 * 1024) -> list[AnyEvent]:
    """The complete events in the last ``nbytes`` of an event file: enough for a status line
    without reading a days-long history every second."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - nbytes))
            data = f.read()
    except OSError:
        return []
    lines = data.split(b"\n")
    lines.pop()  # a torn (or empty) last piece
    if size > nbytes and lines:
        lines.pop(0)  # the first piece is cut in the middle
    return parse_lines(lines)[0]  # a damaged line costs this status line a detail, nothing else
