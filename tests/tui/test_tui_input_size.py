"""The TUI's side of issue 14: the setup screen's live void-kernel warning, and a joint-candidates search
screen (pair probabilities plus kernel and activation marginals, per-epoch change)."""

from __future__ import annotations

import asyncio

from textual.widgets import Input, Label, RadioButton, Static
from textual_plotext import PlotextPlot

from core.config import quickstart
from core.run.events import EpochEnd, SearchStarted
from presnet_tui.app.screens.search import SearchScreen
from presnet_tui.app.screens.setup import SetupScreen
from presnet_tui.app.widgets.blocks import BlockTable
from tests.tui_hosts import REPO, FixedSession, Host

PAIRS = ["3x3/relu", "3x3/mish", "5x5/relu", "5x5/mish"]


def test_setup_screen_warns_live_about_void_kernel_choices():
    async def scenario():
        app = Host(lambda: SetupScreen(quickstart(), REPO / "sample_configs"))
        async with app.run_test(size=(100, 40)) as pilot:
            await pilot.pause(0.3)
            warning = app.screen.query_one("#void-warning", Label)
            assert str(warning.render()).strip() == ""  # the quickstart's blocks choose for real
            app.screen.query_one("#scope-s", RadioButton).value = True
            await pilot.pause(0.3)
            assert "block(s) 1, 2, 3" in str(warning.render())
            app.screen.query_one("#image-size", Input).value = "224"
            await pilot.pause(0.3)
            assert str(warning.render()).strip() == ""

    asyncio.run(scenario())


def joint_events() -> list:
    cfg = quickstart().model_dump(mode="json")
    cfg["space"]["candidates"] = "joint"
    events: list = [
        SearchStarted(
            config=cfg,
            block_ids=[1, 2],
            stages={"1": 4, "2": 4},
            candidates={"op": PAIRS},
            params=1000,
            num_classes=10,
            steps_per_epoch=4,
            epochs=6,
        )
    ]
    for e in (1, 2, 3):
        p = [0.25 + 0.05 * e, 0.25, 0.25, 0.25 - 0.05 * e]
        alphas = {b: {"op": dict(zip(PAIRS, p))} for b in ("1", "2")}
        change = {b: {"op": 0.05} for b in ("1", "2")} if e > 1 else {}
        events.append(
            EpochEnd(
                epoch=e,
                epochs=6,
                phase="search",
                train_loss=1.0,
                train_top1=0.5,
                lr=0.05,
                elapsed_s=float(e),
                alphas=alphas,
                alpha_change=change,
            )
        )
    return events


def test_joint_search_screen_shows_pairs_and_marginals():
    async def scenario():
        app = Host(lambda: SearchScreen(FixedSession(joint_events())))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.8)
            screen = app.screen
            model = screen.model
            probs = model.block_probs("1")
            assert abs(probs["kernel"]["3"] - (0.40 + 0.25)) < 1e-9  # marginal over activations
            assert abs(probs["activation"]["mish"] - (0.25 + 0.10)) < 1e-9
            assert screen.query_one("#op-plot", PlotextPlot).display  # the pair panel is shown
            table = screen.query_one(BlockTable)
            assert "3x3" in str(table.get_cell("1", "kernel")) and "relu" in str(table.get_cell("1", "activation"))
            info = str(screen.query_one("#search-info", Static).render())
            assert "Δ/epoch max 5.0 pts" in info
            await pilot.press("o")
            await pilot.pause(0.5)

    asyncio.run(scenario())
