#!/usr/bin/env python3
"""presnet's ProxylessNAS search step against NNI 3.0's, side by side in one process (issue 41).

The same ResNet-50 search space is built both ways: presnet's search network (``core.space.network``),
and an NNI 3.0 model space whose search bottlenecks are presnet's own (same convs, BatchNorms and
activation modules, same init) with each decision -- middle-conv kernel {3, 5}, activation {ReLU,
LeakyReLU, Mish} -- expressed as an ``nni.nas.nn.pytorch.LayerChoice``.  NNI's ``Proxyless`` strategy
turns that space into its supernet (``Proxyless().mutate_model``: every LayerChoice becomes a
``ProxylessMixedLayer`` with an alpha per label).

A search step is what each side does per batch:

- presnet: ``core.perf.bench``'s weight step on sampled paths, then its architecture step (two_path, the
  paper's estimator and presnet's default, and all_paths, the one NNI implements) -- the functions
  ``presnet bench`` times, with the memory format ``auto`` picks for the search network as a run picks
  it (``core.train.autotune.tune``), and with channels_last off;
- NNI: the body of ``DartsLightningModule.training_step`` (the module NNI's ``Proxyless`` strategy
  trains with), called directly, without Lightning's loop: ``resample()``, architecture loss, backward,
  the architecture Adam step NNI configures (lr 3e-4, betas (0.5, 0.999), weight decay 1e-3); then
  ``resample()``, weight loss, zero_grad, backward, the weight optimizer's step (presnet's bench SGD).
  NNI's ``_ProxylessFunction`` computes every other candidate's output in the backward of *both* steps
  (its "alpha does not need a gradient" shortcut tests the first, non-tensor argument, so it never
  applies): the script counts candidate calls per step and reports them.

Each presnet variant is timed against an NNI step as neighbours in time (``core.perf.bench.time_pairs``,
warm-up rounds first), round-robin over the variants, so that a shared machine's drifts cancel from the
per-pair ratios; the table gives medians, the ratios' median, quartiles and range.  Raw per-repeat seconds
go to ``--out``.

NNI is not a project dependency: NNI 3.0 does not support this torch (2.14) officially, so it lives in
its own virtual environment that sees the project's torch through a ``.pth`` file (BENCHMARKS.md, "presnet
against NNI 3.0").  Run with that environment's python:

    PYTHONPATH=. OMP_NUM_THREADS=2 nice -n 10 /work/nnivenv/bin/python scripts/bench_nni.py --threads 2 \\
        --repeats 15 --warmup 2 --out benchmarks/nni-side-by-side.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import torch
import torch.nn.functional as F
from torch import nn

from core.config import RunConfig
from core.errors import PresnetError
from core.perf import bench
from core.perf.timing import Setup, batch
from core.space import SearchSpace
from core.space.network import Bottleneck, NetSpec, ResNet, SearchBottleneck, SearchNet
from core.space.proxyless import MixedOp, Mode, PathSampler
from core.train.autotune import Probe, tune
from core.train.device import Precision, configure_torch

Step = Callable[[], None]


def refuse(msg: str) -> NoReturn:
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)


# -- NNI's side -------------------------------------------------------------------------------------
def nni_supernet(spec: NetSpec, space: SearchSpace) -> nn.Module:
    """NNI 3.0's Proxyless supernet of ``space``: presnet's blocks, each decision a LayerChoice."""
    from nni.nas.nn.pytorch import LayerChoice, ModelSpace
    from nni.nas.strategy import Proxyless

    class NNIBottleneck(SearchBottleneck):
        """presnet's search bottleneck with its two MixedOps handed to NNI as LayerChoices."""

        def __init__(self, block_id: int, in_ch: int, width: int, stride: int) -> None:
            super().__init__(in_ch, width, stride, space.kernels, space.activations)
            self.kernel = LayerChoice(list(self.kernel.candidates), label=f"b{block_id}_kernel")
            self.activation = LayerChoice(list(self.activation.candidates), label=f"b{block_id}_activation")
            self.mixed = []  # NNI replaces the LayerChoices in place: forward reads the attributes

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            identity = x if self.downsample is None else self.downsample(x)
            out = self.activation(self.kernel(self.relu(self.bn1(self.conv1(x)))))
            return self.relu(self.bn3(self.conv3(out)) + identity)

    class NNIResNet(ModelSpace):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()

            def make_block(block_id: int, in_ch: int, width: int, stride: int) -> nn.Module:
                if block_id in space.block_ids:
                    return NNIBottleneck(block_id, in_ch, width, stride)
                return Bottleneck(in_ch, width, stride)

            self.net = ResNet(spec, make_block)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

    return Proxyless().mutate_model(NNIResNet())


