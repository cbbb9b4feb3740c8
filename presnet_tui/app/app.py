"""``presnet tui``: the Textual app -- set up a search, watch it, stop it, retrain.

Every run is its own process (:mod:`presnet_tui.app.launch`: a detached worker); the app attaches to it and
its events reach the screens as Textual messages (:mod:`presnet_tui.app.messages`), so no widget is touched
from another thread.  Quitting asks whether to detach (the run goes on) or stop it (checkpoint,
resumable); a lost terminal or a closed browser tab is a detach.  The app itself never imports torch for
a run, so it quits at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.binding import Binding

from core.api.sweeps import is_sweep
from core.config import Config, quickstart
from core.errors import PresnetError
from presnet_tui.app.messages import RetrainBegan
from presnet_tui.app.screens.dialogs import HelpScreen, LeaveScreen
from presnet_tui.app.screens.setup import SetupScreen

if TYPE_CHECKING:
    from core.api.arch import Architecture
    from core.api.handle import RunHandle
    from presnet_tui.app.session import Session


class PresnetApp(App[list[str]]):
    CSS_PATH = "presnet.tcss"
    TITLE = "presnet"
    BINDINGS = [
        Binding("q", "quit_app", "Quit"),
        Binding("question_mark", "help", "Keys", key_display="?"),
        Binding("ctrl+c", "quit_app", "Quit", show=False),
    ]

    def __init__(
        self,
        config: Config | None = None,
        attach: Path | None = None,
        resume: Path | None = None,
        config_dir: Path | None = None,
        start_paused: bool = False,
        retrain_after_search: bool = False,
    ) -> None:
        super().__init__()
        self.config = config or quickstart()
        self.attach = attach
        self.resume = resume
        self.config_dir = config_dir
        self.start_paused = start_paused  # tests: the worker starts paused, so a stop epoch can be set first
        self.retrain_after_search = retrain_after_search  # `presnet run`: the worker retrains by itself
        self.sessions: list[Session] = []  # every run this app watched, for the lines left in the shell
        self.retrains_started: set[Path] = set()  # runs whose retrain this app started (the search screen's r)

    def on_mount(self) -> None:
        if self.attach is not None and is_sweep(self.attach):
            from presnet_tui.app.screens.sweep import SweepScreen

            self.push_screen(SweepScreen(self.attach))
        elif self.attach is not None:
            from presnet_tui.app.session import Session

            self.show_search(Session(self.attach, owned=True))
        elif self.resume is not None:
            path = self.resume
            self._launch(lambda: _continue(path), self.show_search, self._error)
        else:
            self.push_screen(SetupScreen(self.config, self.config_dir))

    def action_help(self) -> None:
        """Every key of the screen in front (the footer shows the main ones at 80 columns)."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen.active_bindings))

    def _error(self, msg: str) -> None:
        self.notify(msg, severity="error", timeout=15)

    # -- starting work: a detached worker each time, then attach ----------------------------------------
    def on_setup_screen_start_requested(self, message: SetupScreen.StartRequested) -> None:
        self.start_search(message.config, on_error=message.on_error)

    def on_setup_screen_attach_requested(self, message: SetupScreen.AttachRequested) -> None:
        from presnet_tui.app.session import Session

        self.show_search(Session(message.path, owned=True))

    def start_search(self, config: Config, on_error: Callable[[str], None]) -> None:
        self.config = config
        paused, retrain = self.start_paused, self.retrain_after_search
        self._launch(lambda: _search(config, paused, retrain), self.show_search, on_error)

    def start_retrain(self, session: Session, arch: Architecture, epochs: int) -> None:
        path = session.run_dir.path
        self.retrains_started.add(path)  # its retrain screen comes from here, not from RetrainBegan
        self._launch(lambda: _retrain(path, arch, epochs), self.show_retrain, self._error)

    @work(thread=True, exclusive=True, group="launch")
    def _launch(
        self,
        make: Callable[[], RunHandle],
        then: Callable[[Session], None],
        on_error: Callable[[str], None],
    ) -> None:
        """Start the worker off the UI thread (its first event takes a second or more) and attach."""
        from presnet_tui.app.session import Session

        try:
            handle = make()
        except PresnetError as err:
            self.call_from_thread(on_error, "; ".join(err.problems))
            return
        self.call_from_thread(then, Session(handle, owned=True))

    def show_search(self, session: Session) -> None:
        from presnet_tui.app.screens.search import SearchScreen

        self.sessions.append(session)
        self.push_screen(SearchScreen(session, on_retrain=self.start_retrain))

    def show_retrain(self, session: Session) -> None:
        from presnet_tui.app.screens.retrain import RetrainScreen

        self.sessions.append(session)
        self.push_screen(RetrainScreen(session))

    def on_retrain_began(self, message: RetrainBegan) -> None:
        """The search screen in front saw its run's retrain start (``presnet run``'s one worker): show the
        retrain screen, on a session of its own that reads the run from the start."""
        from presnet_tui.app.screens.search import SearchScreen
        from presnet_tui.app.session import Session

        screen = self.screen
        if message.run_dir in self.retrains_started:
            return
        if isinstance(screen, SearchScreen) and screen.session.run_dir.path == message.run_dir:
            self.show_retrain(Session(message.run_dir, owned=screen.session.local))

    # -- leaving ------------------------------------------------------------------------------------
    def action_quit_app(self) -> None:
        running = [s for s in self.sessions if s.running]
        if not running:
            self.leave()
            return

        def answer(choice: str | None) -> None:
            if choice == "stop":
                for s in running:
                    s.suspend()
                self._wait_and_leave(running)
            elif choice == "detach":
                self.leave()

        self.push_screen(LeaveScreen([str(s.run_dir.path) for s in running]), answer)

    def leave(self) -> None:
        """Exit, handing the shell each run's directory and the commands to attach, stop and resume."""
        from presnet_tui.app.launch import leaving_lines

        paths = list(dict.fromkeys(s.run_dir.path for s in self.sessions))
        live = {s.run_dir.path for s in self.sessions if s.running}
        self.exit(leaving_lines(paths, live))

    @work(thread=True)
    def _wait_and_leave(self, sessions: list[Session]) -> None:
        """A stop asked: the workers checkpoint after their current step and exit (seconds at most)."""
        for s in sessions:
            s.handle.wait(timeout=120)
        self.call_from_thread(self.leave)


def _search(config: Config, paused: bool, retrain: bool) -> RunHandle:
    from presnet_tui.app.launch import start_search

    return start_search(config, paused, retrain)


def _continue(path: Path) -> RunHandle:
    from presnet_tui.app.launch import continue_search

    return continue_search(path)


def _retrain(path: Path, arch: Architecture, epochs: int) -> RunHandle:
    from presnet_tui.app.launch import start_retrain

    return start_retrain(path, arch, epochs)
