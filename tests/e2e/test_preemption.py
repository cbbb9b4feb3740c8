"""Preemption (issue 29): SIGTERM or SIGUSR1 -- what a cluster scheduler sends before it takes the node --
ends a worker at the next step boundary with a checkpoint that resumes mid-epoch with the same batches,
a ``suspended`` event and exit code 143; the one-line requeue command (``presnet run --headless --out DIR
--resume-if-exists``) then continues it, and the result is the uninterrupted run's, bit for bit.

The signals come from core.faults (``PRESNET_FAULT=sigterm:search_step@G``: the process signals itself
before global step G), so each lands inside a known epoch.
"""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from core.api.worker import EXIT_PREEMPTED
from core.run.events import read_events
from tests.e2e.test_faults import CONFIG, RETRAIN_SPE, SPE
from tests.support import finish, spawn

pytestmark = pytest.mark.slow

SEARCH_AT, RETRAIN_AT = SPE + 5, RETRAIN_SPE + 3  # epoch 2 of the search, epoch 2 of the retrain


def test_sigterm_and_sigusr1_mid_epoch_then_requeue_matches_an_uninterrupted_run(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG))
    ref, run = tmp_path / "reference", tmp_path / "run"
    requeue = ["run", "--headless", "--config", cfg, "--out", run, "--resume-if-exists"]
    reference = spawn(["run", "--headless", "--config", cfg, "--out", ref])

    for fault, phase, step in (
        (f"sigterm:search_step@{SEARCH_AT}", "search", 5),
        (f"sigusr1:retrain_step@{RETRAIN_AT}", "retrain", 3),
    ):
        code, err = finish(spawn(requeue, fault))  # the first time it starts the run, then it continues it
        assert code == EXIT_PREEMPTED, f"{fault}: exit {code}\n{err}"
        last = read_events(run / "events.jsonl")[-1]
        assert last.kind == "suspended" and last.phase == phase and last.epoch == 2, last
        assert last.by == fault.split(":")[0].upper()
        # the signal lands before step `step + 1` of the epoch: the engine leaves at the next boundary or so
        assert step <= last.step <= step + 2, last
        ckpt = torch.load(run / "checkpoints" / f"{phase}.pt", weights_only=True)
        assert (ckpt["epoch_done"], ckpt["step"]) == (1, last.step)  # mid-epoch 2, where it left
    code, err = finish(spawn(requeue))
    assert code == 0, err
    code, err = finish(reference)
    assert code == 0, err

    events, ref_events = read_events(run / "events.jsonl"), read_events(ref / "events.jsonl")

    def only(kind: str, evs=events) -> list:
        return [e for e in evs if e.kind == kind]

    assert [e.epoch for e in only("epoch_end")] == [e.epoch for e in only("epoch_end", ref_events)]
    # a resume cuts the history back to its checkpoint's (gap-free, no doubles) but keeps each suspension
    assert [(e.phase, e.by) for e in only("suspended")] == [("search", "SIGTERM"), ("retrain", "SIGUSR1")]
    for mine, theirs in zip(only("epoch_end"), only("epoch_end", ref_events), strict=True):
        assert (mine.alphas, mine.train_loss, mine.val_loss) == (theirs.alphas, theirs.train_loss, theirs.val_loss)
    summary, ref_summary = (json.loads((d / "summary.json").read_text()) for d in (run, ref))
    assert summary["architecture"]["blocks"] == ref_summary["architecture"]["blocks"]
    assert summary["retrain"]["test_top1"] == ref_summary["retrain"]["test_top1"]
    mine_w = torch.load(run / "weights" / "last.pt", weights_only=True)["model"]
    ref_w = torch.load(ref / "weights" / "last.pt", weights_only=True)["model"]
    assert mine_w.keys() == ref_w.keys() and all(torch.equal(mine_w[k], ref_w[k]) for k in mine_w)
