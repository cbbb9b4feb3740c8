"""What the search and retrain screens share: one session watched through messages, throttled redraws."""

from __future__ import annotations

from textual.screen import Screen

from core.run.events import AnyEvent
from presnet_tui.messages import EventsArrived, Throttle
from presnet_tui.model import RunModel
from presnet_tui.session import Session


class RunScreen(Screen):
    """Folds a session's events into a :class:`RunModel` as they arrive; redraws at most twice a second.

    Subclasses draw in :meth:`redraw` and react to single events (notifications) in :meth:`on_run_event`.
    Textual calls each class's ``on_mount`` in turn, so a subclass's own ``on_mount`` needs no ``super()``.
    """

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.model = RunModel()
        self.redraws = Throttle(self, self.redraw)

    def on_mount(self) -> None:
        self.title = f"presnet · {self.session.run_dir.path}"
        self.session.connect(self._events_arrived)
        self.redraws.request()

    def _events_arrived(self) -> None:
        """From the runner's thread: a message, never a widget call (Textual's thread rule)."""
        self.post_message(EventsArrived())

    def on_unmount(self) -> None:
        self.session.close()

    def on_events_arrived(self, message: EventsArrived) -> None:
        for event in self.session.take():
            self.model.apply(event)
            self.on_run_event(event)
        self.redraws.request()

    def on_run_event(self, event: AnyEvent) -> None:
        """One event, after the model has taken it in (the place for notifications)."""

    def redraw(self) -> None:
        raise NotImplementedError
