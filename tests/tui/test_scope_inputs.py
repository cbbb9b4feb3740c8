"""Scopes as typed: custom depths in inspect, the config's own scope in inspect and sweep, block-id
scopes in sweeps, id ranges wherever block ids are read (issue 32's small breaks)."""

from __future__ import annotations

import pytest
import yaml

from core.api.sweeps import SweepRequest, plan_sweep
from core.config import load_config
from core.errors import PresnetError
from core.space import scope_key, validate_progressive, validate_scope
from presnet_tui.cli.commands.sweep import parse_scopes
from tests.support import invoke


@pytest.fixture
def custom_depths(tmp_path):
    """A config on depths [1, 1, 2, 1] (5 blocks) whose own scope is blocks 4-5."""
    cfg = {
        "space": {"scope": "4-5"},
        "network": {"width_mult": 0.125, "depths": [1, 1, 2, 1]},
        "data": {"dataset": "synthetic", "synthetic_size": 64, "batch_size": 16},
        "search": {"epochs": 2, "warmup_epochs": 1},
        "retrain": {"epochs": 1},
        "run": {"device": "cpu", "runs_dir": str(tmp_path / "runs")},
    }
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_inspect_a_letter_scope_on_custom_depths_shows_that_networks_blocks(custom_depths):
    res = invoke("inspect", "--scope", "l", "-c", custom_depths)
    assert res.exit_code == 0, res.output
    assert "4 search blocks" in res.output  # l = stages 2-4 of [1, 1, 2, 1]: blocks 1-4


def test_inspect_block_ids_outside_custom_depths_is_one_line_exit_2(custom_depths):
    res = invoke("inspect", "--scope", "10,11", "-c", custom_depths)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "block id 10 is out of range" in res.output and "1 (deepest) to 5" in res.output


def test_inspect_with_a_config_takes_its_own_scope(custom_depths):
    res = invoke("inspect", "-c", custom_depths)
    assert res.exit_code == 0, res.output
    assert "2 search blocks" in res.output
    assert invoke("inspect").exit_code == 2  # neither a file, --scope nor -c


def test_ids_and_ranges_read_alike_everywhere_block_ids_are_read(custom_depths):
    assert validate_scope("10-13") == validate_scope("10,11,12,13") == [10, 11, 12, 13]
    assert validate_scope("1-3,5") == [1, 2, 3, 5]
    assert validate_progressive("10,11;10-13") == [[10, 11], [10, 11, 12, 13]]  # --progressive's help example
    assert load_config(custom_depths).space.scope == [4, 5]
    with pytest.raises(PresnetError, match="runs backwards"):
        validate_scope("13-10")
    with pytest.raises(PresnetError, match="cannot read '10-x' as a block id"):
        validate_scope("10-x")
    assert scope_key([13, 10, 11, 12]) == scope_key("10-13") == "10,11,12,13" and scope_key("S") == "s"


def test_sweep_scopes_take_letters_block_ids_and_both():
    assert parse_scopes("s,m") == ["s", "m"]
    assert parse_scopes("10-13") == ["10,11,12,13"]
    assert parse_scopes("s;10-13") == ["s", "10,11,12,13"]
    with pytest.raises(PresnetError, match="listed twice"):
        parse_scopes("10-13;10,11,12,13")


def test_a_sweep_from_a_config_alone_runs_its_block_id_scope(custom_depths, tmp_path):
    config = load_config(custom_depths)
    plan = plan_sweep(SweepRequest(configs=[config], seeds=[0, 1], out=tmp_path / "sw"))
    sweep = plan.sweep
    assert sweep.manifest.scopes == ["4,5"]
    search = [r for r in sweep.runs if r.kind == "search"]
    assert [r.name for r in search] == ["custom-4-5-seed0", "custom-4-5-seed1"]
    assert sweep.run_config(search[1]).space.scope == [4, 5] and sweep.run_config(search[1]).run.seed == 1
    res = invoke("sweep", "-c", custom_depths, "--scopes", "4-5", "--seeds", "0", "-o", tmp_path / "sw2", "--help")
    assert res.exit_code == 0 and "10-13" in res.output  # the help offers the block-id form
