"""What the search's probes cost: one curvature measurement and one perturbation readout, in seconds and
as a share of a search epoch (``presnet bench``'s probe line, ``presnet plan``'s probe shares).

Both sides of a share come from one process, interleaved: each repeat times the two probes and then
search iterations (a weight step and a two-path architecture step, as a search epoch runs them), so a
change in machine speed moves both sides alike.  The paper's epoch is 45,000 / batch such iterations.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from core.config import CurvatureConfig, PerturbationConfig
from core.perf import bench
from core.space.network import SearchNet
from core.space.proxyless import Mode, PathSampler
from core.train.curvature import largest_eigenvalue
from core.train.perturbation import readout

#: CIFAR-10's training images less the paper's 10 % validation split: the paper's search epoch
PAPER_TRAIN_IMAGES = 45_000


def probe_batches(setup: bench.Setup, images: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Random batches of the setup's size holding ``images`` images (a probe's cost does not depend on them)."""
    sizes = [len(c) for c in torch.arange(images).split(setup.batch)]
    batches = [bench.batch(setup, seed=i) for i in range(len(sizes))]
    return [(x[:n], y[:n]) for (x, y), n in zip(batches, sizes)]


def probe_calls(
    setup: bench.Setup, net: SearchNet, curvature: CurvatureConfig, perturbation: PerturbationConfig
) -> dict[str, Callable[[], None]]:
    """One measurement of each enabled probe, as the search makes it."""
    calls: dict[str, Callable[[], None]] = {}
    cb = probe_batches(setup, curvature.images)
    pb = probe_batches(setup, perturbation.images)

    def curvature_probe() -> None:
        largest_eigenvalue(net, cb, curvature.steps, 0)

    def perturbation_probe() -> None:
        readout(net, pb)

    net.train()  # as in a search epoch: batch statistics (the probes leave the running ones untouched)
    if curvature.enabled:
        calls["curvature"] = curvature_probe
    if perturbation.enabled:
        calls["perturbation"] = perturbation_probe
    return calls


def _once(setup: bench.Setup, fn: Callable[[], None]) -> float:
    bench.sync(setup.device)
    t = time.perf_counter()
    fn()
    bench.sync(setup.device)
    return time.perf_counter() - t


def interleaved(
    setup: bench.Setup, probes: dict[str, Callable[[], None]], iteration: Callable[[], None], iterations: int = 4
) -> dict[str, float]:
    """Median seconds of each probe and of one search iteration, timed in turn over ``setup.repeats`` rounds
    (after one warm-up round)."""
    times: dict[str, list[float]] = {name: [] for name in [*probes, "iteration"]}
    for r in range(setup.repeats + 1):
        for name, fn in probes.items():
            t = _once(setup, fn)
            if r:
                times[name].append(t)
        for _ in range(iterations):
            t = _once(setup, iteration)
            if r:
                times["iteration"].append(t)
    return {name: statistics.median(ts) for name, ts in times.items()}


def probe_seconds(setup: bench.Setup, net: SearchNet, name: str, config: Any) -> float:
    """Median seconds of one measurement of probe ``name`` at ``config`` (``presnet plan``)."""
    off = {"curvature": CurvatureConfig(enabled=False), "perturbation": PerturbationConfig(enabled=False)}
    off[name] = config
    fn = probe_calls(setup, net, off["curvature"], off["perturbation"])[name]  # type: ignore[arg-type]
    saved = setup.warmup
    setup.warmup = 1
    try:
        return bench.timed(setup, fn, n=3)
    finally:
        setup.warmup = saved


def bench_probes(setup: bench.Setup, net: SearchNet, w_opt: Any, a_opt: Any, budget: float = 0.05) -> dict[str, Any]:
    """Each probe at its default settings against search iterations, and its share of the paper's epoch."""
    sampler = PathSampler(7)
    x, y = bench.batch(setup, seed=99)

    def iteration() -> None:
        net.sample_weight_paths(sampler)
        bench.train_step(setup, net, w_opt, x, y)
        bench.arch_step(setup, net, sampler, a_opt, Mode.TWO_PATH, x, y)

    probes = probe_calls(setup, net, CurvatureConfig(), PerturbationConfig())
    t = interleaved(setup, probes, iteration)
    epoch_s = PAPER_TRAIN_IMAGES / setup.batch * t["iteration"]
    out: dict[str, Any] = {"search_iteration_s": t["iteration"], "probe_budget": budget}
    for name in probes:
        out[f"{name}_s"] = t[name]
        out[f"{name}_share_paper"] = t[name] / epoch_s
    out["probes_share_paper"] = sum(t[n] for n in probes) / epoch_s
    return out
