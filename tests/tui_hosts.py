"""Hosts for TUI tests (not a test file): a screen in an app with the real stylesheet, fed fixed events."""

from __future__ import annotations

from pathlib import Path

import presnet_tui.app
from core.run.rundir import RunDir
from presnet_tui.app.app import PresnetApp
from presnet_tui.app.messages import RunEvents
from presnet_tui.app.session import Session

REPO = Path(__file__).resolve().parents[1]


class FixedSession(Session):
    """Fixed events, posted as one batch when the screen connects; no run behind them to steer."""

    local = False

    def __init__(self, events: list) -> None:
        self.events = list(events)
        self.run_dir = RunDir(Path("runs/demo"))

    def connect(self, screen) -> None:
        screen.post_message(RunEvents(self.events))

    def close(self) -> None:
        pass

    @property
    def running(self) -> bool:
        return True

    def pause_requested(self) -> bool:
        return False


class Host(PresnetApp):
    """Hosts one screen with the real stylesheet and the app's keys (q, ?), but not PresnetApp's own
    on_mount, which would push the setup screen."""

    CSS_PATH = str(Path(presnet_tui.app.__file__).parent / "presnet.tcss")

    def __init__(self, screen_factory, **kw) -> None:
        super().__init__(**kw)
        self.screen_factory = screen_factory

    def on_mount(self, event) -> None:
        event.prevent_default()  # PresnetApp.on_mount would run after this one
        self.push_screen(self.screen_factory())


async def settle(pilot, timeout: float = 30.0) -> None:
    """Wait out what a fixed picture must not catch half-way: the throttled redraws, the setup screen's
    network count (a worker, started after the first paint) and the notifications (seconds on screen)."""
    from textual.widgets import Static

    await pilot.pause(0.8)
    for _ in range(int(timeout / 0.1)):
        facts = pilot.app.screen.query("#facts")
        if not facts or not str(facts.first(Static).render()).startswith("loading"):
            break
        await pilot.pause(0.1)
    await pilot.app.workers.wait_for_complete()
    pilot.app.clear_notifications()
    await pilot.pause(0.3)
