"""Issue 25: every screen at 80x24, the design size -- snapshots of setup (with its void-kernel warning in
full), search (joint), the dialogs of the stop/derive flow, the key list, the sweep view; and the small
lies: no ETA after a stop, no Stop/Pause on a finished run, every main key in the footer at 80 columns.

Regenerate after an intended visual change: python -m pytest tests/tui/test_tui_80x24.py --snapshot-update -n 0
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from rich.console import Console
from textual.widgets import Footer, Label, RadioSet, Static
from textual_plotext import PlotextPlot

from core.config import quickstart
from core.run.events import ArchitectureDerived, RetrainDone, RetrainEpochEnd, RetrainStarted, SearchStopped
from core.scale.sweep import RunStatus, Sweep
from core.space import ACTIVATIONS
from presnet_tui.app.screens.dialogs import LeaveScreen, NumberScreen
from presnet_tui.app.screens.search import SearchScreen
from presnet_tui.app.screens.setup import SetupScreen
from tests.tui.test_snapshots import search_events
from tests.tui.test_tui_input_size import joint_events
from tests.tui_hosts import REPO, FixedSession, Host, settle

SIZE = (80, 24)


class StoppedLocalSession(FixedSession):
    """A search this app ran, stopped: what the screen offers then (derive, retrain)."""

    local = True

    @property
    def running(self) -> bool:
        return False


def search_host(events: list) -> Host:
    return Host(lambda: SearchScreen(FixedSession(events)))


# -- snapshots --------------------------------------------------------------------------------------
def test_setup_shows_its_void_warning_in_full(snap_compare):
    async def choose_s(pilot):
        await settle(pilot)
        await pilot.press("space")  # the focus is on the first choice at open: Space picks scope s
        await settle(pilot)
        await pilot.pause(0.3)  # no scrolling: the warning is in view as it appears

    app = Host(lambda: SetupScreen(quickstart(), REPO / "sample_configs"))
    assert snap_compare(app, terminal_size=SIZE, run_before=choose_s)


def test_setup_candidates_80x24(snap_compare):
    """The candidate rows, scrolled to: four to a row, every activation on screen, [x]/[ ] marks."""

    async def scroll(pilot):
        await settle(pilot)
        pilot.app.screen.query_one("#a-hardswish").scroll_visible(animate=False)
        await pilot.pause(0.3)

    app = Host(lambda: SetupScreen(quickstart(), REPO / "sample_configs"))
    assert snap_compare(app, terminal_size=SIZE, run_before=scroll)


def test_search_joint_80x24(snap_compare):
    assert snap_compare(search_host(joint_events()), terminal_size=SIZE, run_before=settle)


def test_stop_at_dialog_80x24(snap_compare):
    async def press_e(pilot):
        await settle(pilot)
        await pilot.press("e")
        pilot.app.screen.query_one("#number").cursor_blink = False  # a blinking cursor makes two pictures
        await pilot.pause(0.3)

    assert snap_compare(search_host(search_events()), terminal_size=SIZE, run_before=press_e)


def test_derive_after_a_stop_80x24(snap_compare):
    """The stopped search, an epoch picked for derive: no ETA, no Stop/Pause, `d r q` in the footer."""

    async def pick(pilot):
        await settle(pilot)
        await pilot.press("left_square_bracket", "left_square_bracket")
        await settle(pilot)

    events = [*search_events(), SearchStopped(epoch=8, reason="user")]
    app = Host(lambda: SearchScreen(StoppedLocalSession(events), on_retrain=lambda session, arch, epochs: None))
    assert snap_compare(app, terminal_size=SIZE, run_before=pick)


def stopped_host(on_retrain) -> Host:
    """The stopped search, derivable: its config's scope is the events' blocks (1-3, scope s)."""
    started, *rest = search_events()
    config = started.config | {"space": started.config["space"] | {"scope": "s"}}
    events = [started.model_copy(update={"config": config}), *rest, SearchStopped(epoch=8, reason="user")]
    return Host(lambda: SearchScreen(StoppedLocalSession(events), on_retrain=on_retrain))


def test_retrain_length_dialog_80x24(snap_compare):
    async def press_r(pilot):
        await settle(pilot)
        await pilot.press("r")
        await pilot.pause(0.3)
        pilot.app.screen.query_one("#number").cursor_blink = False
        pilot.app.clear_notifications()
        await pilot.pause(0.3)

    assert snap_compare(stopped_host(lambda session, arch, epochs: None), terminal_size=SIZE, run_before=press_r)


def retraining_events(done: bool = False) -> list:
    """A headless run watched from its search, now 4 epochs into its 40-epoch retrain (or done)."""
    arch = {"blocks": {"1": {"kernel": 5, "activation": "mish"}}, "width_mult": 0.25, "num_classes": 10}
    events = [
        *search_events(),
        SearchStopped(epoch=8, reason="converged"),
        ArchitectureDerived(epoch=8, architecture=arch, params=1_748_250, path="runs/demo/arch.json"),
        RetrainStarted(epochs=40, params=1_748_250, baseline_params=1_486_106, steps_per_epoch=22, architecture=arch),
    ]
    for e in range(1, 41 if done else 5):
        events.append(
            RetrainEpochEnd(
                epoch=e,
                epochs=40,
                train_loss=1.0 / e,
                train_top1=0.5,
                test_loss=1.1 / e,
                test_top1=0.5,
                lr=0.05,
                elapsed_s=2.0 * e,
            )
        )
    if done:
        events.append(RetrainDone(epochs=40, test_top1=0.5, params=1_748_250, weights="runs/demo/weights"))
    return events


def test_attached_during_a_retrain_80x24(snap_compare):
    assert snap_compare(search_host(retraining_events()), terminal_size=SIZE, run_before=settle)


def test_quit_dialog_80x24(snap_compare):
    async def ask(pilot):
        await settle(pilot)
        pilot.app.push_screen(LeaveScreen(["runs/demo"]))
        await pilot.pause(0.3)

    assert snap_compare(search_host(search_events()), terminal_size=SIZE, run_before=ask)


def test_key_list_80x24(snap_compare):
    async def ask(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.3)

    assert snap_compare(search_host(search_events()), terminal_size=SIZE, run_before=ask)


STATUSES = [
    RunStatus("s-seed0", "search", "s", 0, Path("runs/s-seed0"), "done", "retrain", 2, 2, 0.912),
    RunStatus("m-seed0", "search", "m", 0, Path("runs/m-seed0"), "running", "search", 3, 8, 0.71),
    RunStatus("l-seed0", "search", "l", 0, Path("runs/l-seed0"), "pending"),
    RunStatus("baseline-seed0", "baseline", None, 0, Path("runs/baseline-seed0"), "failed", "retrain", 1, 2),
]


class FixedSweep:
    path = Path("runs/sweep")

    def observed_statuses(self) -> list[RunStatus]:
        return [RunStatus(**vars(s)) for s in STATUSES]


def test_sweep_view_80x24(snap_compare, monkeypatch):
    from presnet_tui.app.screens.sweep import SweepScreen

    monkeypatch.setattr(Sweep, "open", staticmethod(lambda path: FixedSweep()))
    app = Host(lambda: SweepScreen(Path("runs/sweep")))
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


# -- behaviour at 80x24 -----------------------------------------------------------------------------
def screen_text(app) -> str:
    """The screen as plain text, as a capture without colour shows it (what a reader without colour sees)."""
    console = Console(width=app.size.width, height=app.size.height, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def setup_host() -> Host:
    return Host(lambda: SetupScreen(quickstart(), REPO / "sample_configs"))


def test_setup_candidate_rows_wrap_inside_80_columns():
    async def scenario():
        app = setup_host()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.screen.query_one("#a-hardswish").scroll_visible(animate=False)
            await pilot.pause(0.3)
            for a in ACTIVATIONS:
                assert app.screen.query_one(f"#a-{a}").region.right <= 80, a  # on screen, not past the edge
            text = screen_text(app)
            assert "hardswish" in text and "relu" in text

    asyncio.run(scenario())


def test_setup_void_warning_stays_in_view_wherever_the_form_is_scrolled():
    async def scenario():
        app = setup_host()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("space")  # scope s: void kernel choices at the quickstart's 32 px
            await settle(pilot)
            assert "raise" in screen_text(app) and "data.image_size" in screen_text(app)  # at once, no scrolling
            for widget in ("#start", "#scope"):  # the form's end, and back to its top
                app.screen.query_one(widget).scroll_visible(animate=False)
                await pilot.pause(0.3)
                assert "kernel choice of block(s) 1, 2, 3 is void" in screen_text(app), widget

    asyncio.run(scenario())


def test_setup_checked_state_reads_without_colour():
    async def scenario():
        app = setup_host()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            box = app.screen.query_one("#k-7")
            box.scroll_visible(animate=False)
            await pilot.pause(0.3)
            text = screen_text(app)
            assert "[x] 3x3" in text and "[x] 5x5" in text and "[ ] 7x7" in text and "[ ] 1x1" in text
            await pilot.click("#k-7")
            await pilot.pause(0.3)
            assert "[x] 7x7" in screen_text(app)
            app.screen.query_one("#scope").scroll_visible(animate=False)
            await pilot.pause(0.3)
            text = screen_text(app)  # the quickstart's scope is a custom block list
            assert "(•) custom blocks" in text and "( ) s (1 deepest stage)" in text

    asyncio.run(scenario())


def footer_keys(app) -> set[str]:
    return {b.binding.key for b in app.screen.active_bindings.values() if b.binding.show}


def test_setup_focuses_the_first_choice_and_wraps_its_warning():
    async def scenario():
        app = Host(lambda: SetupScreen(quickstart(), REPO / "sample_configs"))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert isinstance(app.focused, RadioSet) and app.focused.id == "scope"
            await pilot.press("space")  # scope s: the quickstart's input size makes some kernels void
            await settle(pilot)
            warning = app.screen.query_one("#void-warning", Label)
            assert "raise data.image_size" in str(warning.render())  # the fix, the part that was cut
            assert warning.size.height >= 3 and warning.size.width <= 80  # wrapped, not one long line
            assert "FLOPs" in str(app.screen.query_one("#facts", Static).render())  # counted on the worker

    asyncio.run(scenario())


def test_plots_have_five_rows_and_every_main_key_shows_at_80_columns():
    async def scenario():
        app = search_host(search_events())
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            for plot_id in ("#kernel-plot", "#activation-plot"):
                assert app.screen.query_one(plot_id, PlotextPlot).size.height >= 9  # title, frame, ticks + 5 rows
            assert "━ 3x3" in str(app.screen.query_one("#kernel-legend", Static).render())
            assert {"s", "e", "p", "d", "q", "question_mark"} <= footer_keys(app)
            assert app.screen.query_one(Footer).size.width == 80

    asyncio.run(scenario())


def test_joint_plot_has_a_legend_for_every_pair_and_bars_for_the_marginals():
    async def scenario():
        app = search_host(joint_events())
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            legend = str(app.screen.query_one("#op-legend", Static).render())
            assert all(pair in legend for pair in ("3x3/relu", "3x3/mish", "5x5/relu", "5x5/mish"))
            assert app.screen.query_one("#op-plot", PlotextPlot).size.height >= 9
            assert "%" in str(app.screen.query_one("#kernel-bars", Static).render())

    asyncio.run(scenario())


def test_a_stopped_search_shows_no_eta_and_offers_no_stop_or_pause():
    async def scenario():
        app = search_host([*search_events(), SearchStopped(epoch=8, reason="user")])
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            status = str(app.screen.query_one("#run-status", Static).render())
            assert status.startswith("search done") and "ETA" not in status
            assert not {"s", "e", "p"} & footer_keys(app)
            assert {"d", "q"} <= footer_keys(app)

    asyncio.run(scenario())


class FinishedSession(FixedSession):
    @property
    def running(self) -> bool:
        return False


def test_a_finished_run_of_a_sweep_offers_no_stop_or_pause():
    from presnet_tui.app.screens.sweep import AttachedRunScreen

    done = RetrainDone(epochs=1, test_top1=0.5, best_top1=0.5, params=1, weights="w")

    async def scenario():
        app = Host(lambda: AttachedRunScreen(FinishedSession([*search_events(), done])))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            keys = footer_keys(app)
            assert not {"s", "e", "p", "r"} & keys and "escape" in keys
            await pilot.press("s")  # refused by check_action: nothing reaches the (absent) control file
            await pilot.pause(0.2)

    asyncio.run(scenario())


def test_key_list_names_every_key_of_the_search_screen():
    async def scenario():
        app = search_host(search_events())
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("question_mark")
            await pilot.pause(0.3)
            text = " ".join(f"{key} {what}" for key, what in app.screen.rows())
            for word in (
                "Stop",
                "Pause",
                "Pick epoch -1",
                "Pick epoch +1",
                "Derive",
                "Overview tab",
                "Quit",
                "palette",
            ):
                assert word in text, word
            await pilot.press("escape")
            await pilot.pause(0.2)
            assert isinstance(app.screen, SearchScreen)

    asyncio.run(scenario())


def test_r_asks_for_the_retrain_length_with_the_configs_as_default():
    asked: list[tuple[dict, int]] = []

    async def scenario():
        app = stopped_host(lambda session, arch, epochs: asked.append((arch.blocks, epochs)))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await pilot.pause(0.3)
            assert isinstance(app.screen, NumberScreen) and not asked  # asked first, nothing started yet
            assert app.screen.query_one("#number").value == "40"  # the quickstart config's retrain.epochs
            text = screen_text(app)
            assert "Retrain the derived architecture" in text and "(config: 40)" in text
            await pilot.press("end", "backspace", "backspace", "0", "enter")  # refused in the dialog, in words
            await pilot.pause(0.3)
            assert "at least 1" in screen_text(app) and not asked
            await pilot.press("escape")  # cancelled: no retrain
            await pilot.pause(0.3)
            assert isinstance(app.screen, SearchScreen) and not asked
            await pilot.press("r")
            await pilot.pause(0.3)
            await pilot.press("end", "backspace", "backspace", "5", "enter")
            await pilot.pause(0.3)
            assert [epochs for _, epochs in asked] == [5] and asked[0][0]  # the derived architecture, 5 epochs

    asyncio.run(scenario())


def test_header_names_the_retrain_and_counts_its_epochs_when_attached():
    async def status_of(events) -> str:
        app = search_host(events)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            return str(app.screen.query_one("#run-status", Static).render())

    during = asyncio.run(status_of(retraining_events()))
    assert during.startswith("retrain · epoch 4/40") and "done" not in during  # not "done · epoch 4/12"
    assert "412 img/s" not in during and "01:15" not in during  # the search's last rate and ETA
    after = asyncio.run(status_of(retraining_events(done=True)))
    assert after.startswith("retrain done · epoch 40/40") and "ETA" not in after
    searching = asyncio.run(status_of(search_events()))
    assert searching.startswith("search · epoch 8/12") and "ETA" in searching


def test_number_dialog_wraps_a_long_question():
    async def scenario():
        app = search_host(search_events())
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.push_screen(NumberScreen("Stop the search after epoch: " + "a long question " * 8))
            await pilot.pause(0.3)
            label = app.screen.query_one(Label)
            assert label.size.height >= 2 and label.size.width < 80

    asyncio.run(scenario())
