"""Preemption under torchrun (issue 40): SIGTERM to the launcher of a two-rank search (gloo, CPU) --
what a scheduler sends a job -- reaches every rank through torchrun; the ranks checkpoint at one agreed
step (the ``suspended`` event carries each rank's digest of its state and stopping point, which must be
equal), the launcher exits 143, and the requeue line (the same ``presnet run ... --resume-if-exists
--nproc 2``) resumes it to the very alphas, architecture, weights and test top-1 of an uninterrupted
two-rank run."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml

from core.run.events import read_events
from tests.support import CLI, assert_resumed_like_uninterrupted, child_env

pytestmark = pytest.mark.slow

CONFIG = {
    "space": {"scope": "m"},
    "network": {"width_mult": 0.125, "depths": [1, 1, 1, 1]},
    "data": {"dataset": "synthetic", "synthetic_size": 384, "batch_size": 16, "val_fraction": 0.25},
    "search": {"epochs": 6, "warmup_epochs": 1, "alphas_every": 2},  # room after the first checkpoint
    "retrain": {"epochs": 1},
    "run": {"device": "cpu", "threads": 1, "seed": 3, "channels_last": "off"},
}


def launch(cfg: Path, out: Path) -> subprocess.Popen:
    """The job script's one line, on two ranks: starts the run, or continues it if ``out`` has one."""
    args = ["run", "--headless", "--config", str(cfg), "--out", str(out), "--resume-if-exists", "--nproc", "2"]
    return subprocess.Popen([*CLI, *args], env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen, timeout: float = 400) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err.decode()


def test_sigterm_to_torchrun_mid_search_then_requeue_matches_an_uninterrupted_run(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG))
    ref, run = tmp_path / "reference", tmp_path / "run"
    reference = launch(cfg, ref)  # alongside
    job = launch(cfg, run)
    ckpt = run / "checkpoints" / "search.pt"
    deadline = time.monotonic() + 300
    while not ckpt.exists():  # epoch 1 is done: the signal lands in a later epoch of the search
        assert job.poll() is None and time.monotonic() < deadline, finish(job)
        time.sleep(0.05)
    job.send_signal(signal.SIGTERM)  # to the launcher alone, as a scheduler's preemption
    code, err = finish(job)
    assert code == 143, f"exit {code}\n{err}"
    last = read_events(run / "events.jsonl")[-1]
    assert last.kind == "suspended" and last.phase == "search" and last.by == "SIGTERM", last
    digests = last.rank_state_sha256  # each rank's state and stopping point, at the suspension
    assert digests is not None and len(digests) == 2 and digests[0] == digests[1]
    saved = torch.load(ckpt, weights_only=True)
    assert (saved["epoch_done"] + 1, saved["step"]) == (last.epoch, last.step) and last.epoch >= 2

    code, err = finish(launch(cfg, run))  # the requeued job: the same line
    assert code == 0, err
    code, err = finish(reference)
    assert code == 0, err

    summary, ref_summary = assert_resumed_like_uninterrupted(run, ref, 6)
    assert summary["world_size"] == 2
    for phase in ("search", "retrain"):
        assert summary[phase]["rank_state_sha256"] == ref_summary[phase]["rank_state_sha256"]
