"""``epoch_end`` carries each decision's settled state from the engine's stop criterion."""

from __future__ import annotations

import json

import pytest

from core.run.events import EpochEnd, parse_event
from core.train.convergence import ConvergenceTracker


@pytest.mark.slow
def test_epoch_end_carries_the_stop_criterions_settled_state(synthetic, start):
    cfg = synthetic(epochs=4, patience=1, margin=0.0, auto_stop=False)
    runner, _, seen = start(cfg, retrain=False)
    assert runner.wait(120).status == "done"
    ends = [e for e in seen if isinstance(e, EpochEnd)]
    assert [e.phase for e in ends] == ["warmup", "search", "search", "search"]
    assert ends[0].settled == {}  # warm-up: the criterion has not started
    replay = ConvergenceTracker(cfg.search.patience, cfg.search.margin, cfg.search.threshold)
    for e in ends[1:]:
        replay.update(e.epoch, e.alphas)
        assert e.settled == replay.settled_map()
    assert set(ends[-1].settled) == {str(b) for b in cfg.search_space().block_ids}
    assert any(any(d.values()) for d in ends[-1].settled.values())  # margin 0, patience 1: settled at once


def test_an_epoch_end_written_before_the_field_still_parses():
    old = {
        "kind": "epoch_end",
        "epoch": 3,
        "epochs": 5,
        "phase": "search",
        "train_loss": 1.0,
        "train_top1": 0.5,
        "lr": 0.1,
        "elapsed_s": 3.0,
        "alphas": {"1": {"kernel": {"3": 0.4, "5": 0.6}}},
    }
    event = parse_event(json.dumps(old))
    assert isinstance(event, EpochEnd) and event.settled == {}
