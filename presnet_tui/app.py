"""``presnet-tui``: the Textual app -- set up a search, watch it, stop it, retrain.

The engine runs on its runner thread; screens drain its events on a timer and
never touch widgets from another thread.  :class:`PresnetApp` takes a
``job_factory`` so tests (or other front ends) can hand it a tiny engine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from textual import work
from textual.app import App
from textual.binding import Binding

from core.arch import Architecture
from core.config import Config, load_config, quickstart
from core.control import Control
from core.errors import PresnetError
from core.events import EventBus
from core.job import Job, resume_job
from core.rundir import RunDir
from core.sweep import Sweep, is_sweep
from presnet_tui.screens.dialogs import ConfirmScreen
from presnet_tui.screens.retrain import RetrainScreen
from presnet_tui.screens.search import SearchScreen
from presnet_tui.screens.setup import SetupScreen
from presnet_tui.session import AttachedSession, LocalSession, Session

JobFactory = Callable[[Config], Job]


def default_job_factory(config: Config) -> Job:
    """A search-only job in a fresh run directory: the TUI retrains on the user's word."""
    return Job(config, RunDir.create(config), EventBus(), Control(), retrain=False)


class PresnetApp(App):
    CSS_PATH = "presnet.tcss"
    TITLE = "presnet"
    BINDINGS = [Binding("q", "quit_app", "Quit"), Binding("ctrl+c", "quit_app", "Quit", show=False)]

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
            self.push_screen(SearchScreen(AttachedSession(self.attach)))
        elif self.job is not None:
            (self.show_search if self.job.do_search else self.show_retrain)(self.job)
        else:
            self.push_screen(SetupScreen(self.config, self.config_dir))

    # -- starting work ---------------------------------------------------------------------------
    def start_search(self, config: Config, on_error: Callable[[str], None]) -> None:
        self.config = config
        self._prepare(lambda: self.job_factory(config), self.show_search, on_error)

    def start_retrain(self, session: Session, arch: Architecture) -> None:
        run = session.run_dir
        config = run.config()

        def make() -> Job:
            return Job(config, run, EventBus(), Control(), search=False, arch=arch)

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
        session = LocalSession(job)
        self.sessions.append(session)
        self.push_screen(SearchScreen(session.start(), on_retrain=self.start_retrain))

    def show_retrain(self, job: Job) -> None:
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
            ConfirmScreen(
                "A run is in progress. Quit? It stops after the current step and leaves "
                "a checkpoint (presnet resume RUN_DIR)."
            ),
            answer,
        )

    @work(thread=True)
    def _wait_and_exit(self, sessions: list[LocalSession]) -> None:
        for s in sessions:
            s.runner.wait()
        self.call_from_thread(self.exit)


cli = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@cli.command()
def tui(
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML config to load"),
    attach: Path | None = typer.Option(None, "--attach", help="watch a headless run directory, or a sweep's runs"),
    resume: Path | None = typer.Option(None, "--resume", help="resume a run directory's search"),
) -> None:
    """Set up a ProxylessNAS search on ResNet-50, watch the alphas, stop, retrain."""
    try:
        if attach is not None:
            if is_sweep(attach):
                Sweep.open(attach)
            else:
                RunDir.open(attach)
            PresnetApp(attach=attach).run()
            return
        if resume is not None:
            PresnetApp(job=resume_job(RunDir.open(resume), retrain_after_search=False).prepare()).run()
            return
        PresnetApp(config=load_config(config) if config else None).run()
    except PresnetError as err:
        for line in err.problems:
            typer.echo(f"error: {line}", err=True)
        raise typer.Exit(2) from None


def main() -> None:
    cli()
