"""Issue 13: fail before the first step, one writer per run directory, `presnet stop` through
Control, no hang without a terminal, and the races around a live run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from core.config import Config
from core.errors import PresnetError
from core.run import lock
from core.run.control import Control, read_control
from core.run.events import EventBus, read_events
from core.run.rundir import RunDir
from core.train.job import Job, resume_job
from presnet_tui.cli import app
from tests.support import REPO, cli, spawn

TINY = {
    "space": {"scope": "s"},
    "network": {"width_mult": 0.125, "depths": [1, 1, 2, 1]},
    "data": {"dataset": "synthetic", "synthetic_size": 160, "batch_size": 16, "val_fraction": 0.25},
    "search": {"epochs": 3, "warmup_epochs": 1, "alphas_every": 2},
    "retrain": {"epochs": 1},
    "run": {"device": "cpu", "threads": 1},
}


def run_yaml(tmp_path: Path, **changes) -> Path:
    data = json.loads(json.dumps(TINY))
    for dotted, value in changes.items():
        section, key = dotted.split(".")
        data[section][key] = value
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def epochs_of(run: Path, kind: str) -> list[int]:
    return [e.epoch for e in read_events(run / "events.jsonl") if e.kind == kind]


def made_run(tmp_path: Path) -> Path:
    """A run directory with its config written and nothing run (cheap: no training)."""
    cfg = Config.model_validate({**TINY, "run": {**TINY["run"], "out": str(tmp_path / "run")}})
    run = RunDir.create(cfg)
    run.release_lock()
    return run.path


# -- fail before the first step ------------------------------------------------------------------
def test_paper_config_on_synthetic_data_fails_before_the_first_step(tmp_path):
    """The issue's example: 512 synthetic images leave a validation split under one batch of 64."""
    out = tmp_path / "r"
    t0 = time.monotonic()
    res = cli.invoke(
        app, ["run", "-c", str(REPO / "sample_configs/paper-s.yaml"), "--dataset", "synthetic", "--out", str(out)]
    )
    assert res.exit_code == 2, res.stdout + res.stderr
    lines = error_lines(res.stderr)
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    for needle in ("validation split", "40 images", "batch of 64", "data.val_fraction", "data.batch_size"):
        assert needle in lines[0], lines[0]
    assert not out.exists()  # nothing was written: the same --out works once fixed
    assert time.monotonic() - t0 < 60  # no warm-up epoch ran (those take minutes for ResNet-50)


def test_the_suggested_val_fraction_fills_a_batch(tmp_path):
    cfg = Config.model_validate(
        {**TINY, "data": {**TINY["data"], "val_fraction": 0.05}, "run": {**TINY["run"], "out": str(tmp_path / "a")}}
    )
    with pytest.raises(PresnetError, match="validation split") as info:
        Job(cfg, RunDir.create(cfg), EventBus(), Control()).prepare()
    fraction = float(info.value.hint.split("val_fraction to ")[1].split()[0])
    fixed = cfg.model_copy(update={"data": cfg.data.model_copy(update={"val_fraction": fraction})})
    fixed = fixed.model_copy(update={"run": cfg.run.model_copy(update={"out": str(tmp_path / "b")})})
    Job(fixed, RunDir.create(fixed), EventBus(), Control()).prepare().run_dir.release_lock()


def test_a_retrain_does_not_need_a_full_validation_batch(tmp_path):
    """The validation split only feeds architecture steps: a retrain trains on train + val."""
    data = {**TINY["data"], "val_fraction": 0.05}
    cfg = Config.model_validate({**TINY, "data": data, "run": {**TINY["run"], "out": str(tmp_path / "r")}})
    job = Job(cfg, RunDir.create(cfg), EventBus(), Control(), search=False).prepare()
    job.run_dir.release_lock()
    small = Config.model_validate(
        {**TINY, "data": {**data, "batch_size": 200}, "run": {**TINY["run"], "out": str(tmp_path / "s")}}
    )
    with pytest.raises(PresnetError, match="retraining set"):
        Job(small, RunDir.create(small), EventBus(), Control(), search=False).prepare()
    assert not (tmp_path / "s").exists()


# -- one writer per run directory ------------------------------------------------------------------
def test_lock_records_the_owner_and_refuses_a_second_writer(tmp_path):
    held = lock.acquire(tmp_path)
    owner = lock.read_owner(tmp_path)
    assert owner is not None and owner.pid == os.getpid() and owner.host and owner.since
    with pytest.raises(lock.RunIsLive) as info:
        lock.acquire(tmp_path)  # a second descriptor conflicts even inside one process
    line = str(info.value)
    assert f"pid {os.getpid()}" in line and "presnet-tui --attach" in line and "presnet stop" in line
    assert "\n" not in line
    held.release()
    lock.acquire(tmp_path).release()  # free again


