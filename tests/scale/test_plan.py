"""``presnet plan``: a row per scope with measured times, ``fits`` against the budget, bad input refused."""

from __future__ import annotations

import json

import pytest
import yaml

from core.config import load_config
from core.perf.plan import parse_duration, worst_case_epochs
from tests.support import invoke

SCOPES = ["s", "m", "l", "f"]


@pytest.fixture
def tiny_plan_yaml(tmp_path):
    cfg = {
        "network": {"width_mult": 0.125, "depths": [1, 1, 2, 1]},
        "data": {"dataset": "synthetic", "synthetic_size": 200, "batch_size": 16},
        "search": {"epochs": 3, "warmup_epochs": 1},
        "retrain": {"epochs": 2},
        "run": {"device": "cpu"},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


#: each scope's measured step times, kept across the budgets below: the budget changes which rows fit,
#: not what a step costs, so the first budget measures for real and the others reuse its timings
_TIMINGS: dict[tuple[int, ...], object] = {}


@pytest.fixture
def measured_once(monkeypatch):
    import core.perf.plan

    real = core.perf.plan.time_scope

    def once(setup, config, block_ids):
        key = tuple(block_ids)
        if key not in _TIMINGS:
            _TIMINGS[key] = real(setup, config, block_ids)
        return _TIMINGS[key]

    monkeypatch.setattr(core.perf.plan, "time_scope", once)


@pytest.mark.slow
@pytest.mark.parametrize("budget", ["1000d", "0.001s", "3s"])
def test_plan_json_has_a_row_per_scope_with_times_and_fits_follows_the_budget(tiny_plan_yaml, budget, measured_once):
    res = invoke("plan", "-c", tiny_plan_yaml, "--budget", budget, "--seeds", 2, "--random", 1, "--json")
    assert res.exit_code == 0, res.output
    plan = json.loads(res.output)
    rows = plan["rows"]
    assert [r["scope"] for r in rows] == [*SCOPES, "progressive s>m>l>f"]
    assert [r["blocks"] for r in rows] == [1, 3, 4, 5, 5]
    for r in rows:
        for key in ("search_epoch_s", "retrain_epoch_s", "run_s", "sweep_s"):
            assert r[key] > 0, (r["scope"], key)
        assert r["real_choices"] + r["void_choices"] == r["blocks"] * 2 * 3
        # two seeds, each a run plus one random architecture's retrain
        assert r["sweep_s"] == pytest.approx(2 * (r["run_s"] + r["retrain_epochs"] * r["retrain_epoch_s"]))
        assert r["fits"] == (r["sweep_s"] <= parse_duration(budget))
    assert plan["budget_s"] == parse_duration(budget)
    if budget == "1000d":
        assert all(r["fits"] for r in rows) and plan["total_fits"]
    if budget == "0.001s":
        assert not any(r["fits"] for r in rows) and not plan["total_fits"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["--budget", "8x"], "--budget"),
        (["--budget", "0h"], "--budget"),
        (["--seeds", "0"], "--seeds"),
        (["--random", "-1"], "--random"),
    ],
)
def test_bad_plan_input_is_one_line_and_exit_2(tiny_plan_yaml, args, words):
    res = invoke("plan", "-c", tiny_plan_yaml, *args)
    assert res.exit_code == 2
    assert words in res.output and "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1


def test_durations_read_with_units():
    assert parse_duration("8h") == 8 * 3600 and parse_duration("90m") == 5400 and parse_duration("42") == 42
    assert parse_duration("1.5d") == 1.5 * 86400


def test_progressive_worst_case_gives_the_spare_epochs_to_the_widest_stages():
    cfg = load_config(
        None,
        {"space.scope": "progressive", "search.epochs": 20, "search.warmup_epochs": 2, "search.patience": 3},
    )
    # earliest ends: 2 + 3 = 5 per stage (20 in all): the cap leaves nothing spare
    assert worst_case_epochs(cfg, 4) == [5, 5, 5, 5]
    cfg = load_config(
        None,
        {
            "space.scope": "progressive",
            "search.epochs": 40,
            "search.warmup_epochs": 2,
            "search.patience": 3,
            "search.stage_epochs": [6, 8, 10, 12],
        },
    )
    # 20 at least, 20 spare: the last stages fill their budgets first (12, 10), then stage 2 (8), stage 1 (6)
    assert worst_case_epochs(cfg, 4) == [6, 8, 10, 12]
    cfg = load_config(
        None,
        {
            "space.scope": "progressive",
            "search.epochs": 30,
            "search.warmup_epochs": 2,
            "search.patience": 3,
            "search.stage_epochs": [6, 8, 10, 12],
        },
    )
    assert worst_case_epochs(cfg, 4) == [5, 5, 8, 12]
