"""A retrain from a past epoch's architecture (the TUI's derive-then-retrain) makes summary.json
agree with arch.json from the moment the retrain starts, not only once it ends."""

from __future__ import annotations

import json

import pytest

from core.api.derive import derive as derive_at
from core.run.control import Control
from core.run.events import EventBus, RetrainStarted
from core.train.job import Job
from core.train.runner import Runner


@pytest.mark.slow
def test_retrain_from_a_past_epoch_rewrites_the_summary_when_it_starts(synthetic, start):
    cfg = synthetic(epochs=3, alphas_every=1)
    runner, run, _ = start(cfg, retrain=False)
    assert runner.wait(120).status == "done"
    past = derive_at(run, 2)  # the search ended at epoch 3; the user picks epoch 2
    assert past.source["epoch"] == 2
    seen_at_start = {}

    def look(event):
        if isinstance(event, RetrainStarted):
            seen_at_start["summary"] = run.summary()
            seen_at_start["arch"] = json.loads(run.arch_file.read_text())

    bus = EventBus()
    bus.subscribe(look)
    result = Runner(Job(cfg, run, bus, Control(), search=False, arch=past).prepare()).start().wait(120)
    assert result is not None and result.status == "done", result and result.message
    summary, arch = seen_at_start["summary"], seen_at_start["arch"]
    assert summary.architecture == arch and arch["source"]["epoch"] == 2
    assert summary.params == sum(p.numel() for p in past.build().parameters())
    assert run.summary().architecture == json.loads(run.arch_file.read_text())  # and at the end
