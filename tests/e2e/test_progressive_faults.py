"""The fault matrix for a progressive search: SIGKILL at a stage boundary (in the stage_end and
stage_start lines, in the boundary's checkpoint) and mid-stage after a boundary (where the resume must
rebuild the frozen and widened network before loading its weights), resuming after each; the run must
end with the very stages, alphas, architecture, weights and test top-1 of an uninterrupted run.
"""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from core.run.events import read_events
from tests.support import kill_and_resume

SPE = 12  # 320 synthetic images: 192 train, 64 val, 64 test; batch 16
CONFIG = {
    "space": {"scope": "progressive"},
    "network": {"width_mult": 0.125, "depths": [1, 1, 2, 1]},
    "data": {"dataset": "synthetic", "synthetic_size": 320, "batch_size": 16, "val_fraction": 0.25},
    "search": {
        "epochs": 6,
        "warmup_epochs": 1,
        "alphas_every": 2,
        "progressive": ["s", "m"],
        "stage_epochs": 2,
        "stage_warmup_epochs": 1,
        "freeze_unsettled": True,  # every stage end freezes: the resume must rebuild a changed network
    },
    "retrain": {"epochs": 1},
    # channels_last explicit: auto's measured choice may differ between the runs compared
    "run": {"device": "cpu", "threads": 1, "seed": 3, "channels_last": "off"},
}

KILLS = [
    "event@stage_end-2",  # half the first stage's end on disk: resume from epoch 1's checkpoint
    "checkpoint@search-2",  # half the boundary's checkpoint (written after the freeze and the widening)
    "event@stage_start-3",  # half the second stage's start
    f"search_step@{2 * SPE + 5}",  # mid-stage 2: the checkpoint of epoch 2 holds the changed network
    f"search_step@{3 * SPE + 7}",  # after the second stage's warm-up
    "checkpoint@search-4",  # the last stage's end
]


@pytest.mark.slow
def test_kills_at_and_between_stage_boundaries_resume_to_the_uninterrupted_result(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG))
    ref, run = tmp_path / "reference", tmp_path / "run"

    def contiguous(i: int, fault: str) -> None:
        epochs = [e.epoch for e in read_events(run / "events.jsonl") if e.kind == "epoch_end"]
        assert epochs == list(range(1, len(epochs) + 1)), f"after kill {i + 1} ({fault}): {epochs}"

    kill_and_resume(cfg, ref, run, KILLS, contiguous)

    events, ref_events = read_events(run / "events.jsonl"), read_events(ref / "events.jsonl")

    def only(kind: str, evs=events) -> list:
        return [e for e in evs if e.kind == kind]

    # the stages happened once each, where the uninterrupted run had them, freezing the same choices
    def stages(evs) -> list:
        return [e.model_dump(exclude={"time"}) for e in evs if e.kind in ("stage_start", "stage_end")]

    assert stages(events) == stages(ref_events)
    assert [(e["kind"], e["stage"], e["epoch"]) for e in stages(events)] == [
        ("stage_start", 1, 1),
        ("stage_end", 1, 2),
        ("stage_start", 2, 3),
        ("stage_end", 2, 4),
    ]
    assert only("stage_end")[0].frozen["1"] and set(only("stage_end")[1].frozen) == {"2", "3"}
    # identical history: every epoch's alphas and losses, the stop, the architecture, the retrain
    assert [e.epoch for e in only("epoch_end")] == [1, 2, 3, 4]
    for mine, theirs in zip(only("epoch_end"), only("epoch_end", ref_events), strict=True):
        assert (mine.alphas, mine.train_loss, mine.val_loss) == (theirs.alphas, theirs.train_loss, theirs.val_loss)
    assert [(e.epoch, e.reason) for e in only("search_stopped")] == [(4, "completed")]
    summary, ref_summary = (json.loads((d / "summary.json").read_text()) for d in (run, ref))
    assert summary["architecture"]["blocks"] == ref_summary["architecture"]["blocks"]
    assert sorted(summary["architecture"]["blocks"]) == ["1", "2", "3"]
    assert summary["search"]["stages"] == ref_summary["search"]["stages"]
    assert summary["retrain"]["test_top1"] == ref_summary["retrain"]["test_top1"]
    mine_w = torch.load(run / "weights" / "last.pt", weights_only=True)["model"]
    ref_w = torch.load(ref / "weights" / "last.pt", weights_only=True)["model"]
    assert mine_w.keys() == ref_w.keys() and all(torch.equal(mine_w[k], ref_w[k]) for k in mine_w)
    assert not list(run.rglob("*.tmp"))
