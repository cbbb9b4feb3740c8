"""A progressive search as the front ends show it: the headless log's stage lines, the TUI's stage in the
header and frozen blocks greyed with their choice, Fig. 3's stage boundaries, inspect's stages."""

from __future__ import annotations

import asyncio
import json

import pytest
import yaml

from core.run.control import Control
from core.run.events import EventBus, read_events
from core.run.rundir import RunDir
from core.train.job import Job
from presnet_tui.app.app import PresnetApp
from presnet_tui.app.widgets.blocks import BlockTable
from presnet_tui.shared.model import RunModel
from tests.support import invoke


@pytest.fixture
def progressive_run(tiny):
    """A finished tiny progressive search (s then m; every stage end freezes)."""
    cfg = tiny(
        space={"scope": "progressive"},
        data={"dataset": "synthetic", "synthetic_size": 256, "batch_size": 16},
        search={
            "epochs": 4,
            "warmup_epochs": 1,
            "progressive": ["s", "m"],
            "stage_epochs": 2,
            "freeze_unsettled": True,
        },
    )
    job = Job(cfg, RunDir.create(cfg), EventBus(), Control(), retrain=False)
    assert job.run().status == "done"
    return RunDir.open(cfg.run.out)


@pytest.mark.slow
def test_the_model_shows_blocks_as_their_stage_starts_and_frozen_choices(progressive_run):
    model = RunModel()
    seen_blocks = []
    for e in read_events(progressive_run.events_file):
        model.apply(e)
        if e.kind in ("stage_start", "stage_end"):
            seen_blocks.append((e.kind, list(model.block_ids), model.stage))
    assert seen_blocks == [
        ("stage_start", [1], "stage 1/2"),
        ("stage_end", [1], "stage 1/2"),
        ("stage_start", [1, 2, 3], "stage 2/2"),
        ("stage_end", [1, 2, 3], "stage 2/2"),
    ]
    end1 = next(e for e in read_events(progressive_run.events_file) if e.kind == "stage_end")
    assert model.status(1) == "=="  # both decisions of block 1 frozen at stage 1's end
    assert model.argmax("1", "kernel") == (end1.frozen["1"]["kernel"], 1.0)


@pytest.mark.slow
def test_attached_tui_header_names_the_stage_and_greys_frozen_blocks(progressive_run):
    async def scenario():
        app = PresnetApp(attach=progressive_run.path)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            for _ in range(300):
                if screen.model.search_done and screen.query_one(BlockTable).row_count == 3:
                    break
                await pilot.pause(0.1)
            table = screen.query_one(BlockTable)
            assert table.row_count == 3
            cell = table.get_cell("1", "kernel")
            assert "frz" in str(cell) and "dim" in str(getattr(cell, "style", ""))
            assert "stage 2/2" in str(screen.query_one("#run-status").render())
            await pilot.press("q")

    asyncio.run(scenario())


@pytest.mark.slow
def test_headless_log_has_a_line_per_stage_start_and_end(tiny_yaml):
    res = invoke("search", "-c", tiny_yaml, "--progressive", "s,m", "--epochs", 3, "--out", tiny_yaml.parent / "r")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert sum(line.startswith("stage 1/2 from epoch 1") for line in lines) == 1
    assert sum(line.startswith("stage 1 ended at epoch") for line in lines) == 1
    config = yaml.safe_load((tiny_yaml.parent / "r" / "config.yaml").read_text())
    assert config["space"]["scope"] == "progressive" and config["search"]["progressive"] == ["s", "m"]


def test_fig3_marks_each_later_stage_start():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from presnet_tui.cli.views.figures import mark_stages

    fig, ax = plt.subplots()
    mark_stages(ax, [(4.0, "stage 2"), (9.0, "stage 3")], label=True)
    xs = [line.get_xdata()[0] for line in ax.get_lines()]
    assert xs == [4.0, 9.0] and [t.get_text().strip() for t in ax.texts] == ["stage 2", "stage 3"]
    plt.close(fig)


def test_inspect_shows_the_stages():
    res = invoke("inspect", "--scope", "progressive", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert [s["scope"] for s in data["progressive"]] == ["s", "m", "l", "f"]
    assert data["progressive"][1]["new_blocks"] == list(range(4, 10)) and data["search_blocks"] == list(range(1, 17))


def test_a_block_with_one_decision_frozen_and_one_open_reads_everywhere():
    """Stage ends freeze decisions, not blocks: block 10's kernel frozen, its activation still open."""
    from io import StringIO

    from rich.console import Console

    from core.run.events import EpochEnd, SearchStarted, StageEnd
    from presnet_tui.cli.views.headless import HeadlessView, argmax_line

    snapshot = {
        "10": {"activation": {"relu": 0.2, "mish": 0.8}},
        "14": {"kernel": {"3": 0.9, "5": 0.1}, "activation": {"relu": 1.0}},
    }
    frozen = {"10": {"kernel": "5"}}
    assert argmax_line(snapshot, frozen) == "10:5x5/mish 14:3x3/relu"
    assert argmax_line(snapshot) == "10:? 14:3x3/relu"  # never a crash, even without the frozen part
    out = StringIO()
    view = HeadlessView(Console(file=out, width=200))
    view.handle(StageEnd(stage=1, epoch=3, reason="budget", frozen=frozen, open=[10]))
    epoch = dict(epoch=4, epochs=6, phase="search", train_loss=1.0, train_top1=0.5, lr=0.1, elapsed_s=1.0)
    view.handle(EpochEnd(**epoch, alphas=snapshot))
    assert "10:5x5/mish" in out.getvalue()
    model = RunModel()
    model.apply(
        SearchStarted(
            config={},
            block_ids=[10, 14],
            stages={},
            candidates={"kernel": ["3", "5"], "activation": ["relu", "mish"]},
            params=1,
            num_classes=10,
            steps_per_epoch=1,
            epochs=6,
            progressive={"stage": 2, "stages": 2, "blocks": [10, 14], "frozen": frozen},
        )
    )
    model.apply(EpochEnd(**epoch, alphas=snapshot))
    assert model.argmax("10", "kernel") == ("5", 1.0) and model.argmax("10", "activation") == ("mish", 0.8)
    assert model.status(10) == "=·" and model.block_ids == [10, 14] and model.stage == "stage 2/2"
