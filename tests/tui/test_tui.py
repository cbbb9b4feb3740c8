"""The Textual app driven by Textual's pilot: setup, live search, stop at an epoch, derive, retrain, attach."""

from __future__ import annotations

import asyncio
import json

import pytest
from textual.widgets import Label

from core.api.handle import RunHandle
from core.run import lock
from core.run.control import Control
from core.run.events import EventBus, read_events
from core.run.rundir import RunDir
from core.train.job import Job
from presnet_tui.app.app import PresnetApp
from presnet_tui.app.screens.dialogs import NumberScreen
from presnet_tui.app.screens.retrain import RetrainScreen
from presnet_tui.app.screens.search import SearchScreen
from presnet_tui.app.screens.setup import SetupScreen
from presnet_tui.app.widgets.blocks import BlockTable

pytestmark = pytest.mark.slow  # every test here runs the real engine behind the app


async def wait_for(pilot, predicate, timeout=60.0):
    for _ in range(int(timeout / 0.1)):
        if predicate():
            return
        await pilot.pause(0.1)
    raise AssertionError("condition not reached in time")


def test_setup_start_watch_stop_at_epoch_derive_retrain(synthetic):
    cfg = synthetic(epochs=6, alphas_every=1)

    async def scenario():
        app = PresnetApp(config=cfg, start_paused=True)  # a worker, paused: a stop epoch is set first
        async with app.run_test(size=(100, 30)) as pilot:
            assert isinstance(app.screen, SetupScreen)
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen))
            screen = app.screen
            await pilot.press("e")
            await pilot.press("end", "backspace", "backspace", "3", "enter")
            await pilot.press("p")  # resume
            await wait_for(pilot, lambda: screen.model.search_done and not screen.session.running)
            await pilot.pause(0.3)
            assert screen.model.epochs_done == 3 and screen.model.stop_reason == "user"
            table = screen.query_one(BlockTable)
            await wait_for(pilot, lambda: table.row_count == 3)  # redraws are throttled to 2/s
            assert len(screen.model.block_ids) == 3
            assert len(screen.model.trajectory.x) > 3  # curves moved within epochs
            await pilot.press("left_square_bracket", "d")
            assert screen.derived is not None and screen.derived.source["epoch"] == 2
            await pilot.press("r")  # asks for the retrain's length: 2 epochs instead of the config's 1
            await wait_for(pilot, lambda: isinstance(app.screen, NumberScreen))
            await pilot.press("end", "backspace", "2", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, RetrainScreen))
            await wait_for(pilot, lambda: app.screen.model.retrain_done is not None)
            assert app.screen.model.architecture["blocks"]
            run = screen.session.run_dir
            await wait_for(pilot, lambda: run.summary().retrain is not None)  # written just after retrain_done
            assert run.summary().retrain.epochs == 2
            assert run.config().retrain.epochs == 2  # what a resume of this retrain would train for
            assert run.summary().search.epochs == 3

    asyncio.run(scenario())


def test_invalid_setup_input_shows_errors_and_does_not_start(synthetic):
    cfg = synthetic(epochs=6, alphas_every=1)

    async def scenario():
        app = PresnetApp(config=cfg, start_paused=True)  # a worker, paused: a stop epoch is set first
        async with app.run_test(size=(100, 40)) as pilot:
            screen = app.screen
            for k in (3, 5):
                screen.query_one(f"#k-{k}").value = False
            await pilot.pause()
            assert "kernel" in str(screen.query_one("#err-kernels", Label).render())
            await pilot.press("ctrl+s")
            await pilot.pause(0.3)
            assert isinstance(app.screen, SetupScreen)
            screen.query_one("#k-3").value = True
            screen.query_one("#scope-custom").value = True
            screen.query_one("#custom-blocks").value = "2,99"
            await pilot.pause()
            assert "99" in str(screen.query_one("#err-scope", Label).render())
            await pilot.press("ctrl+s")
            await pilot.pause(0.3)
            assert isinstance(app.screen, SetupScreen)
            assert not cfg.run.out.exists()

    asyncio.run(scenario())


