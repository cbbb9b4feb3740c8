"""The fault matrix: SIGKILL a real headless run at 13 moments across search, derive and
retrain -- including in the middle of a checkpoint write and of an event line -- resuming
after each, and prove nothing was lost, doubled or changed.

The kills come from core.faults (``PRESNET_FAULT=<point>@<label>``: the process sends
itself SIGKILL there, as ``kill -9`` would), so each lands on its moment exactly; the
steps inside an epoch are drawn from a seeded generator.  On the CPU the run is
deterministic, so the interrupted run must end with the very alphas, architecture,
weights and test top-1 of an uninterrupted run with the same seed.
"""

from __future__ import annotations

import json
import random
import signal
from pathlib import Path

import pytest
import torch
import yaml

from core.run.events import read_events
from tests.support import finish, kill_and_resume, spawn

SEED = 13
SEARCH_EPOCHS, RETRAIN_EPOCHS = 4, 3
# 320 synthetic images: 260 train+val (195 + 65), 60 test; batch 16; the retrain trains on 230, holds 30 out
SPE, RETRAIN_SPE = 12, 14
CONFIG = {
    "space": {"scope": "m"},
    "network": {"width_mult": 0.125, "depths": [1, 1, 2, 1]},
    "data": {"dataset": "synthetic", "synthetic_size": 320, "batch_size": 16, "val_fraction": 0.25},
    "search": {"epochs": SEARCH_EPOCHS, "warmup_epochs": 1, "alphas_every": 2},
    "retrain": {"epochs": RETRAIN_EPOCHS},
    # channels_last explicit: auto's measured choice may differ between the runs compared
    "run": {"device": "cpu", "threads": 1, "seed": 7, "channels_last": "off"},
}


def kill_schedule(rng: random.Random) -> list[str]:
    """Where each successive process dies; every point lies ahead of the last checkpoint."""

    def search_step(epoch: int) -> str:
        return f"search_step@{rng.randrange((epoch - 1) * SPE + 1, epoch * SPE)}"

    def retrain_step(epoch: int) -> str:
        return f"retrain_step@{rng.randrange((epoch - 1) * RETRAIN_SPE + 1, epoch * RETRAIN_SPE)}"

    return [
        search_step(1),  # warm-up, before the first checkpoint: the resume starts afresh
        "event@epoch_end-1",  # half an epoch_end line on disk
        "checkpoint@search-2",  # half a checkpoint in its temp file
        "event@alphas-3",  # half an alphas line, mid-epoch
        search_step(4),
        "checkpoint@search-4-final",  # the closing save, after the derive
        "derive@4",  # arch.json written, summary and event not yet
        "event@architecture-4",
        retrain_step(1),
        "checkpoint@retrain-1",
        "event@retrain_epoch_end-2",
        retrain_step(3),
        "event@retrain_done",
    ]


def history(run: Path, kind: str) -> list[int]:
    return [e.epoch for e in read_events(run / "events.jsonl") if e.kind == kind]  # a torn last line is skipped


def assert_contiguous(epochs: list[int], what: str) -> None:
    assert epochs == list(range(1, len(epochs) + 1)), f"{what}: {epochs}"


