"""Whether a full-screen UI can be drawn here.

Without a terminal on both ends (nohup, cron, a pipe, CI) a Textual app would write
escape codes into a log and wait forever for keys; ``presnet run``/``resume`` then run
headless instead, and ``presnet-tui`` refuses.
"""

from __future__ import annotations

import sys

NO_TTY_NOTICE = "note: no terminal on stdin/stdout, running headless (pass --headless to say so)"


def has_terminal() -> bool:
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False