def test_engine_error_reaches_the_ui_which_stays_usable(synthetic):
    cfg = synthetic(epochs=6, alphas_every=1, lr=1e30, warmup_epochs=0)

    async def scenario():
        app = PresnetApp(config=cfg)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen))
            screen = app.screen
            await wait_for(pilot, lambda: bool(screen.model.errors))
            await wait_for(pilot, lambda: "non-finite" in str(screen.query_one("#search-info").render()))
            await pilot.press("o")  # still responsive
            await pilot.pause(0.2)
            assert screen.query_one("#tabs").active == "overview"

    asyncio.run(scenario())


def test_quit_during_search_asks_and_stop_leaves_a_resumable_checkpoint(synthetic):
    cfg = synthetic(epochs=6, alphas_every=1)

    async def scenario():
        app = PresnetApp(config=cfg, start_paused=True)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen))
            await pilot.press("q")
            await pilot.pause(0.2)
            assert type(app.screen).__name__ == "LeaveScreen"
            await pilot.press("escape")  # cancel: nothing changes
            await pilot.pause(0.2)
            assert isinstance(app.screen, SearchScreen) and app.screen.session.running
            await pilot.press("q")
            await pilot.pause(0.2)
            await pilot.press("s")  # stop: the worker checkpoints after its current step and leaves
            for _ in range(600):
                if app.return_value is not None:
                    break
                await pilot.pause(0.1)
        return app.return_value

    lines = asyncio.run(scenario())
    run = RunDir.open(cfg.run.out)
    assert f"run {run.path}: not running" in lines and f"  resume:  presnet resume {run.path} --headless" in lines
    assert run.search_ckpt.exists()
    assert read_events(run.events_file)[-1].kind == "suspended"
    job = Job(cfg, run, EventBus(), Control(), retrain=False, resume=True)
    assert job.run().status == "done"
    assert [h.epoch for h in run.epoch_history()] == list(range(1, 7))


def test_quit_during_search_detaches_and_the_run_goes_on(synthetic):
    # 6 epochs: a search of 2 could end before the keys reach a loaded machine's TUI (seen once in CI's load)
    cfg = synthetic(epochs=6, alphas_every=1)

    async def scenario():
        app = PresnetApp(config=cfg)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen))
            await pilot.press("q")
            await pilot.pause(0.2)
            await pilot.press("d")
            await pilot.pause(0.3)
        return app.return_value

    lines = asyncio.run(scenario())
    run = RunDir.open(cfg.run.out)
    assert f"run {run.path}: runs on (detached)" in lines
    handle = RunHandle.attach(run.path)
    handle.wait(timeout=300)  # the worker finishes on its own
    assert run.summary().search.epochs == 6


def test_attach_to_a_headless_run(synthetic):
    cfg = synthetic(epochs=3, alphas_every=1)
    job = Job(cfg, RunDir.create(cfg), EventBus(), Control())
    assert job.run().status == "done"
    # As seen mid-search: the event file up to epoch 2 of 3 (a finished run offers no stop keys, and a
    # stop after an epoch that has ended is refused: issue 39).
    events = RunDir.open(cfg.run.out).events_file
    ends = ("search_stopped", "architecture", "retrain_started", "retrain_epoch_end", "retrain_done")
    lines = [
        line
        for line in events.read_text().splitlines()
        if json.loads(line)["kind"] not in ends and json.loads(line).get("epoch") != 3
    ]
    events.write_text("".join(line + "\n" for line in lines))
    held = lock.acquire(cfg.run.out)  # a live writer, as far as the app can tell (its lock is held)

    async def scenario():
        app = PresnetApp(attach=cfg.run.out)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            await wait_for(pilot, lambda: screen.model.epochs_done == 2)
            assert not screen.model.search_done
            await wait_for(pilot, lambda: screen.query_one(BlockTable).row_count == 3)  # redraws are throttled
            await pilot.press("e")
            await pilot.press("end", "backspace", "backspace", "3", "enter")
            await pilot.pause(0.2)
            await pilot.press("q")  # detaching never stops the run

    asyncio.run(scenario())
    held.release()
    control = RunDir.open(cfg.run.out).control_file.read_text()
    assert '"stop_at_epoch": 3' in control and '"stop": false' in control
