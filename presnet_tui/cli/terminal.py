"""Whether a full-screen UI can be drawn here.

Without a terminal on both ends (nohup, cron, a pipe, CI) a Textual app would write
escape codes into a log and wait forever for keys; ``presnet run``/``resume`` then run
headless instead, and ``presnet-tui`` refuses.  One exception: ``presnet serve`` runs the
app over pipes on purpose, with Textual's web driver, which draws into a browser tab.
"""

from __future__ import annotations

import os
import sys

NO_TTY_NOTICE = "note: no terminal on stdin/stdout, running headless (pass --headless to say so)"

#: textual-serve starts each browser tab's app with this driver (textual_serve.app_service sets
#: ``TEXTUAL_DRIVER``); it speaks Textual's web protocol over the pipes, so no terminal is needed.
WEB_DRIVER = "textual.drivers.web_driver:WebDriver"


def served_in_browser() -> bool:
    return os.environ.get("TEXTUAL_DRIVER", "") == WEB_DRIVER


def has_terminal() -> bool:
    """A terminal on stdin and stdout, or the browser of ``presnet serve``: somewhere to draw."""
    if served_in_browser():
        return True
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False
