"""What the search and retrain screens share: one session watched through messages, throttled redraws."""

from __future__ import annotations

import time
from typing import Any

from textual.screen import Screen

from core.run.events import AnyEvent, RetrainStarted
from presnet_tui.app.messages import RetrainBegan, RunEvents, RunProgress, Throttle
from presnet_tui.app.session import Session
from presnet_tui.shared.model import RunModel

#: Seconds a replayed error's toast stays (the panels say it for good).
REPLAYED_S = 3.0


class RunScreen(Screen[None]):
    """Folds a session's events into a :class:`RunModel` as they arrive; redraws at most twice a second.

    Subclasses draw in :meth:`redraw` and react to single events (notifications) in :meth:`on_run_event`.
    Textual calls each class's ``on_mount`` in turn, so a subclass's own ``on_mount`` needs no ``super()``.
    """

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.model = RunModel()
        self.redraws = Throttle(self, self.redraw)
        self.replaying = False  #: the event being applied is the run's history, not news
        self.opened_at = time.time()

    def on_mount(self) -> None:
        self.title = f"presnet · {self.session.run_dir.path}"
        self.session.connect(self)
        self.redraws.request()

    def on_unmount(self) -> None:
        self.session.close()

    def on_run_events(self, message: RunEvents) -> None:
        for event in message.events:
            self._take(event)
        self.redraws.request()

    def on_run_progress(self, message: RunProgress) -> None:
        self._take(message.progress)
        self.redraws.request()

    def _take(self, event: AnyEvent) -> None:
        self.model.apply(event)
        # an event written before this screen opened is history (an attached or resumed run): what it
        # says is in the panels already, and replayed toasts would sit over the plots for seconds
        when = getattr(event, "time", None)
        self.replaying = when is not None and when < self.opened_at
        self.on_run_event(event)
        if isinstance(event, RetrainStarted) and not self.replaying:
            self.post_message(RetrainBegan(self.session.run_dir.path))
        self.replaying = False

    def notify(self, message: str, *args: Any, **kwargs: Any) -> None:
        """A toast; while the history is replayed only an error shows, and briefly (``REPLAYED_S``)."""
        if self.replaying:
            if kwargs.get("severity") != "error":
                return
            kwargs["timeout"] = REPLAYED_S
        super().notify(message, *args, **kwargs)

    def on_run_event(self, event: AnyEvent) -> None:
        """One event, after the model has taken it in (the place for notifications)."""

    def redraw(self) -> None:
        raise NotImplementedError
