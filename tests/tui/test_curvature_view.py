"""The curvature strip beside the alpha plot, with the stop rules' epochs marked, at 80x24; the epoch
picker shows a picked epoch's curvature."""

from __future__ import annotations

import asyncio

from core.run.events import EpochEnd
from presnet_tui.app.screens.search import SearchScreen
from presnet_tui.app.widgets.curvature import CurvatureStrip, strip_text
from tests.tui.test_snapshots import search_events
from tests.tui_hosts import FixedSession, Host, settle

SIZE = (80, 24)


def curvature_events(epochs: int = 24) -> list:
    """The snapshot run's events over ``epochs`` epochs, each with a curvature that jumps from 1 to 3 at
    epoch 17: R-DARTS's rule (window 5, factor 1.3, delta 4) detects it at 17 and rolls back to 11."""
    out = []
    for e in search_events(epochs):
        if isinstance(e, EpochEnd):
            e = e.model_copy(update={"curvature": 0.01 if e.epoch < 17 else 0.03, "epochs": epochs})
        out.append(e)
    return out


def host() -> Host:
    return Host(lambda: SearchScreen(FixedSession(curvature_events())))


def test_strip_marks_rollback_and_detection_under_their_epochs():
    from core.api.stops import rule_verdicts
    from core.config import quickstart

    events = [e for e in curvature_events() if isinstance(e, EpochEnd)]
    verdicts = rule_verdicts(quickstart(), events)
    assert verdicts.curvature is not None and (verdicts.curvature.detected, verdicts.curvature.rollback) == (17, 11)
    spark, marks = strip_text([(e.epoch, e.curvature) for e in events], verdicts, picked=20, width=60).plain.split("\n")
    assert spark.startswith("λ ") and len(spark) <= 60
    # one column per epoch from epoch 1: epoch e is column e - 1 after the two-character label
    assert marks[2 + 11 - 1] == "R" and marks[2 + 17 - 1] == "D" and marks[2 + 20 - 1] == "^"
    assert spark[2 + 16 - 1] == "▁" and spark[2 + 17 - 1] == "█"


def test_curvature_strip_80x24(snap_compare):
    async def pick(pilot):
        await settle(pilot)
        for _ in range(4):
            await pilot.press("left_square_bracket")  # epoch 24 -> 20
        await settle(pilot)

    assert snap_compare(host(), terminal_size=SIZE, run_before=pick)


def test_the_picker_shows_the_picked_epochs_curvature_and_the_strip_fits():
    async def scenario():
        app = host()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("left_square_bracket")
            await settle(pilot)
            info = str(app.screen.query_one("#search-info").render())
            assert "picked epoch 23 · λmax 0.03" in info
            assert "back to 11" in info
            strip = app.screen.query_one(CurvatureStrip)
            assert strip.size.height == 2 and strip.region.right <= 34  # the left column: the plots keep their rows
            text = str(strip.render())
            assert "R" in text and "D" in text

    asyncio.run(scenario())


def test_fig3_has_a_curvature_row_with_the_rules_marks(tmp_path):
    import pytest

    pytest.importorskip("matplotlib")
    from presnet_tui.cli.views.figures import fig3
    from presnet_tui.shared.trajectory import trajectory_from_events

    events = curvature_events()
    points = [(e.epoch, e.curvature) for e in events if isinstance(e, EpochEnd)]
    out = tmp_path / "fig3.svg"
    fig3(trajectory_from_events(events), ["1"], out, curvature=(points, [(11, "rollback"), (17, "rise detected")]))
    svg = out.read_text()
    assert "largest eigenvalue" in svg and "rollback (epoch 11)" in svg and "rise detected (epoch 17)" in svg