@pytest.mark.slow
def test_sigkill_at_13_moments_then_resume_matches_an_uninterrupted_run(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG))
    ref, run = tmp_path / "reference", tmp_path / "run"

    def one_writer(i: int, fault: str) -> None:
        # whatever the moment, the history on disk so far is one writer's: contiguous, no repeats
        assert_contiguous(history(run, "epoch_end"), f"after kill {i + 1} ({fault})")
        assert_contiguous(history(run, "retrain_epoch_end"), f"after kill {i + 1} ({fault})")

    kill_and_resume(cfg, ref, run, kill_schedule(random.Random(SEED)), one_writer)

    events = read_events(run / "events.jsonl")
    ref_events = read_events(ref / "events.jsonl")

    def only(kind: str, evs=events) -> list:
        return [e for e in evs if e.kind == kind]

    # complete and duplicate-free
    assert [e.epoch for e in only("epoch_end")] == list(range(1, SEARCH_EPOCHS + 1))
    assert [e.epoch for e in only("retrain_epoch_end")] == list(range(1, RETRAIN_EPOCHS + 1))
    for kind in ("search_stopped", "architecture", "retrain_done"):
        assert len(only(kind)) == 1, kind
    assert (
        only("search_started")[0].steps_per_epoch == SPE and only("retrain_started")[0].steps_per_epoch == RETRAIN_SPE
    )

    # summary.json agrees with the events
    summary = json.loads((run / "summary.json").read_text())
    stopped, derived, done = only("search_stopped")[0], only("architecture")[0], only("retrain_done")[0]
    assert summary["search"]["epochs"] == stopped.epoch == SEARCH_EPOCHS
    assert summary["search"]["stop_reason"] == stopped.reason == "completed"
    assert summary["architecture"] == derived.architecture == json.loads((run / "arch.json").read_text())
    assert summary["params"] == derived.params == done.params
    assert summary["retrain"]["epochs"] == done.epochs == RETRAIN_EPOCHS
    assert summary["retrain"]["test_top1"] == done.test_top1  # read once, at the end
    assert summary["retrain"]["val_top1"] == done.val_top1 == only("retrain_epoch_end")[-1].val_top1
    assert all(e.test_top1 is None and e.val_top1 is not None for e in only("retrain_epoch_end"))
    assert "best_top1" not in summary["retrain"] and done.best_top1 is None  # nothing selected on test data

    # the same run as one never interrupted: alphas every epoch, architecture, test top-1, weights
    for mine, theirs in zip(only("epoch_end"), only("epoch_end", ref_events), strict=True):
        assert (mine.alphas, mine.train_loss, mine.val_loss) == (theirs.alphas, theirs.train_loss, theirs.val_loss)
    for mine, theirs in zip(only("retrain_epoch_end"), only("retrain_epoch_end", ref_events), strict=True):
        assert (mine.train_loss, mine.val_top1) == (theirs.train_loss, theirs.val_top1)
    ref_summary = json.loads((ref / "summary.json").read_text())
    assert summary["architecture"]["blocks"] == ref_summary["architecture"]["blocks"]
    assert summary["retrain"]["test_top1"] == ref_summary["retrain"]["test_top1"]
    mine_w = torch.load(run / "weights" / "last.pt", weights_only=True)["model"]
    ref_w = torch.load(ref / "weights" / "last.pt", weights_only=True)["model"]
    assert mine_w.keys() == ref_w.keys() and all(torch.equal(mine_w[k], ref_w[k]) for k in mine_w)

    # the writes the kills cut short left nothing behind
    assert not [p for p in run.rglob("*.tmp")]


@pytest.mark.slow
def test_a_kill_after_a_decided_stop_resumes_into_that_stop_and_writes_the_summary(tmp_path):
    """The stop decision (here stop_at_epoch 2) is kept in the epoch's checkpoint: a kill right after
    it (in the derive) resumes into the same stop, not into a third epoch.  And a kill between the
    retrain's closing checkpoint and summary.json still ends with the retrain in the summary."""
    cfg = tmp_path / "c.yaml"
    config = {**CONFIG, "search": {**CONFIG["search"], "stop_at_epoch": 2}, "retrain": {"epochs": 1}}
    cfg.write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    code, err = finish(spawn(["run", "--headless", "--config", str(cfg), "--out", str(run)], fault="derive@2"))
    assert code == -signal.SIGKILL, err
    code, err = finish(spawn(["resume", str(run), "--headless"], fault="retrain_done@1"))
    assert code == -signal.SIGKILL, err
    assert "retrain" not in json.loads((run / "summary.json").read_text())  # killed before the summary
    code, err = finish(spawn(["resume", str(run), "--headless"]))
    assert code == 0, err
    assert history(run, "epoch_end") == [1, 2]
    stops = [e for e in read_events(run / "events.jsonl") if e.kind == "search_stopped"]
    assert [(e.epoch, e.reason) for e in stops] == [(2, "user")]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["search"]["epochs"] == 2 and summary["retrain"]["epochs"] == 1
