"""``presnet tui``: the Textual app -- set up a search, watch it, stop it, retrain.

The engine runs on its runner thread; its events reach the screens as Textual messages
(:mod:`presnet_tui.messages`), so no widget is touched from another thread.  :class:`PresnetApp` takes a
``job_factory`` so tests (or other front ends) can hand it a tiny engine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.binding import Binding

from core.config import Config, quickstart
from core.errors import PresnetError
from core.scale.sweep import is_sweep
from presnet_tui.screens.dialogs import ConfirmScreen, HelpScreen
from presnet_tui.screens.setup import SetupScreen

if TYPE_CHECKING:  # torch: loaded on a worker thread after the first paint (see PresnetApp.on_mount)
    from core.space.arch import Architecture
    from core.train.job import Job
    from presnet_tui.session import LocalSession, Session

#: Seconds after the first refresh before torch starts loading (the screen reaches the terminal first).
AFTER_PAINT_S = 0.2

QUIT_QUESTION = (
    "A run is in progress. Quit? It stops after the current step and leaves a checkpoint (presnet resume RUN_DIR)."
)

JobFactory = Callable[[Config], "Job"]


def default_job_factory(config: Config) -> Job:
    """A search-only job in a fresh run directory: the TUI retrains on the user's word."""
    from core.api.runs import start_run

    return start_run(config, "search")


def load_engine() -> None:
    """Import what a run needs (torch, the engine, the run screens): seconds on a loaded machine,
    so the app paints its setup screen first and does this on a worker thread meanwhile."""
    import presnet_tui.screens.retrain  # noqa: F401
    import presnet_tui.screens.search  # noqa: F401
    import presnet_tui.session  # noqa: F401


class PresnetApp(App):
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
        job: Job | None = None,
        attach: Path | None = None,
        job_factory: JobFactory = default_job_factory,
        config_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.config = config or quickstart()
        self.job = job
        self.attach = attach
        self.job_factory = job_factory
        self.config_dir = config_dir
        self.sessions: list[LocalSession] = []  # the runs this app started (not an attached one)

    def on_mount(self) -> None:
        if self.attach is not None and is_sweep(self.attach):
            from presnet_tui.screens.sweep import SweepScreen

            self.push_screen(SweepScreen(self.attach))
        elif self.attach is not None:
            from presnet_tui.screens.search import SearchScreen
            from presnet_tui.session import AttachedSession

            self.push_screen(SearchScreen(AttachedSession(self.attach).start()))
        elif self.job is not None:
            (self.show_search if self.job.do_search else self.show_retrain)(self.job)
        else:
            self.push_screen(SetupScreen(self.config, self.config_dir))
            # after the first paint: an import on another thread still holds the GIL for most of its seconds
            self.call_after_refresh(self.set_timer, AFTER_PAINT_S, self._load_engine)

    @work(thread=True, exclusive=True, group="engine")
    def _load_engine(self) -> None:
        load_engine()

    def action_help(self) -> None:
        """Every key of the screen in front (the footer shows the main ones at 80 columns)."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen.active_bindings))

    # -- starting work ---------------------------------------------------------------------------
    def on_setup_screen_start_requested(self, message: SetupScreen.StartRequested) -> None:
        self.start_search(message.config, on_error=message.on_error)

    def start_search(self, config: Config, on_error: Callable[[str], None]) -> None:
        self.config = config
        self._prepare(lambda: self.job_factory(config), self.show_search, on_error)

    def start_retrain(self, session: Session, arch: Architecture, epochs: int) -> None:
        run = session.run_dir

        def make() -> Job:
            from core.api.runs import retrain_run

            return retrain_run(run, arch, epochs=epochs)

        self._prepare(make, self.show_retrain, lambda msg: self.notify(msg, severity="error", timeout=15))

    @work(thread=True, exclusive=True, group="prepare")
    def _prepare(self, make: Callable[[], Job], then: Callable[[Job], None], on_error: Callable[[str], None]) -> None:
        """Create the run directory and decode the data off the UI thread."""
        try:
            job = make().prepare()
        except PresnetError as err:
            self.call_from_thread(on_error, "; ".join(err.problems))
            return
        self.call_from_thread(then, job)

    def show_search(self, job: Job) -> None:
        from presnet_tui.screens.search import SearchScreen
        from presnet_tui.session import LocalSession

        session = LocalSession(job)
        self.sessions.append(session)
        self.push_screen(SearchScreen(session.start(), on_retrain=self.start_retrain))

    def show_retrain(self, job: Job) -> None:
        from presnet_tui.screens.retrain import RetrainScreen
        from presnet_tui.session import LocalSession

        session = LocalSession(job)
        self.sessions.append(session)
        self.push_screen(RetrainScreen(session.start()))

    # -- quitting ------------------------------------------------------------------------------------
    def action_quit_app(self) -> None:
        running = [s for s in self.sessions if s.running]
        if not running:
            self.exit()
            return

        def answer(yes: bool | None) -> None:
            if yes:
                for s in running:
                    s.interrupt()
                self._wait_and_exit(running)

        self.push_screen(
            ConfirmScreen(QUIT_QUESTION),
            answer,
        )

    @work(thread=True)
    def _wait_and_exit(self, sessions: list[LocalSession]) -> None:
        for s in sessions:
            s.runner.wait()
        self.call_from_thread(self.exit)
