"""A progressive search on two processes (torchrun, gloo on the CPU): stages, freezing and widening
happen alike on both ranks, which end in the same state; the run directory holds one voice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import tiny_config

from core.run.events import read_events
from tests.support import child_env


@pytest.mark.slow
def test_two_process_progressive_search_freezes_and_widens_alike_on_every_rank(tmp_path: Path):
    cfg = tiny_config(
        tmp_path,
        space={"scope": "progressive"},
        data={"batch_size": 8},
        search={
            "epochs": 3,
            "warmup_epochs": 1,
            "progressive": ["s", "m"],
            "stage_epochs": [2, 1],
            "stage_warmup_epochs": 0,
            "freeze_unsettled": True,
        },
    )
    data = cfg.model_dump(mode="json", exclude_none=True)
    data["run"].pop("out", None)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    out = tmp_path / "run"
    res = subprocess.run(
        [sys.executable, "-m", "presnet_tui.cli", "search", "-c", str(path), "--out", str(out), "--nproc", "2"],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2
    digests = summary["search"]["rank_state_sha256"]  # the frozen, widened network and its alphas, per rank
    assert len(digests) == 2 and digests[0] == digests[1]
    events = read_events(out / "events.jsonl")
    stages = [(e.kind, e.stage, e.epoch) for e in events if e.kind in ("stage_start", "stage_end")]
    assert stages == [("stage_start", 1, 1), ("stage_end", 1, 2), ("stage_start", 2, 3), ("stage_end", 2, 3)]
    assert sorted(summary["architecture"]["blocks"]) == ["1", "2", "3"]
    assert res.stdout.count("stage 2/2 from epoch 3") == 1  # one voice on the console too