def nni_mixed_layers(model: nn.Module) -> list[nn.Module]:
    from nni.nas.oneshot.pytorch.supermodule.proxyless import ProxylessMixedLayer

    return [m for m in model.modules() if isinstance(m, ProxylessMixedLayer)]


def nni_optimizers(model: nn.Module) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """presnet's bench SGD for the weights; NNI's own architecture Adam (``configure_architecture_optimizers``)."""
    alphas = list({id(p): p for m in nni_mixed_layers(model) for p in m.arch_parameters()}.values())
    arch = {id(p) for p in alphas}
    weights = [p for p in model.parameters() if id(p) not in arch]
    return bench.sgd(weights), torch.optim.Adam(alphas, 3.0e-4, betas=(0.5, 0.999), weight_decay=1.0e-3)


def nni_iteration(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[Step, Step, Step]:
    """NNI's search step, and its architecture and weight halves (``DartsLightningModule.training_step``)."""
    w_opt, a_opt = nni_optimizers(model)
    layers = nni_mixed_layers(model)

    def resample() -> None:  # BaseOneShotLightningModule.resample
        memo: dict[str, Any] = {}
        for m in layers:
            memo.update(m.resample(memo=memo))

    def arch() -> None:
        resample()
        a_opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        a_opt.step()

    def weight() -> None:
        resample()
        loss = F.cross_entropy(model(x), y)
        w_opt.zero_grad()
        loss.backward()
        w_opt.step()

    def iteration() -> None:
        arch()
        weight()

    return iteration, arch, weight


# -- presnet's side ---------------------------------------------------------------------------------
def presnet_iteration(setup: Setup, net: SearchNet, mode: Mode) -> tuple[Step, Step, Step]:
    """``core.perf.bench.search_iteration`` with the estimator as a parameter (and its two halves)."""
    w_opt = bench.sgd(net.weight_parameters())
    a_opt = torch.optim.Adam(net.arch_parameters(), lr=1e-3, betas=(0.0, 0.999))
    sampler = PathSampler(7)
    x, y = batch(setup, seed=99)

    def weight() -> None:
        net.sample_weight_paths(sampler)
        bench.train_step(setup, net, w_opt, x, y)

    def arch() -> None:
        bench.arch_step(setup, net, sampler, a_opt, mode, x, y)

    def iteration() -> None:
        weight()
        arch()

    return iteration, arch, weight


def presnet_setup(prec: Precision, spec: NetSpec, args: argparse.Namespace) -> Setup:
    return Setup(prec.device, prec, spec, args.batch_size, args.image_size, args.repeats, args.warmup, 0)


# -- counting candidate calls -----------------------------------------------------------------------
@contextmanager
def counting(candidates: list[nn.Module]) -> Iterator[list[int]]:
    calls = [0]

    def hook(*_: Any) -> None:
        calls[0] += 1

    handles = [c.register_forward_hook(hook) for c in candidates]
    try:
        yield calls
    finally:
        for h in handles:
            h.remove()


def candidate_calls(candidates: list[nn.Module], step: Step) -> int:
    with counting(candidates) as calls:
        step()
    return calls[0]


def presnet_candidates(net: nn.Module) -> list[nn.Module]:
    return [c for m in net.modules() if isinstance(m, MixedOp) for c in m.candidates]


def nni_candidates(model: nn.Module) -> list[nn.Module]:
    return [m[name] for m in nni_mixed_layers(model) for name in m.names]


# -- one scope --------------------------------------------------------------------------------------
def tuned_format(args: argparse.Namespace, spec: NetSpec, space: SearchSpace, mode: Mode) -> tuple[bool, dict]:
    """What ``--channels-last auto`` picks for this search network and estimator, as a run picks it."""
    run_cfg = RunConfig(device="cpu", channels_last="auto", amp="off", threads=args.threads)
    prec = configure_torch(run_cfg, torch.device("cpu"))
    probe = Probe(SearchNet(spec, space), args.batch_size, args.image_size, mode)
    chosen, tuning = tune(run_cfg, prec, probe, reuse=False)  # a benchmark measures, never reuses
    return chosen.channels_last, tuning.model_dump()


def bench_scope(args: argparse.Namespace, spec: NetSpec, scope: str) -> dict[str, Any]:
    space = SearchSpace.build(scope, depths=spec.depths)
    off = Precision(torch.device("cpu"), None, False)
    base = presnet_setup(off, spec, args)
    torch.manual_seed(0)
    nni_model = nni_supernet(spec, space)
    nx, ny = batch(base, seed=99)
    nni_step, nni_arch, nni_weight = nni_iteration(nni_model, nx, ny)
    out: dict[str, Any] = {"scope": scope, "blocks": len(space.block_ids), "variants": {}, "tuning": {}}
    variants: dict[str, Step] = {}
    for mode in (Mode(m) for m in args.estimators):
        cl, out["tuning"][mode.value] = tuned_format(args, spec, space, mode)
        for fmt, channels_last in (("off", False), ("auto", cl)):
            if fmt == "auto" and not cl:
                continue  # auto picked off: the same variant as off
            setup = presnet_setup(Precision(torch.device("cpu"), None, channels_last), spec, args)
            torch.manual_seed(0)
            net = bench.to_device(setup, SearchNet(spec, space))
            assert isinstance(net, SearchNet)
            name = f"{mode.value}, channels_last {fmt} ({'on' if channels_last else 'off'})"
            variants[name], p_arch, p_weight = presnet_iteration(setup, net, mode)
            out["variants"][name] = {
                "estimator": mode.value,
                "channels_last": channels_last,
                "weight_params": sum(p.numel() for p in net.weight_parameters()),
                "candidate_calls": {
                    "weight_step": candidate_calls(presnet_candidates(net), p_weight),
                    "arch_step": candidate_calls(presnet_candidates(net), p_arch),
                },
            }
    alphas = {id(p) for m in nni_mixed_layers(nni_model) for p in m.arch_parameters()}
    out["nni"] = {
        "weight_params": sum(p.numel() for p in nni_model.parameters() if id(p) not in alphas),
        "decisions": len(nni_mixed_layers(nni_model)),
        "candidate_calls": {
            "weight_step": candidate_calls(nni_candidates(nni_model), nni_weight),
            "arch_step": candidate_calls(nni_candidates(nni_model), nni_arch),
        },
    }
    timed = interleaved(base, variants, nni_step, args)
    for name, (p, n) in timed.items():
        ratios = [a / b for a, b in zip(p, n)]
        out["variants"][name].update(
            presnet_s=p,
            nni_s=n,
            ratios=ratios,
            presnet_median_s=statistics.median(p),
            nni_median_s=statistics.median(n),
            ratio_median=statistics.median(ratios),
            ratio_min=min(ratios),
            ratio_max=max(ratios),
            n=len(ratios),
        )
    return out


def interleaved(
    setup: Setup, variants: dict[str, Step], nni_step: Step, args: argparse.Namespace
) -> dict[str, tuple[list[float], list[float]]]:
    """Per variant, the seconds of each (presnet step, NNI step) pair; variants round-robin, warm-up first."""
    for _ in range(args.warmup):
        for step in variants.values():
            bench.time_pairs(setup, [(step, nni_step)])
    times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in variants}
    for r in range(args.repeats):
        for name, step in variants.items():
            a, b = bench.time_pairs(setup, [(step, nni_step)])
            times[name][0].extend(a)
            times[name][1].extend(b)
        print(f"  round {r + 1}/{args.repeats}", file=sys.stderr, flush=True)
    return times


