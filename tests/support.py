"""Helpers shared by the tests (not a test file): the CLI in process, and the CLI as a child process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from presnet_tui.cli import app

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "presnet_tui.cli"]
cli = CliRunner()


def invoke(*args: object):
    """``presnet ARGS`` in this process (exceptions propagate: a traceback fails the test)."""
    return cli.invoke(app, [str(a) for a in args], catch_exceptions=False)


def child_env(fault: str | None = None) -> dict[str, str]:
    """The environment of a ``presnet`` child: this checkout first, one thread, no stray fault point."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120", "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env.pop("PRESNET_FAULT", None)
    if fault:
        env["PRESNET_FAULT"] = fault  # core.faults: the child kills itself there
    return env


def spawn(args: list[object], fault: str | None = None, **kw) -> subprocess.Popen:
    """``presnet ARGS`` as a child process (stdout dropped, stderr piped unless ``kw`` says otherwise)."""
    kw.setdefault("stdout", subprocess.DEVNULL)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([*CLI, *map(str, args)], env=child_env(fault), **kw)


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    """Wait for a spawned ``presnet``: its exit code and its stderr."""
    _, err = proc.communicate(timeout=300)
    return proc.returncode, err.decode()


def kill_and_resume(
    config: Path, ref: Path, run: Path, faults: list[str], after_kill: Callable[[int, str], None]
) -> None:
    """The fault matrix's walk: an uninterrupted ``presnet run`` at ``ref`` alongside; at ``run`` a run
    killed (SIGKILL) at the first fault point, then ``presnet resume`` killed at each next one
    (``after_kill(i, fault)`` checks the directory after each), then a resume to the end.  Both end with
    exit 0."""
    reference = spawn(["run", "--headless", "--config", config, "--out", ref])  # alongside, on the other core
    for i, fault in enumerate(faults):
        args = ["run", "--headless", "--config", config, "--out", run] if i == 0 else ["resume", run, "--headless"]
        code, err = finish(spawn(args, fault))
        assert code == -signal.SIGKILL, f"kill {i + 1} ({fault}) did not happen: exit {code}\n{err}"
        after_kill(i, fault)
    code, err = finish(spawn(["resume", run, "--headless"]))
    assert code == 0, err
    code, err = finish(reference)
    assert code == 0, err


def assert_resumed_like_uninterrupted(run: Path, ref: Path, epochs: int) -> tuple[dict, dict]:
    """A run suspended once by SIGTERM and resumed against the same run left alone: the history keeps its
    one suspension (issue 39), and every search epoch's alphas and losses, the architecture, the test
    top-1 and the final weights are equal to the last bit.  Returns both summaries for further checks."""
    import json

    import torch

    from core.run.events import read_events

    events, ref_events = read_events(run / "events.jsonl"), read_events(ref / "events.jsonl")
    mine = [e for e in events if e.kind == "epoch_end"]
    theirs = [e for e in ref_events if e.kind == "epoch_end"]
    assert [e.epoch for e in mine] == list(range(1, epochs + 1))
    assert [(e.kind, e.by) for e in events if e.kind == "suspended"] == [("suspended", "SIGTERM")]
    for a, b in zip(mine, theirs, strict=True):
        assert (a.alphas, a.train_loss, a.val_loss) == (b.alphas, b.train_loss, b.val_loss), a.epoch
    summary, ref_summary = (json.loads((d / "summary.json").read_text()) for d in (run, ref))
    assert summary["architecture"]["blocks"] == ref_summary["architecture"]["blocks"]
    assert summary["retrain"]["test_top1"] == ref_summary["retrain"]["test_top1"]
    weights = [torch.load(d / "weights" / "last.pt", weights_only=True)["model"] for d in (run, ref)]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    return summary, ref_summary
