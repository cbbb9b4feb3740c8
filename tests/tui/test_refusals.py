"""Refusals made before the first training step: a search with no architecture step, a stop that
cannot do what it says, a file that is not UTF-8 text.  Each is one ``error:`` line and exit 2,
and no training step ran: no run directory, no event file, no checkpoint was written."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from core.config import quickstart
from core.run.rundir import RunDir
from tests.support import CLI, REPO, child_env, invoke

W = quickstart().search.warmup_epochs  # the embedded default's warm-up


def one_line(res) -> str:
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error:"), res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    return lines[0]


def test_quickstart_with_no_epoch_after_its_warm_up_is_refused_naming_both_numbers(tmp_path):
    # the child process: the very command of the issue, exit code and stderr as a user sees them
    out = tmp_path / "r"
    proc = subprocess.run(
        [*CLI, "run", "--headless", "--epochs", "2", "-o", out], env=child_env(), capture_output=True, text=True
    )
    assert proc.returncode == 2, proc.stderr
    assert (
        "search.warmup_epochs" in proc.stderr
        and f"{W} warm-up epochs" in proc.stderr
        and "2 search epochs" in proc.stderr
    )
    assert "--epochs" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()  # refused before a run directory, let alone a training step


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--epochs", "1"], [f"{W} warm-up epochs", "1 search epochs"]),
        (["--stop-at-epoch", "2"], ["stop after epoch 2", f"{W} warm-up epochs", f"epoch {W + 1} or later"]),
    ],
)
def test_search_without_an_architecture_step_is_refused(tmp_path, no_run, args, names):
    line = one_line(invoke("search", *args, "-o", tmp_path / "r"))
    assert all(n in line for n in names), line
    assert not (tmp_path / "r").exists()


def test_a_config_whose_warm_up_fills_the_search_is_refused_by_config_check(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"search": {"epochs": 10, "warmup_epochs": 10}}))
    line = one_line(invoke("config", "check", path))
    assert "10 warm-up epochs" in line and "10 search epochs" in line


def test_sweep_refuses_a_plan_whose_runs_would_not_search(tmp_path):
    out = tmp_path / "sw"
    line = one_line(
        invoke("sweep", "-c", REPO / "sample_configs" / "paper-s.yaml", "--scopes", "s", "--epochs", "5", "--out", out)
    )
    assert "10 warm-up epochs" in line and "5 search epochs" in line
    assert not out.exists()


def test_sweep_validates_each_planned_run_with_the_same_rule(tmp_path):
    from core.config import load_config
    from core.scale.sweep import Sweep

    base = load_config(None)
    sweep = Sweep.create_or_open(tmp_path / "sw", ["s"], [0, 1], False, base)
    assert all(sweep.run_config(r).search.warmup_epochs < sweep.run_config(r).search.epochs for r in sweep.runs)


def test_utf16_config_and_architecture_files_are_one_line(tmp_path, no_run):
    config = tmp_path / "c.yaml"
    config.write_bytes("search:\n  epochs: 3\n".encode("utf-16"))  # with its BOM, as PowerShell's > writes
    assert config.read_bytes()[:2] == b"\xff\xfe"
    for res in (invoke("run", "--headless", "-c", config), invoke("config", "check", config)):
        line = one_line(res)
        assert "UTF-16" in line and "UTF-8" in line
    arch = tmp_path / "arch.json"
    arch.write_bytes(json.dumps({"blocks": {}}).encode("utf-16"))
    line = one_line(invoke("retrain", arch, "-o", tmp_path / "r"))
    assert "UTF-16" in line and not (tmp_path / "r").exists()
    latin = tmp_path / "l.yaml"
    latin.write_bytes("# réglages\nsearch: {epochs: 3}\n".encode("latin-1"))
    assert "not UTF-8" in one_line(invoke("config", "check", latin))


@pytest.fixture
def idle_run(tmp_path):
    """A run directory with its config and nothing run yet (as after a kill in its first step)."""
    from core.config import load_config

    cfg = load_config(None, {"run.out": str(tmp_path / "run")})
    run = RunDir.create(cfg)
    run.release_lock()
    return run


def test_stop_at_an_epoch_inside_the_warm_up_is_refused(idle_run):
    line = one_line(invoke("stop", idle_run.path, "--at-epoch", W))
    assert f"inside the {W} warm-up epochs" in line and f"epoch {W + 1} or later" in line
    assert not idle_run.control_file.exists()  # nothing was filed
    assert invoke("stop", idle_run.path, "--at-epoch", W + 1).exit_code == 0
    assert json.loads(idle_run.control_file.read_text())["stop_at_epoch"] == W + 1


def test_stop_on_a_finished_run_says_so(idle_run):
    idle_run.update_summary(search={"epochs": 12}, retrain={"epochs": 40, "test_top1": 0.9})
    line = one_line(invoke("stop", idle_run.path))
    assert "has finished" in line
    assert not idle_run.control_file.exists()
