"""The service layer (core.api): one config path, a space report computed once, derive from the
snapshots a front end holds as from the run directory."""

from __future__ import annotations

import json

import pytest

from core.api.config import ConfigOverrides, resolve_config
from core.api.derive import derive
from core.api.space import space_report
from core.config import quickstart
from core.errors import PresnetError
from presnet_tui.shared.model import RunModel


def test_overrides_are_applied_over_the_quickstart():
    given = ConfigOverrides(scope="m", epochs=9)
    assert given.dotted() == {"space.scope": "m", "search.epochs": 9}  # a field left None is absent
    cfg = resolve_config(None, given)
    assert cfg.space.scope == "m" and cfg.search.epochs == 9
    assert cfg.data.dataset == quickstart().data.dataset  # the rest is the quickstart's
    with pytest.raises(PresnetError, match="space.scope"):
        resolve_config(None, ConfigOverrides(scope="q"))


def test_a_space_report_is_computed_once_and_its_range_holds_the_architectures():
    cfg = quickstart()
    report = space_report(cfg)
    assert space_report(quickstart()) is report  # the same question again (a keystroke): the cache answers
    assert report.flops.min < report.flops.max
    per_block = report.flops.per_block
    assert set(per_block) == {str(b) for b in cfg.search_space().block_ids}
    data = report.to_json()
    assert data["architectures"] == report.facts.architectures and data["flops"]["min"] == report.flops.min
    wide = space_report(cfg.model_copy(update={"data": cfg.data.model_copy(update={"image_size": 64})}))
    assert wide.flops.min > report.flops.min  # another input size is another report


@pytest.mark.slow
def test_derive_from_the_tuis_snapshots_equals_derive_from_the_run(synthetic, start):
    cfg = synthetic(epochs=3, arch_lr=0.5)
    runner, run, _ = start(cfg, retrain=False)
    assert runner.wait(120).status == "done"
    model = RunModel()
    for e in run.events():
        model.apply(e)
    history = run.epoch_history()
    assert len(history) == 3
    for h in history:
        from_model = derive(model.snapshots(str(run.path)), h.epoch)
        from_run = derive(run, h.epoch)
        assert json.loads(from_model.to_json()) == json.loads(from_run.to_json())
    with pytest.raises(PresnetError, match="no epoch 9"):
        derive(model.snapshots(), 9)
    with pytest.raises(PresnetError, match="no finished search epoch"):
        derive(RunModel().snapshots())
