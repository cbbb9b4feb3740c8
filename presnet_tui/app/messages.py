"""How a run's news reaches the Textual screens: messages posted from the session's follower thread,
and a redraw throttle.

The follower (:class:`~presnet_tui.app.session.Session`) reads the run's files on its own thread;
Textual's ``post_message`` is thread-safe, so what it read arrives as messages handled on the UI
thread, and no widget is touched from another thread.  Each read of the event file is one
:class:`RunEvents` (a burst of events is one message); the newest step is a :class:`RunProgress`, which
a newer one still waiting in the queue supersedes (``can_replace``), so a busy UI skips stale steps
rather than replaying them.  Plots redraw at most every :data:`REDRAW_S` seconds whatever the rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual.message import Message
from textual.message_pump import MessagePump
from textual.timer import Timer

from core.run.events import AnyEvent, Progress

#: Plots and tables redraw at most this often (seconds): drawing is the TUI's cost, not the events.
REDRAW_S = 0.5


@dataclass
class RunEvents(Message, bubble=False):
    """The events one read of the run's event file found, in order (each one counts: never dropped)."""

    events: list[AnyEvent]


@dataclass
class RunProgress(Message, bubble=False):
    """The run's newest step (images/s, ETA); only the last one matters."""

    progress: Progress

    def can_replace(self, message: Message) -> bool:
        """A newer step waiting behind this one makes this one stale: Textual drops it."""
        return isinstance(message, RunProgress)


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
