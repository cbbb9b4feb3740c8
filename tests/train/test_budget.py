"""Refused or warned before the first step: a stop rule that cannot fire, a stage with no architecture step."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from core.config import Config
from core.errors import PresnetError
from core.train.budget import check_patience, check_stages, cosine_lr, stage_starts
from presnet_tui.cli import app

cli = CliRunner()
TINY = {
    "space": {"scope": "s"},
    "network": {"width_mult": 0.125, "depths": [1, 1, 2, 1]},
    "data": {"dataset": "synthetic", "synthetic_size": 200, "batch_size": 16},
    "search": {"epochs": 4, "warmup_epochs": 1, "alphas_every": 1},
    "retrain": {"epochs": 1},
    "run": {"device": "cpu"},
}


def settings(**search) -> dict:
    data = json.loads(json.dumps(TINY))
    data["search"].update(search)
    if "progressive" in search:
        data["space"]["scope"] = "progressive"
    return data


def config(**search) -> Config:
    return Config.model_validate(settings(**search))


def refused_in_one_line(tmp_path, needle: str, **search) -> None:
    data = settings(**search)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    out = tmp_path / "run"
    res = cli.invoke(app, ["run", "--headless", "--config", str(path), "--out", str(out)])
    assert res.exit_code == 2, res.stdout + res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in res.stderr, res.stderr
    assert not out.exists()  # before any step: nothing was written


def test_patience_not_below_the_architecture_epochs_warns_and_with_the_margin_rule_refuses(tmp_path):
    # 4 epochs less 1 warm-up = 3 architecture epochs; the default patience 10 cannot settle anything
    line = check_patience(config())
    assert line is not None and "patience 10" in line and "3 architecture epochs" in line
    assert check_patience(config(patience=2)) is None
    with pytest.raises(PresnetError, match="margin rule can never stop"):
        check_patience(config(auto_stop=True))
    refused_in_one_line(tmp_path, "search.patience", stop_rule="margin", patience=3)


def test_a_stage_ending_inside_its_warm_up_is_refused(tmp_path):
    # progressive s, m with warm-up 2 and patience 1: stage 2 starts at epoch 4 at the earliest and
    # warms up to epoch 5; a cap of 5 gives it no architecture step in any course
    prog = {"progressive": ["s", "m"], "warmup_epochs": 2, "patience": 1}
    assert stage_starts(config(epochs=5, **prog)) == [(1, 2), (4, 2)]
    with pytest.raises(PresnetError, match="inside its warm-up"):
        check_stages(config(epochs=5, **prog))
    assert check_stages(config(epochs=6, **prog)) == []
    # capped inside the first stage: stage 2 never starts (a stop by design), nothing refused
    assert check_stages(config(epochs=3, **prog)) == []
    with pytest.raises(PresnetError, match="budget of 2 epochs"):
        check_stages(config(epochs=12, stage_epochs=2, **prog))
    refused_in_one_line(tmp_path, "search.epochs", epochs=5, **prog)


def test_a_stage_starting_with_the_learning_rate_at_zero_is_warned():
    # patience 20: stage 1 cannot settle before its budget of 19 epochs, so stage 2 starts at epoch 20 of 20,
    # where the cosine schedule leaves 0.6 % of search.lr
    prog = {"progressive": ["s", "m"], "warmup_epochs": 1, "stage_warmup_epochs": 0, "patience": 20}
    lines = check_stages(config(epochs=20, stage_epochs=[19, 1], **prog))
    assert len(lines) == 1 and "stage 2" in lines[0] and "epoch 20" in lines[0], lines
    assert cosine_lr(0.05, 20, 20) < 0.02 * 0.05 < cosine_lr(0.05, 11, 20)
    assert check_stages(config(epochs=20, stage_epochs=[10, 10], **prog)) == []
