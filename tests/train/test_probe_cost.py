"""What the probes cost: both sides of the share timed interleaved in one process (bench), and the
plan's probe shares held to search.probe_budget."""

from __future__ import annotations

import torch

from core.config import Config, RunConfig
from core.perf import bench
from core.perf.plan import StepTimes, _probe_shares
from core.perf.probe_cost import PAPER_TRAIN_IMAGES, bench_probes, interleaved
from core.space import SearchSpace
from core.space.network import NetSpec, SearchNet
from core.train.device import configure_torch
from presnet_tui.cli.views.bench import probe_line


def _setup() -> bench.Setup:
    device = torch.device("cpu")
    prec = configure_torch(RunConfig(device="cpu"), device)
    return bench.Setup(device, prec, NetSpec(10, "cifar", 0.125, (1, 1, 1, 1)), 8, 32, 1, 1, 16)


def test_the_shares_are_the_probes_over_a_paper_epoch_of_interleaved_iterations():
    setup = _setup()
    space = SearchSpace.build("s", depths=setup.spec.depths)
    net = SearchNet(setup.spec, space)
    w_opt = bench.sgd(net.weight_parameters())
    a_opt = torch.optim.Adam(net.arch_parameters(), lr=1e-3)
    out = bench_probes(setup, net, bench.search_iteration(setup, net, w_opt, a_opt))
    epoch_s = PAPER_TRAIN_IMAGES / setup.batch * out["search_iteration_s"]
    for name in ("curvature", "perturbation"):
        assert out[f"{name}_s"] > 0 and abs(out[f"{name}_share_paper"] - out[f"{name}_s"] / epoch_s) < 1e-12
    assert abs(out["probes_share_paper"] - out["curvature_share_paper"] - out["perturbation_share_paper"]) < 1e-12
    line = probe_line({"scope": "s", **out})
    assert line.startswith("(9) probes, s: curvature ") and "perturbation" in line and "budget 5%" in line


def test_interleaving_alternates_the_probes_and_the_iterations():
    order: list[str] = []
    setup = _setup()
    setup.repeats = 2
    t = interleaved(setup, {"a": lambda: order.append("a")}, lambda: order.append("i"), iterations=2)
    assert order == ["a", "i", "i"] * 3 and set(t) == {"a", "iteration"}


def _cfg(**search) -> Config:
    return Config.model_validate({"search": search})


def test_the_plan_holds_the_probes_to_the_budget_and_exempts_what_a_decision_needs():
    t = StepTimes(0.1, 0.1, 0.1, curvature_s=4.0, perturbation_s=1.0)
    curv, pert, probes = _probe_shares(_cfg(), t, 10.0)
    assert (curv, pert) == (0.4, 0.1) and abs(probes - 0.05) < 1e-12  # 50 % unheld, held to 5 %
    assert abs(_probe_shares(_cfg(probe_budget=1.0), t, 10.0)[2] - 5 / 15) < 1e-12  # no limit
    # the curvature rule needs every measurement: 4 s exempt, already past the budget; perturbation held to 0
    assert abs(_probe_shares(_cfg(stop_rule="curvature"), t, 10.0)[2] - 4 / 14) < 1e-12
    cheap = StepTimes(0.1, 0.1, 0.1, curvature_s=0.1, perturbation_s=0.1)
    assert abs(_probe_shares(_cfg(), cheap, 10.0)[2] - 0.2 / 10.2) < 1e-12  # within the budget: unchanged