# -- the table --------------------------------------------------------------------------------------
def table(result: dict[str, Any]) -> str:
    """Markdown: per scope and presnet variant, the median seconds of each side and the per-pair ratios'
    median, quartiles and range."""
    rows = [
        "| scope | presnet variant | presnet s/step | NNI s/step | presnet/NNI: median (quartiles; range) | n |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for s in result["scopes"]:
        for name, v in s["variants"].items():
            q1, _, q3 = statistics.quantiles(v["ratios"], n=4)
            rows.append(
                f"| {s['scope']} | {name} | {v['presnet_median_s']:.3f} | {v['nni_median_s']:.3f} "
                f"| {v['ratio_median']:.2f}x ({q1:.2f}-{q3:.2f}; {v['ratio_min']:.2f}-{v['ratio_max']:.2f}) "
                f"| {v['n']} |"
            )
    return "\n".join(rows)


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scopes", default="s,f", help="comma-separated scopes (s, m, l, f)")
    p.add_argument("--estimators", default="two_path,all_paths", help="presnet's architecture-step estimators")
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--stem", default="cifar", choices=["cifar", "imagenet"])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--out", type=Path, help="raw per-repeat seconds as JSON")
    p.add_argument("--table", type=Path, help="print the table of a saved --out file, measuring nothing")
    args = p.parse_args(argv)
    args.scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    args.estimators = [e.strip() for e in args.estimators.split(",") if e.strip()]
    bad = [e for e in args.estimators if e not in {m.value for m in (Mode.TWO_PATH, Mode.ALL_PATHS)}]
    if bad:
        refuse(f"--estimators: unknown {bad[0]!r}; use two_path and/or all_paths")
    if min(args.batch_size, args.image_size, args.threads, args.repeats) < 1 or args.warmup < 0:
        refuse("--batch-size, --image-size, --threads and --repeats must be at least 1, --warmup at least 0")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.table:
        try:
            print(table(json.loads(args.table.read_text())))
        except (OSError, ValueError, KeyError) as e:
            refuse(f"--table {args.table}: not a saved bench_nni.py result ({e})")
        return
    try:
        import nni
    except ImportError:
        refuse("nni is not importable: run with the python of NNI 3.0's own venv (see this script's docstring)")

    spec = NetSpec(10, args.stem, args.width)
    try:
        for scope in args.scopes:
            SearchSpace.build(scope, depths=spec.depths)
    except PresnetError as e:
        refuse(f"--scopes: {e}")
    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    result: dict[str, Any] = {
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "torch": torch.__version__,
        "nni": nni.__version__,
        "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "loadavg_start": load,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "scopes": [],
    }
    t0 = time.perf_counter()
    for scope in args.scopes:
        print(f"scope {scope}", file=sys.stderr, flush=True)
        result["scopes"].append(bench_scope(args, spec, scope))
        if args.out:
            write_atomic(args.out, json.dumps(result, indent=1) + "\n")
    result["loadavg_end"] = os.getloadavg()
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    if args.out:
        write_atomic(args.out, json.dumps(result, indent=1) + "\n")
    print(table(result))
    print(f"\nload average {load[0]:.2f} at start, {result['loadavg_end'][0]:.2f} at end; {result['wall_s']} s")


if __name__ == "__main__":
    main()
