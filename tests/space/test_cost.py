"""Costs: FLOPs and params, per-candidate costs, the cost term's gradient, latency tables, a search under a budget."""

from __future__ import annotations

import random

import pytest
import torch

from core.config import ConfigError, validate
from core.errors import PresnetError
from core.run.control import Control
from core.run.events import EventBus
from core.run.rundir import RunDir
from core.space import SearchSpace
from core.space.arch import load_arch
from core.space.cost import (
    CostTerm,
    choices_cost,
    costs_from_table,
    count_flops,
    latency_table,
    measure_candidates,
    save_latency_table,
)
from core.space.network import BlockChoice, NetSpec, SearchNet, build_plain, count_params
from core.train.job import Job

TINY_SPEC = NetSpec(10, "imagenet", 0.125, (1, 1, 2, 1))


def tiny_net(kernels=(7, 5, 3), activations=("relu", "mish")) -> SearchNet:
    return SearchNet(TINY_SPEC, SearchSpace.build("m", kernels, activations, TINY_SPEC.depths))


def test_plain_resnet50_flops_at_224_px():
    flops = count_flops(build_plain(NetSpec(num_classes=10)), 224)
    assert abs(flops - 8.18e9) / 8.18e9 < 0.02, flops  # 4.09 G multiply-adds, 2 FLOPs each


@pytest.mark.parametrize("metric", ["flops", "params"])
def test_candidate_costs_add_up_to_the_built_network(metric):
    net = tiny_net()
    costs = measure_candidates(net, metric, 32)
    rng = random.Random(0)
    for _ in range(3):
        choices = {b: BlockChoice(rng.choice([7, 5, 3]), rng.choice(["relu", "mish"])) for b in net.space.block_ids}
        model = build_plain(TINY_SPEC, choices)
        want = count_flops(model, 32) if metric == "flops" else count_params(model)
        assert choices_cost(costs, net, choices) == want


def _synthetic_ce(alphas: dict[str, torch.Tensor]) -> torch.Tensor:
    """A smooth stand-in for the validation loss, differentiable in the alphas."""
    w = {"kernel": torch.tensor([0.3, -0.2, 0.5]), "activation": torch.tensor([0.7, 0.1])}
    return 1.5 + sum((torch.softmax(a, 1) * w[d].double()).sum() for d, a in alphas.items())


@pytest.mark.parametrize("form", ["add", "mul_log"])
def test_cost_term_gradient_matches_finite_differences(form):
    costs = measure_candidates(tiny_net(), "flops", 32)
    term = CostTerm(
        costs, form, target=0.9 * costs.of_indices({"kernel": [2, 2, 2], "activation": [0, 0, 0]}), weight=0.7
    )
    gen = torch.Generator().manual_seed(0)
    alphas = {
        "kernel": torch.randn(3, 3, generator=gen, dtype=torch.float64),
        "activation": torch.randn(3, 2, generator=gen, dtype=torch.float64),
    }

    def total(a: dict[str, torch.Tensor]) -> float:
        with torch.no_grad():
            return float(term.loss(_synthetic_ce(a), term.expected(a)))

    # What the engine holds after the gate backward: dCE/dalpha in alpha.grad, CE as a value.
    params = {d: a.clone().requires_grad_() for d, a in alphas.items()}
    ce = _synthetic_ce(params)
    ce.backward()
    term.apply(params, ce.detach())
    eps = 1e-6
    for d, a in alphas.items():
        for idx in [(r, c) for r in range(a.shape[0]) for c in range(a.shape[1])]:
            up = {k: v.clone() for k, v in alphas.items()}
            down = {k: v.clone() for k, v in alphas.items()}
            up[d][idx] += eps
            down[d][idx] -= eps
            numeric = (total(up) - total(down)) / (2 * eps)
            assert params[d].grad[idx].item() == pytest.approx(numeric, rel=1e-5, abs=1e-8), (d, idx)


