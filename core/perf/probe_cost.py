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
from core.perf import timing
from core.space.network import SearchNet
from core.train.curvature import largest_eigenvalue
from core.train.perturbation import readout

#: CIFAR-10's training images less the paper's 10 % validation split: the paper's search epoch
PAPER_TRAIN_IMAGES = 45_000


def probe_batches(setup: timing.Setup, images: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Random batches of the setup's size holding ``images`` images (a probe's cost does not depend on them)."""
    sizes = [min(setup.batch, images - start) for start in range(0, images, setup.batch)]
    batches = [timing.batch(setup, seed=i) for i in range(len(sizes))]
    return [(x[:n], y[:n]) for (x, y), n in zip(batches, sizes)]


def probe_calls(
    setup: timing.Setup, net: SearchNet, curvature: CurvatureConfig, perturbation: PerturbationConfig
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


def _once(setup: timing.Setup, fn: Callable[[], None]) -> float:
    timing.sync(setup.device)
    t = time.perf_counter()
    fn()
    timing.sync(setup.device)
    return time.perf_counter() - t


def interleaved(
    setup: timing.Setup, probes: dict[str, Callable[[], None]], iteration: Callable[[], None], iterations: int = 4
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


def probe_seconds(setup: timing.Setup, net: SearchNet, name: str, config: Any) -> float:
    """Median seconds of one measurement of probe ``name`` at ``config`` (``presnet plan``)."""
    off = {"curvature": CurvatureConfig(enabled=False), "perturbation": PerturbationConfig(enabled=False)}
    off[name] = config
    fn = probe_calls(setup, net, off["curvature"], off["perturbation"])[name]  # type: ignore[arg-type]
    saved = setup.warmup
    setup.warmup = 1
    try:
        return timing.timed(setup, fn, n=3)
    finally:
        setup.warmup = saved


def bench_probes(
    setup: timing.Setup, net: SearchNet, iteration: Callable[[], None], budget: float = 0.05
) -> dict[str, float]:
    """Each probe at its default settings against ``iteration`` (one search iteration: a weight step and
    an architecture step), and each one's share of the paper's epoch."""
    probes = probe_calls(setup, net, CurvatureConfig(), PerturbationConfig())
    t = interleaved(setup, probes, iteration)
    epoch_s = PAPER_TRAIN_IMAGES / setup.batch * t["iteration"]
    out: dict[str, float] = {"search_iteration_s": t["iteration"], "probe_budget": budget}
    for name in probes:
        out[f"{name}_s"] = t[name]
        out[f"{name}_share_paper"] = t[name] / epoch_s
    out["probes_share_paper"] = sum(t[n] for n in probes) / epoch_s
    return out
