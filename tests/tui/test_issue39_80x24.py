"""Issue 39: 80x24 shows what it names -- `presnet ls` keeps run names, `presnet plot` keeps its rows,
the setup screen's Load/Save/Start are in view, no replayed toast covers the plots of an attached
finished run, Shift+Tab then q leaves the block ids alone, and `presnet run`'s TUI moves on to the
retrain screen by itself."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time

from textual.widgets import Button, Input

from core.config import quickstart
from core.run.events import RetrainStarted
from core.run.rundir import RunDir
from presnet_tui.app.app import PresnetApp
from presnet_tui.app.screens.retrain import RetrainScreen
from presnet_tui.app.screens.search import SearchScreen
from presnet_tui.app.screens.setup import SetupScreen
from tests.support import CLI, REPO, child_env
from tests.tui_hosts import FixedSession, Host, settle

FIXTURE = REPO / "tests" / "fixtures" / "run-main-d8e0b70"
NAMES = ["20261206-101500-custom-10-11-12-13", "20261206-104512-custom-10-11-12-13"]  # README's runs/<timestamp>-…


def two_runs(tmp_path):
    runs = tmp_path / "runs"
    for name in NAMES:
        shutil.copytree(FIXTURE, runs / name)
    return runs


def at_80(*args: object) -> str:
    env = {**child_env(), "COLUMNS": "80", "LINES": "24"}
    done = subprocess.run([*CLI, *map(str, args)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_ls_at_80_columns_shows_both_run_names_whole(tmp_path):
    out = at_80("ls", two_runs(tmp_path))
    assert all(name in out for name in NAMES), out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_ls_elides_the_middle_of_a_name_that_cannot_fit(tmp_path):
    from presnet_tui.cli.commands.listing import middle_elided

    runs = two_runs(tmp_path)
    long = "my-long-experiment-name-with-many-words-seed0"
    (runs / NAMES[0]).rename(runs / long)
    out = at_80("ls", runs)
    assert max(len(line) for line in out.splitlines()) <= 80
    row = next(line for line in out.splitlines() if line.startswith("my-long"))
    shown = row.split()[0]
    assert "…" in shown and shown.startswith("my-long-exp") and shown.endswith("seed0")  # never all of it
    assert middle_elided("abcdefghij", 7) == "abcd…ij" and middle_elided("abc", 7) == "abc"


def test_plot_at_80x24_gives_every_panel_its_rows(tmp_path):
    out = at_80("plot", two_runs(tmp_path) / NAMES[0])
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    titles = [i for i, line in enumerate(lines) if "block 1" in line and "kernel" in line]
    assert len(titles) == 4  # blocks 10-13, each its own panel row
    assert all(b - a >= 10 for a, b in zip(titles, titles[1:])), titles  # 12 rows a block, not 1
    assert "block 13" in lines[titles[-1]]


def test_setup_buttons_are_in_view_at_80x24_and_shift_tab_q_types_nothing():
    async def scenario():
        app = Host(lambda: SetupScreen(quickstart(), REPO / "sample_configs"))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            screen = app.screen
            for button in ("#load", "#save", "#start"):
                region = screen.query_one(button, Button).region
                assert region.width >= 4 and 0 <= region.y < 23, (button, region)  # on screen, above the footer
            blocks = screen.query_one("#custom-blocks", Input)
            before = blocks.value
            await pilot.press("shift+tab")
            assert app.focused is not blocks
            await pilot.press("q")
            await pilot.pause(0.2)
            assert blocks.value == before

    asyncio.run(scenario())


def test_attaching_to_a_finished_run_leaves_no_toast_over_the_plots(tmp_path):
    run = two_runs(tmp_path) / NAMES[0]

    async def scenario():
        app = PresnetApp(attach=run)
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(50):
                await pilot.pause(0.1)
                if isinstance(app.screen, SearchScreen) and app.screen.model.retrain_done is not None:
                    break
            await pilot.pause(3.0)
            assert not list(app._notifications), [n.message for n in app._notifications]

    asyncio.run(scenario())


def test_a_retrain_that_starts_by_itself_brings_the_retrain_screen(tmp_path):
    run = RunDir.open(two_runs(tmp_path) / NAMES[0])
    started = next(e for e in run.events() if isinstance(e, RetrainStarted))
    live = started.model_copy(update={"time": time.time() + 60})  # written after the screen opened: news

    class Live(FixedSession):
        local = True

        def __init__(self) -> None:
            super().__init__([live])
            self.run_dir = run

        def start(self) -> Live:
            return self

    async def scenario():
        app = PresnetApp()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            app.show_search(Live())  # type: ignore[arg-type]
            for _ in range(50):
                await pilot.pause(0.1)
                if isinstance(app.screen, RetrainScreen):
                    break
            assert isinstance(app.screen, RetrainScreen)
            assert app.screen.session.run_dir.path == run.path

    asyncio.run(scenario())