def test_kill_9_leaves_no_stale_lock(tmp_path):
    code = (
        f"from core.run import lock; import time; held = lock.acquire({str(tmp_path)!r}); "
        "print('held', flush=True); time.sleep(60)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"held"
    with pytest.raises(lock.RunIsLive, match=f"pid {proc.pid}"):
        lock.acquire(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lock.acquire(tmp_path).release()  # the kernel let go with the process: nothing to clean up


def test_out_at_a_directory_a_live_run_is_creating_is_refused(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    held = lock.acquire(out)  # a writer that has the lock but has not written config.yaml yet
    res = cli.invoke(app, ["run", "--headless", "--config", str(run_yaml(tmp_path)), "--out", str(out)])
    assert res.exit_code == 2 and len(error_lines(res.stderr)) == 1, res.stderr
    assert "run is live" in res.stderr and f"pid {os.getpid()}" in res.stderr
    assert out.is_dir() and lock.read_owner(out).pid == os.getpid()  # the creator's directory is untouched
    held.release()


def test_every_writer_is_refused_while_readers_go_on(tmp_path, monkeypatch):
    run = made_run(tmp_path)
    arch = tmp_path / "arch.json"
    arch.write_text('{"blocks": {}, "width_mult": 0.125, "depths": [1, 1, 2, 1]}')
    cfg = run_yaml(tmp_path)
    held = lock.acquire(run)
    writers = [
        ["resume", str(run), "--headless"],
        ["run", "--headless", "--config", str(cfg), "--out", str(run)],
        ["search", "--config", str(cfg), "--out", str(run)],
        ["retrain", str(arch), "--config", str(cfg), "--out", str(run)],
        ["baseline", "--config", str(cfg), "--out", str(run)],
    ]
    for args in writers:
        res = cli.invoke(app, args)
        assert res.exit_code == 2 and "run is live" in res.stderr, (args, res.stderr)
    # the TUI's two ways in: --resume, and starting a search from the setup screen
    from presnet_tui.cli import terminal

    monkeypatch.setattr(terminal, "has_terminal", lambda: True)
    res = cli.invoke(app, ["tui", "--resume", str(run)])
    assert res.exit_code == 2 and "run is live" in res.stderr, res.stderr
    from presnet_tui.app.launch import start_search

    with pytest.raises(PresnetError, match="run is live"):  # the worker refuses; its one line is the error
        config = RunDir.open(run).config()
        config.run.out = run
        start_search(config)
    with pytest.raises(lock.RunIsLive):
        resume_job(RunDir.open(run)).prepare()
    # readers never take it
    assert cli.invoke(app, ["stop", str(run), "--pause"]).exit_code == 0
    assert cli.invoke(app, ["inspect", str(arch)]).exit_code == 0
    from presnet_tui.app.session import Session

    attached = Session(run)
    assert attached.read() == []
    assert lock.read_owner(run).pid == os.getpid()
    held.release()


# -- presnet stop goes through Control ----------------------------------------------------------------
def test_stop_lifts_a_pause(tmp_path):
    run = made_run(tmp_path)
    Control(run / "control.json").pause()
    assert cli.invoke(app, ["stop", str(run)]).exit_code == 0
    state = read_control(run / "control.json")
    assert state.stop and not state.paused


# -- no terminal --------------------------------------------------------------------------------------
def test_presnet_tui_without_a_terminal_refuses(tmp_path):
    res = cli.invoke(app, ["tui"])
    assert res.exit_code == 2 and "--headless" in res.stderr and len(error_lines(res.stderr)) == 1


@pytest.mark.slow
def test_run_without_headless_and_without_a_terminal_ends_on_its_own(tmp_path):
    """`presnet run --epochs 2 < /dev/null > log 2>&1` (no --headless): headless, with a notice."""
    out, log = tmp_path / "run", tmp_path / "log"
    args = ["run", "--config", str(run_yaml(tmp_path)), "--epochs", "2", "--out", str(out)]
    with open(log, "wb") as f:
        proc = spawn(args, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        assert proc.wait(timeout=300) == 0, log.read_text()
    text = log.read_text()
    assert "no terminal" in text and "running headless" in text
    assert "\x1b[?1049h" not in text  # no alternate screen: the TUI never started
    assert epochs_of(out, "epoch_end") == [1, 2] and epochs_of(out, "retrain_epoch_end") == [1]
    with open(log, "wb") as f:  # a resume of the finished run is refused in one line (issue 39), not run
        proc = spawn(["resume", str(out)], stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        assert proc.wait(timeout=300) == 2, log.read_text()
    lines = error_lines(log.read_text())
    assert len(lines) == 1 and "nothing to resume" in lines[0], lines


# -- races around a live run ------------------------------------------------------------------------
def wait_for(predicate, timeout: float, what: str) -> float:
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - t0


@pytest.mark.slow
def test_two_resumes_at_once_then_kill_9_then_stop_a_paused_run(tmp_path):
    cfg = run_yaml(tmp_path)
    run = tmp_path / "run"
    # a run killed in its second epoch: resumable from the epoch-1 checkpoint
    first = spawn(["run", "--headless", "--config", str(cfg), "--out", str(run)], fault="search_step@8")
    assert first.wait(timeout=300) == -signal.SIGKILL
    Control(run / "control.json").pause()  # whoever wins stays paused, so both are surely alive together

    a, b = spawn(["resume", str(run), "--headless"]), spawn(["resume", str(run), "--headless"])
    refused_in = wait_for(lambda: a.poll() is not None or b.poll() is not None, 120, "one resume to be refused")
    loser, winner = (a, b) if a.poll() is not None else (b, a)
    assert loser.returncode == 2 and winner.poll() is None
    stderr = loser.stderr.read().decode()
    assert len(error_lines(stderr)) == 1 and f"pid {winner.pid}" in stderr and "presnet-tui --attach" in stderr
    wait_for(lambda: (run / "events.jsonl").read_bytes().count(b'"state":"paused"') >= 1, 120, "the pause")
    assert lock.read_owner(run).pid == winner.pid
    # while it is live: another resume is refused within seconds, naming the live pid
    t0 = time.monotonic()
    res = cli.invoke(app, ["resume", str(run), "--headless"])
    assert res.exit_code == 2 and f"pid {winner.pid}" in res.stderr and time.monotonic() - t0 < 10
    # readers work on the live run and leave its owner alone
    # (its only finished epoch is the warm-up's: derive says that is no searched architecture, unless allowed)
    assert cli.invoke(app, ["derive", str(run), "--json"]).exit_code == 2
    assert cli.invoke(app, ["derive", str(run), "--json", "--allow-unsearched"]).exit_code == 0
    assert lock.read_owner(run).pid == winner.pid and winner.poll() is None

    winner.send_signal(signal.SIGKILL)
    winner.wait()
    third = spawn(["resume", str(run), "--headless"])
    took = wait_for(lambda: getattr(lock.read_owner(run), "pid", None) == third.pid, 120, "the next owner")
    assert third.poll() is None, third.stderr.read().decode()
    wait_for(lambda: (run / "events.jsonl").read_bytes().count(b'"state":"paused"') >= 1, 120, "the pause")
    assert cli.invoke(app, ["stop", str(run)]).exit_code == 0  # a paused run asked to stop must stop
    assert third.wait(timeout=300) == 0, third.stderr.read().decode()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["search"]["stop_reason"] == "user" and summary["retrain"]["epochs"] == 1
    history = epochs_of(run, "epoch_end")
    assert history == sorted(set(history)) and history[0] == 1  # strictly increasing, never interleaved
    print(f"refused {refused_in:.1f} s after both started; next owner took the lock {took:.1f} s after its start")


def test_a_second_job_of_the_same_process_is_refused_too(tmp_path):
    """The TUI holds one RunDir per session: a second job on it must not write alongside the first."""
    cfg = Config.model_validate({**TINY, "run": {**TINY["run"], "out": str(tmp_path / "run")}})
    run = RunDir.create(cfg)
    first = Job(cfg, run, EventBus(), Control()).prepare()
    with pytest.raises(lock.RunIsLive):
        Job(cfg, run, EventBus(), Control(), search=False).prepare()
    assert first.run_dir is run and lock.read_owner(run.path).pid == os.getpid()
    run.release_lock()


def test_a_filesystem_without_locks_is_refused_unless_the_user_opts_out(tmp_path, monkeypatch):
    """NFS mounted nolock, some FUSE/SMB mounts: flock fails outright (not 'held by another')."""
    import errno
    import fcntl

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.raises(PresnetError, match="refuses file locks") as info:
        lock.acquire(tmp_path)
    assert not isinstance(info.value, lock.RunIsLive) and "PRESNET_UNLOCKED=1" in str(info.value)
    monkeypatch.setenv("PRESNET_UNLOCKED", "1")
    assert not lock.acquire(tmp_path).held  # at the user's risk: nothing is held
