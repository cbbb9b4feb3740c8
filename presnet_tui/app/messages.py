"""How run events reach the Textual screens: messages posted from the engine's thread, and a redraw throttle.

The engine (or an attached run's file follower) runs on another thread; Textual's ``post_message`` is
thread-safe, so events arrive as :class:`EventsArrived` messages handled on the UI thread.  A burst of
progress events becomes one message (the session's inbox posts again only once the last one was taken),
and plots redraw at most every :data:`REDRAW_S` seconds whatever the event rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual.message import Message
from textual.message_pump import MessagePump
from textual.timer import Timer

#: Plots and tables redraw at most this often (seconds): drawing is the TUI's cost, not the events.
REDRAW_S = 0.5


class EventsArrived(Message):
    """New events wait in the session's inbox (``session.take()`` collects them)."""


class RetrainBegan(Message):
    """A watched run went on from its search to its retrain by itself (``presnet run``: one worker does
    both): the app moves from the search screen to the retrain screen."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = run_dir


class Throttle:
    """Calls ``fn`` at most once per ``interval`` seconds on ``owner``'s timers; requests in between coalesce."""

    def __init__(self, owner: MessagePump, fn: Callable[[], None], interval: float = REDRAW_S) -> None:
        self.owner, self.fn, self.interval = owner, fn, interval
        self._last = float("-inf")
        self._timer: Timer | None = None

    def request(self) -> None:
        if self._timer is not None:
            return
        delay = max(0.02, self._last + self.interval - time.monotonic())  # Textual timers need a delay > 0
        self._timer = self.owner.set_timer(delay, self._fire)

    def now(self) -> None:
        """Draw at once (a tab switch, a key press): the user waits for it."""
        if self._timer is not None:
            self._timer.stop()
        self._fire()

    def _fire(self) -> None:
        self._timer = None
        self._last = time.monotonic()
        self.fn()
