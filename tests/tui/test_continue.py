"""Unpausing is "continue" (`presnet stop --continue`); `--resume` is its deprecated alias.
The TUI's settled marks come from the engine's epoch_end events, not from a tracker of its own."""

from __future__ import annotations

import json

from core.run.events import EpochEnd, SearchStarted
from presnet_tui.shared.model import RunModel
from tests.support import invoke


def _run_dir(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("{}\n")
    (run / "events.jsonl").write_text("")
    return run


def test_stop_continue_lifts_a_pause(tmp_path):
    run = _run_dir(tmp_path)
    assert invoke("stop", run, "--pause").exit_code == 0
    assert json.loads((run / "control.json").read_text())["paused"] is True
    res = invoke("stop", run, "--continue")
    assert res.exit_code == 0 and "continue" in res.stdout
    assert json.loads((run / "control.json").read_text())["paused"] is False
    assert "--resume" not in invoke("stop", "--help").stdout  # the old name is hidden


def test_stop_resume_still_works_and_says_it_is_deprecated(tmp_path):
    run = _run_dir(tmp_path)
    assert invoke("stop", run, "--pause").exit_code == 0
    res = invoke("stop", run, "--resume")
    assert res.exit_code == 0 and json.loads((run / "control.json").read_text())["paused"] is False
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "deprecated" in lines[0] and "--continue" in lines[0]


def test_continue_with_pause_is_one_error_line(tmp_path):
    res = invoke("stop", _run_dir(tmp_path), "--pause", "--continue")
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1 and "--continue" in res.stderr


def _epoch_end(epoch: int, settled: dict | None = None) -> EpochEnd:
    extra = {} if settled is None else {"settled": settled}
    alphas = {"1": {"kernel": {"3": 0.9, "5": 0.1}, "activation": {"relu": 0.5, "mish": 0.5}}}
    return EpochEnd(
        epoch=epoch, epochs=4, phase="search", train_loss=1, train_top1=0.5, lr=0.1, elapsed_s=1, alphas=alphas, **extra
    )


def test_the_model_marks_settled_decisions_from_the_event():
    model = RunModel()
    model.apply(
        SearchStarted(
            config={"search": {"patience": 1, "margin": 0.0}},  # a tracker of its own would settle both at once
            block_ids=[1],
            stages={"1": 4},
            candidates={"kernel": ["3", "5"], "activation": ["relu", "mish"]},
            params=10,
            num_classes=10,
            steps_per_epoch=2,
            epochs=4,
        )
    )
    model.apply(_epoch_end(1, {"1": {"kernel": True, "activation": False}}))
    assert model.status(1) == "✓·"
    model.apply(_epoch_end(2))  # an event file from before the field: nothing is marked settled
    assert model.status(1) == "··"


def test_the_unstable_mark_clears_when_the_decision_settles_again():
    """Issue 39: `!` stayed after a decision re-settled (`!✓` where derive said settled)."""
    from core.run.events import Unstable

    model = RunModel()
    model.apply(
        SearchStarted(
            config={"search": {"patience": 1, "margin": 0.0}},
            block_ids=[1],
            stages={"1": 4},
            candidates={"kernel": ["3", "5"], "activation": ["relu", "mish"]},
            params=10,
            num_classes=10,
            steps_per_epoch=2,
            epochs=4,
        )
    )
    model.apply(_epoch_end(1, {"1": {"kernel": True, "activation": False}}))
    model.apply(Unstable(epoch=2, block=1, decision="kernel", was="3", now="5"))
    model.apply(_epoch_end(2, {"1": {"kernel": False, "activation": False}}))
    assert model.status(1) == "!·"  # lost its lead, not settled again
    model.apply(_epoch_end(3, {"1": {"kernel": True, "activation": False}}))
    assert model.status(1) == "✓·"  # settled again: as derive says
