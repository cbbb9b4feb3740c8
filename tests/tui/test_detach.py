"""The search outlives its window (issue 29): a search started from the TUI under tmux goes on when the
tmux session is killed (what an SSH drop does to a terminal), and finishes -- search, derive, retrain --
on its own, with a gap-free history.  Also: ``presnet ls`` tells live, finished, stopped, failed and crashed
runs apart, and the new command and flags refuse bad input with one line and exit 2.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from core.api.handle import RunHandle
from core.api.listing import list_runs
from core.run import lock
from core.run.events import read_events
from tests.support import REPO, child_env, invoke

TMUX = shutil.which("tmux")


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.skipif(TMUX is None, reason="no tmux: install Debian's tmux (apt-get install -y tmux)")
def test_a_search_started_in_the_tui_survives_tmux_kill_session(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "space": {"scope": "s"},
                "network": {"width_mult": 0.125, "depths": [1, 1, 2, 1]},
                "data": {"dataset": "synthetic", "synthetic_size": 320, "batch_size": 16},
                "search": {"epochs": 5, "warmup_epochs": 1, "alphas_every": 2},
                "retrain": {"epochs": 2},
                "run": {"device": "cpu", "threads": 1},
            }
        )
    )
    run = tmp_path / "run"
    session = f"presnet-test-{os.getpid()}"
    env = child_env()
    command = " ".join(
        [
            f"cd {shlex.quote(str(tmp_path))} &&",
            *(f"{k}={shlex.quote(env[k])}" for k in ("PYTHONPATH", "OMP_NUM_THREADS")),
            shlex.join([sys.executable, "-m", "presnet_tui.cli", "run", "-c", str(cfg), "--out", str(run)]),
        ]
    )
    tmux = [TMUX, "-L", session]  # a server of its own: the user's tmux is never touched

    def screen() -> str:
        return subprocess.run([*tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout

    subprocess.run([*tmux, "new-session", "-d", "-s", session, "-x", "100", "-y", "30", command], check=True)
    try:
        wait_until(lambda: "Search scope" in screen(), 120, "the setup screen")
        subprocess.run([*tmux, "send-keys", "-t", session, "C-s"], check=True)
        wait_until(lambda: "epoch_end" in _text(run / "events.jsonl"), 180, "the first epoch")
        owner = lock.read_owner(run)
        assert owner is not None and lock.is_held(run)
        app_pids = subprocess.run(
            [*tmux, "list-panes", "-t", session, "-F", "#{pane_pid}"], capture_output=True, text=True
        )
        assert str(owner.pid) not in app_pids.stdout.split()  # the run is not the app's process
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)  # the SSH drop: the terminal and the app go
    assert lock.is_held(run), "the run died with its window"
    assert not [e for e in read_events(run / "events.jsonl") if e.kind == "search_stopped"], "killed too late"
    RunHandle.attach(run).wait(timeout=600)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["search"]["epochs"] == 5 and summary["retrain"]["epochs"] == 2
    events = read_events(run / "events.jsonl")
    assert [e.epoch for e in events if e.kind == "epoch_end"] == [1, 2, 3, 4, 5]
    assert [e.epoch for e in events if e.kind == "retrain_epoch_end"] == [1, 2]
    for kind in ("search_started", "search_stopped", "architecture", "retrain_started", "retrain_done"):
        assert [e.kind for e in events].count(kind) == 1, kind
    assert "Traceback" not in (run / "worker.log").read_text()


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


# -- presnet ls ------------------------------------------------------------------------------------------
def _made(folder: Path, name: str, events: list, summary: dict | None = None) -> Path:
    from core.config import dump_yaml
    from tests.conftest import tiny_config

    run = folder / name
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(dump_yaml(tiny_config(folder)))
    (run / "events.jsonl").write_text("".join(e.model_dump_json() + "\n" for e in events))
    if summary is not None:
        (run / "summary.json").write_text(json.dumps(summary))
    return run


def test_presnet_ls_tells_the_states_apart(tmp_path):
    from core.run.events import EpochEnd, Error, SearchStarted, Suspended

    started = SearchStarted(
        config={}, block_ids=[1], stages={"1": 4}, candidates={}, params=1, num_classes=10, steps_per_epoch=4, epochs=5
    )
    alphas = {"1": {"kernel": {"3": 0.9, "5": 0.1}}}
    end = EpochEnd(
        epoch=2, epochs=5, phase="search", train_loss=1, train_top1=0.5, lr=0.1, elapsed_s=1, alphas=alphas,
        settled={"1": {"kernel": True, "activation": False}},
    )  # fmt: skip
    runs = tmp_path / "runs"
    live = _made(runs, "a-live", [started, end])
    _made(runs, "b-finished", [started, end], {"search": {"epochs": 5}, "retrain": {"epochs": 2, "test_top1": 0.5}})
    _made(runs, "c-stopped", [started, end, Suspended(phase="search", epoch=3, step=2, by="SIGTERM")])
    _made(runs, "d-failed", [started, Error(message="loss became non-finite")])
    _made(runs, "e-crashed", [started, end])
    held = lock.acquire(live)
    try:
        records = {Path(r.path).name: r for r in list_runs(runs)}
        res = invoke("ls", runs, "--json")
        table = invoke("ls", runs).stdout
    finally:
        held.release()
    states = {name: r.state for name, r in records.items()}
    assert states == {
        "a-live": "live",
        "b-finished": "finished",
        "c-stopped": "stopped",
        "d-failed": "failed",
        "e-crashed": "crashed",
    }
    live_record = records["a-live"]
    assert (live_record.phase, live_record.epoch, live_record.epochs) == ("search", 2, 5)
    assert (live_record.settled, live_record.decisions, live_record.pid) == (1, 2, os.getpid())
    assert records["b-finished"].test_top1 == 0.5 and records["c-stopped"].note.startswith("by SIGTERM")
    assert res.exit_code == 0
    assert [r["state"] for r in json.loads(res.stdout)] == ["live", "finished", "stopped", "failed", "crashed"]
    assert "a-live" in table and "crashed" in table and f"{os.getpid()}@" in table


# -- bad input: one line, exit 2 ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["ls", "/no/such/folder"],
        ["ls", str(REPO / "pyproject.toml")],
        ["run", "--headless", "--resume-if-exists"],
        ["run", "--resume-if-exists", "--out", "somewhere"],
        ["resume", "RUN", "--arch", "a.json", "--search-only"],
        ["resume", "RUN", "--arch", "missing.json"],
    ],
)
def test_bad_input_to_the_new_commands_and_flags_is_one_line(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = _made(tmp_path, "RUN", [])
    (tmp_path / "a.json").write_text("{}")
    res = invoke(*[str(run) if a == "RUN" else a for a in args])
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error:"), (args, res.stderr)


def test_a_worker_that_fails_at_once_is_one_error_and_leaves_no_directory(tmp_path):
    """RunHandle.start: a worker that ends before its first event is raised with its last log line."""
    from core.errors import PresnetError

    target = tmp_path / "runs" / "new"
    with pytest.raises(PresnetError, match="boom"):
        RunHandle.start([sys.executable, "-c", "import sys; print('error: boom'); sys.exit(2)"], target)
    assert not target.exists()


def test_a_detached_worker_ignores_the_hangup_of_the_window_that_started_it(tmp_path):
    """Its own session: the SIGHUP a closing terminal sends its process group never reaches it."""
    target = tmp_path / "w"
    events = target / "events.jsonl"
    script = f"import pathlib, time; pathlib.Path({str(events)!r}).write_text('x'); time.sleep(30)"
    handle = RunHandle.start([sys.executable, "-c", script], target)
    try:
        assert handle.proc is not None and handle.is_alive()
        assert os.getsid(handle.proc.pid) == handle.proc.pid != os.getsid(0)  # a session (and group) of its own
        assert os.getpgid(handle.proc.pid) != os.getpgid(0)
    finally:
        handle.proc.send_signal(signal.SIGKILL)
        handle.proc.wait(5)
