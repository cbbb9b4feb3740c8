"""A full disk (issue 29): an ENOSPC (or EIO) at each write point -- a search and a retrain checkpoint,
the retrain's weights, an event line, summary.json after the search and after the retrain -- ends the run
with one error line naming the path and the free space, keeps the previous checkpoint loadable, and a
resume once there is room finishes with the uninterrupted run's result.

The errors come from core.faults (``PRESNET_FAULT=enospc:<point>@<label>``): the ``OSError`` a full disk
gives, raised once at that point, so every write point is hit deterministically.
"""

from __future__ import annotations

import json
import re

import pytest
import torch
import yaml

from core.api.worker import EXIT_FAILED
from core.run.events import read_events
from tests.e2e.test_faults import CONFIG
from tests.support import CLI, child_env

pytestmark = pytest.mark.slow

#: (fault, the file it names, the newest checkpoint that must survive it and the epochs it holds)
WRITE_POINTS = [
    ("enospc:checkpoint@search-2", "checkpoints/search.pt", "search.pt", 1),  # epoch 2's failed: epoch 1's kept
    ("enospc:event@epoch_end-3", "events.jsonl", "search.pt", 2),
    ("eio:summary@search,architecture,params,world_size", "summary.json", "search.pt", 3),
    ("enospc:checkpoint@retrain-1", "checkpoints/retrain.pt", None, None),  # none yet: the retrain starts afresh
    ("enospc:checkpoint@weights-None", "weights/last.pt", None, None),  # epoch 1's weights, before its checkpoint
    ("enospc:summary@architecture,params,retrain,world_size", "summary.json", "retrain.pt", 2),
]


def run_cli(args: list[object], fault: str | None = None) -> tuple[int, str]:
    import subprocess

    proc = subprocess.run(
        [*CLI, *map(str, args)], env=child_env(fault), capture_output=True, text=True, timeout=300, check=False
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_a_write_error_at_each_point_stops_with_one_line_and_resumes(tmp_path):
    config = {**CONFIG, "search": {**CONFIG["search"], "epochs": 3}, "retrain": {"epochs": 2}}
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(config))
    ref, run = tmp_path / "reference", tmp_path / "run"
    code, out = run_cli(["run", "--headless", "--config", cfg, "--out", ref])
    assert code == 0, out
    requeue = ["run", "--headless", "--config", cfg, "--out", run, "--resume-if-exists"]
    for fault, path, kept, epochs in WRITE_POINTS:
        code, out = run_cli(requeue, fault)
        assert code == EXIT_FAILED, f"{fault}: exit {code}\n{out}"
        errors = [line for line in out.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, f"{fault}: {errors}\n{out}"
        (line,) = errors
        reason = "No space left on device" if fault.startswith("enospc") else "Input/output error"
        assert reason in line and str(run / path) in line and re.search(r"\d B|\d\.\d [KMG]iB free", line), line
        assert "Traceback" not in out
        if kept is None:
            assert not (run / "checkpoints" / "retrain.pt").exists()
        else:  # the last checkpoint written before the failed write: whole, and the one expected
            assert torch.load(run / "checkpoints" / kept, weights_only=True)["epoch_done"] == epochs, fault
        assert not list(run.rglob("*.tmp")), fault  # no temp file left behind
        read_events(run / "events.jsonl")  # whole lines only (a torn line would be cut, never kept)
    code, out = run_cli(requeue)
    assert code == 0, out

    events, ref_events = read_events(run / "events.jsonl"), read_events(ref / "events.jsonl")
    assert [e.epoch for e in events if e.kind == "epoch_end"] == [1, 2, 3]
    assert [e.epoch for e in events if e.kind == "retrain_epoch_end"] == [1, 2]
    for mine, theirs in zip(
        (e for e in events if e.kind == "epoch_end"), (e for e in ref_events if e.kind == "epoch_end"), strict=True
    ):
        assert mine.alphas == theirs.alphas
    summary, ref_summary = (json.loads((d / "summary.json").read_text()) for d in (run, ref))
    assert summary["retrain"]["test_top1"] == ref_summary["retrain"]["test_top1"]
    assert summary["architecture"]["blocks"] == ref_summary["architecture"]["blocks"]