def test_latency_table_round_trip_and_mismatch(tmp_path):
    net = tiny_net()
    table = latency_table(net, 32, batch=1, warmup=1, repeats=3)
    path = tmp_path / "lat.json"
    save_latency_table(path, table)
    costs = costs_from_table(path, net, 32)
    assert [len(r) for r in costs.per_row["kernel"]] == [3, 3, 3] and costs.fixed >= 0
    assert all(v > 0 for row in costs.per_row["kernel"] for v in row)
    with pytest.raises(PresnetError, match="another network or input size"):
        costs_from_table(path, net, 64)
    with pytest.raises(PresnetError, match="no kernel latencies for block"):
        costs_from_table(path, tiny_net(kernels=(1, 3)), 32)


def test_cost_config_is_checked():
    with pytest.raises(ConfigError, match="latency needs a table"):
        validate({"search": {"cost": {"metric": "latency", "target": 100}}})
    with pytest.raises(ConfigError, match="mul_log needs a target above 1"):
        validate({"search": {"cost": {"metric": "flops", "target": 0.5, "form": "mul_log"}}})
    assert validate({}).search.cost is None  # off by default


def _search(cfg):
    run = RunDir.create(cfg)
    result = Job(cfg, run, EventBus(), Control(), retrain=False).prepare().run()
    assert result.status == "done", result.message
    return run


@pytest.mark.slow
def test_a_strong_flops_weight_derives_cheaper_architectures(tiny, tmp_path):
    """Same seed, kernels {7, 5, 3} (ties go to 7): with the FLOPs term the search picks cheaper kernels."""
    space = {"kernels": [7, 5, 3], "activations": ["relu"]}
    search = {"epochs": 2, "warmup_epochs": 1, "arch_lr": 0.05}
    plain = _search(tiny(space=space, search=search, run={"out": str(tmp_path / "plain")}))
    cheap_cost = {"metric": "flops", "target": 2.0e6, "weight": 20.0, "form": "add"}
    cheap = _search(
        tiny(
            space=space,
            search={**search, "cost": cheap_cost},
            run={"out": str(tmp_path / "cheap"), "tensorboard": True},
        )
    )
    flops = {name: count_flops(load_arch(r.arch_file).build(), 32) for name, r in (("plain", plain), ("cheap", cheap))}
    assert flops["cheap"] < flops["plain"], flops
    p3 = {
        name: [b["kernel"]["3"] for b in r.epoch_history()[-1].alphas.values()]
        for name, r in (("plain", plain), ("cheap", cheap))
    }
    assert all(c > max(0.6, p) for c, p in zip(p3["cheap"], p3["plain"])), p3  # 3x3 favoured in every block
    history = cheap.epoch_history()
    assert all(h.cost_metric == "flops" and h.expected_cost is not None for h in history)
    assert history[-1].expected_cost < history[0].expected_cost
    assert all(h.expected_cost is None for h in plain.epoch_history())

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(cheap.path / "tensorboard"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"search/train_loss", "search/val_top1", "search/expected_cost", "lr", "alpha/1/kernel/3"} <= tags
    assert "images_per_s" in tags  # live only: progress events are not kept in events.jsonl
    assert [e.step for e in acc.Scalars("search/expected_cost")] == [h.epoch for h in history]


def test_the_tui_shows_flops_and_the_expected_cost():
    from core.run.events import EpochEnd
    from core.space.arch import Architecture
    from presnet_tui.app.screens.retrain import architecture_flops
    from presnet_tui.shared.model import RunModel
    from presnet_tui.shared.units import human

    arch = Architecture(blocks={1: {"kernel": 7}}, width_mult=0.125, depths=[1, 1, 2, 1])
    line = architecture_flops(arch.model_dump(mode="json"), 32)
    assert line == f"FLOPs at 32 px: {human(count_flops(arch.build(), 32))}"
    model = RunModel()
    model.apply(
        EpochEnd(
            epoch=1,
            epochs=2,
            phase="search",
            train_loss=1.0,
            train_top1=0.5,
            lr=0.1,
            elapsed_s=1.0,
            alphas={},
            expected_cost=1.5e6,
            cost_metric="flops",
        )  # fmt: skip
    )
    assert model.expected_cost == (1.5e6, "flops")
