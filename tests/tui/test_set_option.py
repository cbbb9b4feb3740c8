"""Every setting from the command line: ``--set KEY=VALUE`` and the named flags go through one
overrides object and the config's own pydantic model; a mistake is one ``error:`` line, exit 2,
with the nearest valid key or value, before torch loads and before a run directory exists."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from core.api.config import ConfigOverrides, resolve_config
from core.errors import PresnetError
from core.run.rundir import RunDir
from tests.support import REPO, child_env, invoke


def one_line(res) -> str:
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error:"), res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    return lines[0]


def test_named_flags_and_set_items_reach_the_config():
    cfg = resolve_config(
        None,
        ConfigOverrides(
            epochs=3,
            warmup_epochs=1,
            arch_lr=0.01,
            estimator="two_path",
            patience=2,
            sets=("search.cost.target=5e6", "run.amp=off", "space.kernels=[3, 5, 7]", "search.stop_at_epoch=null"),
        ),
    )
    s = cfg.search
    assert (s.epochs, s.warmup_epochs, s.arch_lr, s.estimator, s.patience) == (3, 1, 0.01, "two_path", 2)
    assert s.cost is not None and s.cost.target == 5e6 and s.stop_at_epoch is None
    assert cfg.run.amp == "off" and cfg.space.kernels == [3, 5, 7]  # "off" stays a word, not YAML 1.1's False


def test_a_set_item_is_applied_after_the_named_flags():
    cfg = resolve_config(None, ConfigOverrides(epochs=5, sets=("search.epochs=7",)))
    assert cfg.search.epochs == 7


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--set", "serach.arch_lr=0.01"], ["unknown key 'serach'", "did you mean 'search'?"]),
        (["--set", "search.arch_lrr=0.01"], ["did you mean 'search.arch_lr'?"]),
        (["--set", "search.cost.metrik=flops"], ["did you mean 'search.cost.metric'?"]),
        (["--set", "space.activations=relu,swish"], ["unknown activation 'swish'", "did you mean 'silu'?"]),
        (["--estimator", "two_paths"], ["search.estimator", "did you mean 'two_path'?"]),
        (["--set", "search.arch_lr=abc"], ["search.arch_lr", "valid number"]),
        (["--set", "search.arch_lr"], ["'search.arch_lr' is not KEY=VALUE", "--set search.arch_lr=0.01"]),
        (["--set", "search=1"], ["search is a section"]),
        (["--set", "search.epochs.x=1"], ["search.epochs is a value"]),
        (["--warmup-epochs", "3", "--epochs", "3"], ["3 warm-up epochs", "--warmup-epochs"]),
        (["--arch-lr", "-1"], ["search.arch_lr", "greater than 0"]),
        (["--patience", "0"], ["search.patience"]),
    ],
)
def test_bad_settings_are_one_line_naming_the_fix(tmp_path, no_run, args, words):
    line = one_line(invoke("run", "--headless", *args, "-o", tmp_path / "r"))
    assert all(w in line for w in words), line
    assert not (tmp_path / "r").exists()


def test_search_retrain_and_baseline_take_set_too(tmp_path, no_run):
    for command in ("search", "baseline"):
        line = one_line(invoke(command, "--set", "retrain.epoch=2", "-o", tmp_path / "r"))
        assert "did you mean 'retrain.epochs'?" in line, line


def test_a_bad_set_is_refused_before_torch_loads(tmp_path):
    code = (
        "import sys\n"
        "from presnet_tui.cli import main\n"
        f"sys.argv = ['presnet', 'run', '--headless', '--set', 'serach.arch_lr=1', '-o', {str(tmp_path / 'r')!r}]\n"
        "try:\n    main()\n"
        "except SystemExit as e:\n"
        "    assert 'torch' not in sys.modules, 'torch was imported'\n"
        "    raise\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("error:") == 1 and "did you mean 'search'?" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_parse_set_refuses_an_empty_key():
    from core.config import parse_set

    with pytest.raises(PresnetError, match="not KEY=VALUE"):
        parse_set("=3")


@pytest.mark.slow
def test_quickstart_with_a_shorter_warm_up_runs_three_epochs(tmp_path):
    # the first try, now possible: the quickstart's warm-up lowered from the command line. Its
    # patience (3) must come below the 2 architecture epochs left, else the margin rule could never stop
    # the search (core.train.budget): refused in one line before any step, and --patience is the fix
    out = tmp_path / "r"
    args = ["run", "--headless", "--warmup-epochs", "1", "--epochs", "3", "--retrain-epochs", "1"]

    def presnet(*more: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "presnet_tui.cli", *args, "--set", "data.limit_train=400", "-o", str(out)]
        return subprocess.run([*cmd, *more], env=child_env(), capture_output=True, text=True, cwd=REPO)

    refused = presnet()
    assert refused.returncode == 2 and "search.patience" in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and not out.exists()
    proc = presnet("--patience", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    cfg = RunDir.open(out).config()
    assert (cfg.search.warmup_epochs, cfg.search.epochs, cfg.data.limit_train) == (1, 3, 400)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["search"]["epochs"] == 3 and summary["search"]["searched"] and summary["search"]["arch_steps"] > 0
