"""Eager vs channels_last vs torch.compile (vs both), plain step and search step, in one process.

The four variants of each step are timed in turns (interleaved rounds, the median of each), so that
a shared machine's drifts hit every variant alike; the compile time is the first compiled step's
seconds less the compiled step's median.  The plain step compiles the whole network; the search
step compiles each candidate module of the mixed ops once, in place (the path choice stays in
Python, so a sampled path reuses its candidate's graph), and runs the engine's weight step
(a sampled path) and architecture step (``--estimator``) as a search epoch does.

    OMP_NUM_THREADS=1 nice python scripts/bench_formats.py --threads 1 --out benchmarks/formats-cpu.json
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from core.space import SearchSpace
from core.space.network import NetSpec, SearchNet, build_plain
from core.space.proxyless import MixedOp, Mode, PathSampler
from core.train.device import Precision
from core.train.step import arch_step, grad_scaler, train_step


def batch(n: int, size: int, channels_last: bool) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, size, size, generator=g)
    return (x.contiguous(memory_format=torch.channels_last) if channels_last else x), torch.randint(0, 10, (n,))


def plain_step(spec: NetSpec, n: int, size: int, cl: bool, compiled: bool) -> Callable[[], None]:
    model = build_plain(spec)
    if cl:
        model = model.to(memory_format=torch.channels_last)
    fwd = torch.compile(model, dynamic=False) if compiled else model
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    prec = Precision(torch.device("cpu"), None, cl)
    scaler = grad_scaler(prec)
    x, y = batch(n, size, cl)
    return lambda: train_step(fwd, opt, scaler, prec, x, y)  # type: ignore[arg-type]


def search_step(spec: NetSpec, space: SearchSpace, n: int, size: int, cl: bool, compiled: bool, mode: Mode):
    net = SearchNet(spec, space)
    if cl:
        net = net.to(memory_format=torch.channels_last)
    if compiled:
        # Out of place throughout: a compiled candidate saves its activation's input for backward, which an
        # in-place activation (the weight step's, toggled per step by the engine) would overwrite.
        net._set_inplace(False)
        net._set_inplace = lambda inplace: None  # type: ignore[method-assign]
        for m in net.modules():
            if isinstance(m, MixedOp):
                for cand in m.candidates:
                    cand.compile(dynamic=False)
    w_opt = torch.optim.SGD(net.weight_parameters(), lr=1e-3, momentum=0.9)
    a_opt = torch.optim.Adam(net.arch_parameters(), lr=1e-3)
    prec = Precision(torch.device("cpu"), None, cl)
    s1, s2 = grad_scaler(prec), grad_scaler(prec)
    sampler = PathSampler(0)
    x, y = batch(n, size, cl)

    def step() -> None:
        net.sample_weight_paths(sampler)
        train_step(net, w_opt, s1, prec, x, y)
        arch_step(net, sampler, mode, a_opt, s2, prec, x, y)

    return step


def measure(steps: dict[str, Callable[[], None]], warmup: int, repeats: int) -> dict[str, dict[str, float]]:
    first: dict[str, float] = {}
    times: dict[str, list[float]] = {k: [] for k in steps}
    for r in range(warmup + repeats):
        for k, fn in steps.items():
            t = time.perf_counter()
            fn()
            dt = time.perf_counter() - t
            if r == 0:
                first[k] = dt
            elif r >= warmup:
                times[k].append(dt)
        print(f"round {r + 1}/{warmup + repeats} done", flush=True)
    out = {}
    for k in steps:
        med = statistics.median(times[k])
        out[k] = {
            "step_s": med,
            "min_s": min(times[k]),
            "max_s": max(times[k]),
            "first_s": first[k],
            "compile_s": max(first[k] - med, 0.0),
            "n": len(times[k]),
        }
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--stem", default="imagenet")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--scope", default="10,11,12,13")
    p.add_argument("--estimator", default="all_paths")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--which", default="plain,search")
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    spec = NetSpec(10, a.stem, a.width)
    scope = [int(b) for b in a.scope.split(",")] if a.scope[0].isdigit() else a.scope
    space = SearchSpace.build(scope, depths=spec.depths)
    result: dict = {
        "settings": vars(a) | {"out": str(a.out)},
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
    }
    variants = {"eager": (False, False), "channels_last": (True, False), "compiled": (False, True)}
    variants["compiled_channels_last"] = (True, True)
    for which in a.which.split(","):
        t0 = time.perf_counter()
        if which == "plain":
            steps = {k: plain_step(spec, a.batch_size, a.image_size, cl, c) for k, (cl, c) in variants.items()}
        else:
            mode = Mode(a.estimator)
            steps = {
                k: search_step(copy.deepcopy(spec), space, a.batch_size, a.image_size, cl, c, mode)
                for k, (cl, c) in variants.items()
            }
        result[which] = measure(steps, a.warmup, a.repeats)
        result[which + "_wall_s"] = time.perf_counter() - t0
        print(json.dumps(result[which], indent=1), flush=True)
        if a.out:
            a.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
