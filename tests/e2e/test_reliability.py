"""Bad input gets one clear line and exit 2; faults lose nothing; nothing from a file is executed."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from core import io as core_io
from core.errors import PresnetError
from core.run.checkpoint import load_checkpoint
from core.run.control import Control
from core.run.events import EventBus, read_events
from core.run.rundir import RunDir
from core.train.job import Job
from presnet_tui.cli import app
from tests.support import spawn

cli = CliRunner()

TINY = {
    "space": {"scope": "s"},
    "network": {"width_mult": 0.125, "depths": [1, 1, 2, 1]},
    "data": {"dataset": "synthetic", "synthetic_size": 320, "batch_size": 16},
    "search": {"epochs": 4, "warmup_epochs": 1, "alphas_every": 2},
    "retrain": {"epochs": 3},
    # channels_last explicit: auto's measured choice may differ between the runs compared
    "run": {"device": "cpu", "channels_last": "off"},
}


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def merged(**changes) -> dict:
    data = json.loads(json.dumps(TINY))
    for dotted, value in changes.items():
        section, key = dotted.split(".")
        data[section][key] = value
    return data


def one_error_line(res, *needles: str) -> None:
    assert res.exit_code == 2, res.stdout + res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


# -- bad config --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "changes,needle",
    [
        ({"search.epochz": 3}, "search.epochz"),
        ({"search.epochs": "many"}, "search.epochs"),
        ({"search.lr": -0.1}, "search.lr"),
        ({"search.epochs": 0}, "search.epochs"),
        ({"space.kernels": [4]}, "space.kernels"),
        ({"space.activations": ["tanh"]}, "space.activations"),
        ({"space.kernels": []}, "space.kernels"),
        ({"space.activations": []}, "space.activations"),
        ({"space.scope": "xl"}, "space.scope"),
        ({"space.scope": [17]}, "space.scope"),
        ({"data.val_fraction": 1.0}, "data.val_fraction"),
    ],
)
def test_bad_config_values(tmp_path, changes, needle):
    path = write_yaml(tmp_path / "c.yaml", merged(**changes))
    one_error_line(cli.invoke(app, ["config", "check", str(path)]), needle)
    one_error_line(cli.invoke(app, ["run", "--headless", "--config", str(path)]), needle)
    assert not (tmp_path / "runs").exists()


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("space:\n  scope: s\nsearch:\n  epochs: [1,\n")
    one_error_line(cli.invoke(app, ["config", "check", str(path)]), "line", "YAML syntax error", str(path))


@pytest.mark.parametrize(
    "make,needle",
    [
        (lambda p: p.write_text(""), "empty"),
        (lambda p: p.mkdir(), "directory"),
        (lambda p: None, "not found"),
        (lambda p: p.write_text("- a\n- b\n"), "mapping"),
    ],
)
def test_unusable_config_files(tmp_path, make, needle):
    path = tmp_path / "c.yaml"
    make(path)
    one_error_line(cli.invoke(app, ["run", "--headless", "--config", str(path)]), needle)


# -- bad data ----------------------------------------------------------------------------------
def test_bad_data_inputs(tmp_path):
    cases = []
    cases.append((merged(**{"data.dataset": "imagefolder", "data.data_dir": str(tmp_path / "nope")}), "does not exist"))
    cases.append((merged(**{"data.dataset": "cifar10", "data.data_dir": str(tmp_path)}), "--download"))
    empty = tmp_path / "empty"
    (empty / "train").mkdir(parents=True)
    (empty / "test").mkdir()
    cases.append((merged(**{"data.dataset": "imagefolder", "data.data_dir": str(empty)}), "no class folders"))
    differ = tmp_path / "differ"
    (differ / "train" / "cat").mkdir(parents=True)
    (differ / "test" / "dog").mkdir(parents=True)
    cases.append((merged(**{"data.dataset": "imagefolder", "data.data_dir": str(differ)}), "classes differ"))
    broken = tmp_path / "broken"
    for part in ("train", "test"):
        (broken / part / "cat").mkdir(parents=True)
        (broken / part / "cat" / "0.png").write_bytes(b"\x89PNG not really")
    cases.append((merged(**{"data.dataset": "imagefolder", "data.data_dir": str(broken)}), "cannot read image"))
    for i, (data, needle) in enumerate(cases):
        path = write_yaml(tmp_path / f"c{i}.yaml", data)
        out = tmp_path / f"run{i}"
        one_error_line(cli.invoke(app, ["run", "--headless", "--config", str(path), "--out", str(out)]), needle)
        assert not out.exists()  # nothing ran: the same --out works once the input is fixed


# -- architecture files -------------------------------------------------------------------------
def test_architecture_that_does_not_match_the_data(tmp_path):
    arch = tmp_path / "a.json"
    arch.write_text('{"blocks": {}, "num_classes": 7}')
    path = write_yaml(tmp_path / "c.yaml", TINY)
    one_error_line(
        cli.invoke(app, ["retrain", str(arch), "--config", str(path), "--out", str(tmp_path / "r")]), "num_classes", "7"
    )
    assert not (tmp_path / "r").exists()


# -- run directories ------------------------------------------------------------------------------
def finished_run(tmp_path: Path, name: str = "run", **changes) -> Path:
    path = write_yaml(tmp_path / f"{name}.yaml", merged(**changes))
    out = tmp_path / name
    res = cli.invoke(app, ["run", "--headless", "--config", str(path), "--out", str(out)])
    assert res.exit_code == 0, res.stdout + res.stderr
    return out


def killed_before_the_retrain(out: Path) -> Path:
    """A finished run made into one killed after its search, before its retrain began: no retrain
    checkpoint, no retrain events, no retrain section in summary.json (a finished run is refused by
    ``resume``: nothing is left to do)."""
    (out / "checkpoints" / "retrain.pt").unlink()
    lines = (out / "events.jsonl").read_bytes().splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if b'"kind":"retrain_' in line.replace(b" ", b""))
    (out / "events.jsonl").write_bytes(b"".join(lines[:first]))
    summary = json.loads((out / "summary.json").read_text())
    summary.pop("retrain", None)
    (out / "summary.json").write_text(json.dumps(summary))
    return out


def snapshot_dir(path: Path) -> dict[str, bytes]:
    """Every file of a run but run.lock (who held the run last, rewritten by each writer that starts)."""
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name != "run.lock")
    return {str(p.relative_to(path)): p.read_bytes() for p in files}


@pytest.mark.slow
def test_truncated_checkpoint_is_explained_and_nothing_changes(tmp_path):
    out = finished_run(tmp_path)
    ckpt = out / "checkpoints" / "search.pt"
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    killed_before_the_retrain(out)
    before = snapshot_dir(out)
    one_error_line(cli.invoke(app, ["resume", str(out), "--headless"]), "truncated or corrupt", "search.pt")
    assert snapshot_dir(out) == before


@pytest.mark.slow
def test_checkpoint_from_another_space_is_refused_untouched(tmp_path):
    out = killed_before_the_retrain(finished_run(tmp_path))
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    cfg["space"]["kernels"] = [3, 5, 7]
    (out / "config.yaml").write_text(yaml.safe_dump(cfg))
    before = snapshot_dir(out)
    one_error_line(cli.invoke(app, ["resume", str(out), "--headless"]), "another search space", "kernels")
    assert snapshot_dir(out) == before


def test_checkpoints_load_weights_only(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "kind": "search", "payload": Path("x")}, path)  # a pickled custom object
    with pytest.raises(PresnetError, match="truncated or corrupt"):
        load_checkpoint(path, "search")


def test_yaml_objects_are_not_constructed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "c.yaml"
    path.write_text(f"space: !!python/object/apply:os.system ['touch {marker}']\n")
    one_error_line(cli.invoke(app, ["config", "check", str(path)]), "YAML")
    assert not marker.exists()


# -- faults -----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    cfg_path = write_yaml(tmp_path / "c.yaml", TINY)
    from core.config import load_config

    cfg = load_config(cfg_path, {"run.out": str(tmp_path / "run")})
    run = RunDir.create(cfg)
    real_replace = os.replace
    calls = {"n": 0}

    def replace(src, dst):
        if str(dst).endswith("search.pt"):
            calls["n"] += 1
            if calls["n"] >= 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(core_io.os, "replace", replace)
    result = Job(cfg, run, EventBus(), Control()).run()
    assert result.status == "error" and "No space left" in result.message and "search.pt" in result.message
    payload = load_checkpoint(run.search_ckpt, "search")
    assert payload["epoch_done"] == 1  # the last good one
    assert not [p for p in run.checkpoints.iterdir() if p.name.endswith(".tmp")]


def test_atomic_write_failure_leaves_old_file(tmp_path):
    target = tmp_path / "x.json"
    target.write_text("old")

    def boom(f):
        f.write("new, half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(PresnetError, match="previous file is intact"):
        core_io.atomic_write(target, boom, binary=False)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


@pytest.mark.slow
def test_torn_event_line_is_repaired_on_resume(tmp_path):
    out = killed_before_the_retrain(finished_run(tmp_path))
    with open(out / "events.jsonl", "ab") as f:
        f.write(b'{"kind": "epoch_end", "epo')
    assert cli.invoke(app, ["resume", str(out), "--headless"]).exit_code == 0
    raw = (out / "events.jsonl").read_bytes()
    assert raw.endswith(b"\n") and b'"epo\n' not in raw
    assert [e.epoch for e in read_events(out / "events.jsonl") if e.kind == "epoch_end"] == [1, 2, 3, 4]


@pytest.mark.slow
def test_ctrl_c_checkpoints_and_says_how_to_resume(tmp_path):
    cfg = write_yaml(tmp_path / "c.yaml", merged(**{"search.epochs": 30}))
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "presnet_tui.cli", "run", "--headless", "--config", str(cfg), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        events = out / "events.jsonl"
        if events.exists() and b'"epoch_end"' in events.read_bytes():
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 130, output
    assert f"presnet resume {out}" in output
    payload = load_checkpoint(out / "checkpoints" / "search.pt", "search")
    assert payload["epoch_done"] >= 1 and payload["finished"] is False


@pytest.mark.slow
def test_a_damaged_event_line_is_reported_not_skipped(tmp_path):
    from core.run.events import EventFollower

    out = finished_run(tmp_path)
    lines = (out / "events.jsonl").read_bytes().splitlines(keepends=True)
    lines[3] = b'{"kind": "epoch_end", "garbage": true}\n'
    (out / "events.jsonl").write_bytes(b"".join(lines))
    one_error_line(cli.invoke(app, ["derive", str(out)]), "line 4", "events.jsonl")
    follower = EventFollower(out / "events.jsonl")
    assert len(follower.poll()) == len(lines) - 1 and follower.bad_lines == 1


@pytest.mark.slow
def test_presnet_stop_from_another_process_stops_a_headless_search(tmp_path):
    cfg = write_yaml(tmp_path / "c.yaml", merged(**{"search.epochs": 200, "retrain.epochs": 1}))
    out = tmp_path / "run"
    proc = spawn(["run", "--headless", "--config", str(cfg), "--out", str(out)])
    deadline = time.time() + 120
    while time.time() < deadline:
        if (out / "events.jsonl").exists() and b'"epoch_end"' in (out / "events.jsonl").read_bytes():
            break
        time.sleep(0.2)
    res = cli.invoke(app, ["stop", str(out)])  # this process is not the one running the search
    assert res.exit_code == 0
    assert proc.wait(timeout=300) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["search"]["stop_reason"] == "user" and 1 <= summary["search"]["epochs"] < 200
    assert summary["retrain"]["epochs"] == 1  # the stop ended the search, not the run
