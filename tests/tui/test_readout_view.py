"""The perturbation readout beside the alpha plot at 80x24: each decision's perturbation choice, its
strength and whether it agrees with the argmax, for the plotted block; the epoch picker shows the
picked epoch's readout (the latest at or before it)."""

from __future__ import annotations

import asyncio

from core.run.events import EpochEnd
from core.run.readout import DecisionReadout, PerturbationReadout, PinnedScore
from presnet_tui.app.screens.search import SearchScreen
from presnet_tui.app.widgets.readout import ReadoutStrip, readout_text
from tests.tui.test_snapshots import search_events
from tests.tui_hosts import FixedSession, Host, settle

SIZE = (80, 24)


def readout_of(e: EpochEnd) -> PerturbationReadout:
    """A readout that agrees with the argmax except on block 1's kernel, where the other kernel wins by
    ``epoch / 4`` points (so each epoch's readout is told apart by its strength)."""
    decisions = {}
    for block, ds in e.alphas.items():
        decisions[block] = {}
        for d, probs in ds.items():
            argmax = max(probs, key=probs.__getitem__)
            scores = {c: PinnedScore(top1=60.0 if c == argmax else 50.0, loss=1.0) for c in probs}
            if block == "1" and d == "kernel":
                other = next(c for c in probs if c != argmax)
                scores[other] = PinnedScore(top1=60.0 + e.epoch / 4, loss=0.9)
            decisions[block][d] = DecisionReadout(argmax=argmax, scores=scores)
    return PerturbationReadout(images=64, top1=60.0, loss=1.0, decisions=decisions)


def readout_events(epochs: int = 12) -> list:
    """The snapshot run's events, a readout on every even epoch (the budget skipped the odd ones)."""
    out = []
    for e in search_events(epochs):
        if isinstance(e, EpochEnd) and e.epoch % 2 == 0:
            e = e.model_copy(update={"perturbation": readout_of(e), "epochs": epochs})
        out.append(e)
    return out


def host(events=None) -> Host:
    return Host(lambda: SearchScreen(FixedSession(events if events is not None else readout_events())))


def test_the_text_says_choice_strength_and_agreement():
    e = next(x for x in readout_events() if isinstance(x, EpochEnd) and x.epoch == 8)
    text = readout_text((8, e.perturbation), "1").plain
    head, line = text.split("\n")
    assert head == "PT@8 blk 1 · agree 5/6" and line.startswith("k ") and "+2≠α" in line and "=α" in line
    assert readout_text(None, "1").plain == "PT: none yet"


def test_readout_strip_80x24(snap_compare):
    async def pick(pilot):
        await settle(pilot)
        for _ in range(3):
            await pilot.press("left_square_bracket")  # epoch 12 -> 9: the readout of epoch 8
        await settle(pilot)

    assert snap_compare(host(), terminal_size=SIZE, run_before=pick)


def test_the_picker_shows_the_picked_epochs_readout_and_the_strip_fits():
    async def scenario():
        app = host()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            strip = app.screen.query_one(ReadoutStrip)
            assert str(strip.render()).startswith("PT@12 blk 1")
            assert "+3≠α" in str(strip.render())
            await pilot.press("left_square_bracket")  # epoch 11: the budget skipped it, epoch 10's readout
            await settle(pilot)
            assert str(strip.render()).startswith("PT@10") and "+2.5≠α" in str(strip.render())
            assert strip.size.height == 2 and strip.region.right <= 34  # the left column: the plots keep their rows

    asyncio.run(scenario())


def test_a_run_without_readouts_shows_no_strip():
    async def scenario():
        app = host(search_events(12))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert not app.screen.query_one(ReadoutStrip).display

    asyncio.run(scenario())


def test_fig3_marks_the_perturbation_choice_on_each_panel(tmp_path):
    import pytest

    pytest.importorskip("matplotlib")
    from presnet_tui.cli.views.figures import fig3
    from presnet_tui.shared.trajectory import trajectory_from_events

    events = readout_events()
    marks = [
        (
            e.epoch,
            {b: {d: (r.choice, 0.5, r.agrees) for d, r in ds.items()} for b, ds in e.perturbation.decisions.items()},
        )
        for e in events
        if isinstance(e, EpochEnd) and e.perturbation is not None
    ]
    out = tmp_path / "fig3.svg"
    fig3(trajectory_from_events(events), ["1", "2"], out, readouts=marks)
    svg = out.read_text()
    assert "perturbation choice ≠ argmax" in svg and "perturbation choice" in svg
    plain = tmp_path / "plain.svg"
    fig3(trajectory_from_events(events), ["1", "2"], plain)
    assert "perturbation choice" not in plain.read_text()


def test_the_headless_log_says_the_agreement_each_epoch_and_where_the_selections_differ():
    from io import StringIO

    from rich.console import Console

    from core.run.events import ArchitectureDerived
    from presnet_tui.cli.views.headless import HeadlessView

    out = StringIO()
    view = HeadlessView(Console(file=out, width=240))
    ends = [e for e in readout_events() if isinstance(e, EpochEnd)]
    for e in ends[:9]:  # epochs 1-9: the last readout is epoch 8's
        view.handle(e)
    arch = {"blocks": {}, "source": {"epoch": 9}}
    view.handle(ArchitectureDerived(epoch=9, architecture=arch, params=1, path="arch.json", confidence={}))
    text = " ".join(out.getvalue().split())
    assert "PT=α 5/6" in text  # the epoch lines of the epochs with a readout
    assert "selected by alpha argmax; perturbation and argmax differ at 1 of 6 decisions: 1 kernel" in text
    assert "(readout of epoch 8)" in text
