"""The search as a strategy (core.train.strategy): ``search.estimator`` picks a ProxylessNAS sibling, and
the strategy's state (the alphas' optimiser, the path sampler, its step count) is one checkpoint section
that puts a fresh strategy where the first one stood."""

from __future__ import annotations

import pytest
import torch

from core.run.control import Control
from core.run.events import EventBus
from core.space.proxyless import Mode
from core.train.loop import LoopContext
from core.train.search_loop import SearchEngine
from core.train.strategy import STRATEGIES, ProxylessAllPaths, ProxylessTwoPath


def _engine(tiny, tmp_path, estimator: str) -> SearchEngine:
    cfg = tiny(data={"dataset": "synthetic", "synthetic_size": 96, "batch_size": 16}, search={"estimator": estimator})
    return SearchEngine(LoopContext(cfg, EventBus(), Control(), tmp_path / f"{estimator}.pt", lambda: 0))


@pytest.mark.parametrize(
    ("estimator", "cls", "mode"),
    [("two_path", ProxylessTwoPath, Mode.TWO_PATH), ("all_paths", ProxylessAllPaths, Mode.ALL_PATHS)],
)
def test_the_estimator_picks_its_strategy_and_its_state_resumes_it(tiny, tmp_path, estimator, cls, mode):
    assert STRATEGIES[estimator] is cls
    engine = _engine(tiny, tmp_path, estimator)
    strategy = engine.strategy
    assert type(strategy) is cls and cls.mode is mode
    assert {id(p) for p in engine.a_opt.param_groups[0]["params"]} == {id(p) for p in engine.net.arch_parameters()}
    before = [a.detach().clone() for a in engine.net.arch_parameters()]
    for _ in range(2):
        engine.arch_step(*engine.val.cycle())
    assert engine.arch_steps == 2
    assert any(not torch.equal(b, a) for b, a in zip(before, engine.net.arch_parameters()))  # the alphas moved

    state = strategy.state_dict()
    again = _engine(tiny, tmp_path, estimator)
    again.net.load_state_dict(engine.net.state_dict())
    again.strategy.load_state_dict(state)
    assert (
        again.arch_steps == 2 and again.a_opt.state_dict()["state"].keys() == engine.a_opt.state_dict()["state"].keys()
    )
    logits = engine.net.host_alphas()
    drawn = [(d.active, d.paths) for d in (strategy.sampler.draw(lg, mode) for lg in logits)]
    resumed = [(d.active, d.paths) for d in (again.strategy.sampler.draw(lg, mode) for lg in logits)]
    assert resumed == drawn  # the sampler's stream resumes where it stood
