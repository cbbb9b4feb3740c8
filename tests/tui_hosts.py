"""Hosts for TUI tests (not a test file): a screen in an app with the real stylesheet, fed fixed events."""

from __future__ import annotations

from pathlib import Path

import presnet_tui
from core.run.rundir import RunDir
from presnet_tui.app import PresnetApp
from presnet_tui.session import Inbox, Session

REPO = Path(__file__).resolve().parents[1]


class FixedSession(Session):
    local = False

    def __init__(self, events: list) -> None:
        self.inbox = Inbox(events)
        self.run_dir = RunDir(Path("runs/demo"))

    @property
    def running(self) -> bool:
        return True

    def pause_requested(self) -> bool:
        return False


class Host(PresnetApp):
    """Hosts one screen with the real stylesheet and the app's keys (q, ?), but not PresnetApp's own
    on_mount, which would push the setup screen."""

    CSS_PATH = str(Path(presnet_tui.__file__).parent / "presnet.tcss")

    def __init__(self, screen_factory, **kw) -> None:
        super().__init__(**kw)
        self.screen_factory = screen_factory

    def on_mount(self, event) -> None:
        event.prevent_default()  # PresnetApp.on_mount would run after this one
        self.push_screen(self.screen_factory())
