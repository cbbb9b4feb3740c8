"""The measurements behind ``presnet bench``: search cost against its physical limit, memory against a DARTS-style step.

All figures come from one process on one device, same batch and image size,
after warm-up, as the median over repeats:

1. plain ResNet-50 training step (images/s);
2. search weight step pinned to the base choice (3x3, ReLU), as a ratio to (1):
   the mixed-op machinery's own overhead;
3. search weight step with uniform sampling, as a ratio to plain networks built
   from the *same* sampled architectures stepped through the same sequence: the
   overhead against the true limit (a 5x5 path costs more by nature, not by overhead);
4. architecture step, two_path and all_paths (images/s, ratio to 1);
5. a whole search epoch on the on-device pipeline, ratio to a plain epoch over
   the same images (a search epoch does a weight step *and* an architecture step);
6. memory beyond parameters and optimizer state -- CUDA: peak allocated during
   the step minus what was allocated before it; CPU: bytes of the distinct tensors
   autograd saves for backward, the bulk of activation memory -- for
   ProxylessNAS, a DARTS-style softmax-weighted super-network, and the plain network;
   totals add parameters, gradients' worth of optimizer state and that figure;
7. the data pipeline alone (images/s), next to (1);
8. the probes: one curvature measurement and one perturbation readout at their default settings, in
   seconds and as a share of a search epoch of the paper's 45,000 training images, timed interleaved
   with search iterations (:mod:`core.perf.probe_cost`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

import torch

from core.config import DataConfig, RunConfig
from core.perf.bench_report import (
    BenchReport,
    EpochBench,
    MemoryBench,
    PipelineTiming,
    PlainBench,
    ProbeBench,
    ProgressBench,
    ScopeBench,
    as_record,
)
from core.perf.probe_cost import bench_probes
from core.perf.progress_cost import bench_progress
from core.perf.steps import _backward as _backward
from core.perf.steps import arch_step as arch_step
from core.perf.steps import base_indices as base_indices
from core.perf.steps import loss_of as loss_of
from core.perf.steps import saved_tensor_bytes as saved_tensor_bytes
from core.perf.steps import search_iteration as search_iteration
from core.perf.steps import sgd as sgd
from core.perf.steps import step_memory as step_memory
from core.perf.steps import tensor_bytes as tensor_bytes
from core.perf.steps import to_device as to_device
from core.perf.steps import train_step as train_step
from core.perf.timing import Setup, batch, sync, timed
from core.space import RESNET50_DEPTHS, SearchSpace
from core.space.network import NetSpec, SearchNet, build_plain
from core.space.proxyless import Mode, PathSampler, host_logits
from core.train.autotune import Probe, tune
from core.train.data import ImageSet, channel_stats
from core.train.device import configure_torch, resolve_device
from core.train.pipeline import DeviceLoader

Pair = tuple[Callable[[], None], Callable[[], None]]


def time_pairs(setup: Setup, pairs: Sequence[Pair]) -> tuple[list[float], list[float]]:
    """Seconds of each ``(step, reference)`` pair, the two run back to back."""
    a: list[float] = []
    b: list[float] = []
    for step, reference in pairs:
        for fn, out in ((step, a), (reference, b)):
            sync(setup.device)
            t = time.perf_counter()
            fn()
            sync(setup.device)
            out.append(time.perf_counter() - t)
    return a, b


def paired(setup: Setup, step: Callable[[], None], reference: Callable[[], None]) -> tuple[float, float, float]:
    """Median seconds of ``step`` and of ``reference``, and the median of their per-pair ratios.

    The two are timed alternately, and each ratio compares neighbours in time, so that drifts in
    machine speed (other load, clocks) cancel out of the ratios the targets are about."""
    time_pairs(setup, [(step, reference)] * setup.warmup)
    a, b = time_pairs(setup, [(step, reference)] * setup.repeats)
    return statistics.median(a), statistics.median(b), statistics.median(x / y for x, y in zip(a, b))


def bench_plain(setup: Setup) -> tuple[PlainBench, Callable[[], None]]:
    """(1), and the step itself: the reference the scopes' steps are timed against."""
    model = to_device(setup, build_plain(setup.spec))
    opt = sgd(list(model.parameters()))
    x, y = batch(setup)
    t = timed(setup, lambda: train_step(setup, model, opt, x, y))
    opt.zero_grad(set_to_none=True)
    act = step_memory(setup, lambda: loss_of(setup, model, x, y), _backward)
    params = tensor_bytes(model.parameters())
    state = tensor_bytes(v for s in opt.state.values() for v in s.values() if torch.is_tensor(v))
    return {
        "step_s": t,
        "images_per_s": setup.batch / t,
        "activation_bytes": act,
        "total_bytes": params + state + act,
        "params": sum(p.numel() for p in model.parameters()),
    }, lambda: train_step(setup, model, opt, x, y)


def bench_pipeline(setup: Setup) -> PipelineTiming:
    n = max(setup.epoch_images, setup.batch * 4)
    g = torch.Generator().manual_seed(0)
    data = ImageSet(
        torch.randint(0, 256, (n, 3, setup.size, setup.size), dtype=torch.uint8, generator=g),
        torch.arange(n) % setup.spec.num_classes,
    )
    mean, std = channel_stats(data.images)
    cfg = DataConfig(dataset="synthetic", image_size=setup.size, batch_size=setup.batch, augment="crop_resize")
    loader = DeviceLoader(
        data, cfg, mean, std, setup.device, 0, shuffle=True, augment=True, channels_last=setup.prec.channels_last
    )

    def one_batch() -> None:
        if loader.next() is None:
            loader.start_epoch()
            loader.next()

    loader.start_epoch()
    t = timed(setup, one_batch, n=max(setup.repeats * 4, 20))
    return {"batch_s": t, "images_per_s": setup.batch / t}


def bench_scope(setup: Setup, scope: str, plain: PlainBench, plain_step: Callable[[], None]) -> ScopeBench:
    space = SearchSpace.build(scope, depths=setup.spec.depths, joint=setup.joint)
    net = to_device(setup, SearchNet(setup.spec, space))
    assert isinstance(net, SearchNet)
    w_opt = sgd(net.weight_parameters())
    a_opt = torch.optim.Adam(net.arch_parameters(), lr=1e-3, betas=(0.0, 0.999))
    x, y = batch(setup)

    # (2) pinned to the base choice
    pinned = base_indices(space)

    def pinned_step() -> None:
        net.set_fixed(pinned)
        train_step(setup, net, w_opt, x, y)

    pinned_ratio = paired(setup, pinned_step, plain_step)[2]

    # (3) uniform sampling against plain networks of the same sampled architectures
    uniform_ratio = bench_uniform(setup, net, w_opt, x, y)
    sampler = PathSampler(123)

    # (4) architecture steps
    two_s, _, two_ratio = paired(setup, partial(arch_step, setup, net, sampler, a_opt, Mode.TWO_PATH, x, y), plain_step)
    all_s, _, all_ratio = paired(
        setup, partial(arch_step, setup, net, sampler, a_opt, Mode.ALL_PATHS, x, y), plain_step
    )
    # (5) a whole search epoch on the on-device pipeline, against a plain epoch over the same images
    epoch = bench_epoch(setup, net, w_opt, a_opt, sampler)
    # (8) the probes (curvature, perturbation), interleaved with search iterations, as a share of a search
    #     epoch of the paper's 45,000 training images
    probes = as_record(ProbeBench, bench_probes(setup, net, search_iteration(setup, net, w_opt, a_opt)))
    # (6) memory beyond parameters and optimizer state
    memory = _scope_memory(setup, net, (w_opt, a_opt), sampler, pinned, (x, y), plain["activation_bytes"])
    return {
        "scope": scope,
        "blocks": len(space.block_ids),
        "pinned_ratio": pinned_ratio,
        "uniform_ratio": uniform_ratio,
        "two_path_images_per_s": setup.batch / two_s,
        "two_path_ratio": two_ratio,
        "all_paths_images_per_s": setup.batch / all_s,
        "all_paths_ratio": all_ratio,
        **epoch,
        **probes,
        **memory,
    }


def _scope_memory(
    setup: Setup,
    net: SearchNet,
    opts: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    sampler: PathSampler,
    pinned: dict[str, list[int]],
    data: tuple[torch.Tensor, torch.Tensor],
    plain_bytes: int,
) -> MemoryBench:
    """(6): a weight step's, an architecture step's and a DARTS-style step's memory beyond parameters
    and optimizer state, as ratios to the plain network's, and the totals with parameters."""
    (w_opt, a_opt), (x, y) = opts, data
    w_opt.zero_grad(set_to_none=True)
    net.set_fixed(pinned)
    weight = step_memory(setup, lambda: loss_of(setup, net, x, y), _backward)
    w_opt.zero_grad(set_to_none=True)

    begun = []  # the architecture step the forward began, for its backward

    def arch_fwd() -> torch.Tensor:
        begun.append(net.begin_arch_step(sampler, Mode.TWO_PATH))
        return loss_of(setup, net, x, y)

    arch = step_memory(setup, arch_fwd, lambda loss: _backward(loss, list(begun[-1].gates.values())))
    net.finish_arch_backward(begun[-1])
    a_opt.zero_grad(set_to_none=True)
    net.set_softmax_weighted()
    darts = step_memory(setup, lambda: loss_of(setup, net, x, y), _backward)
    w_opt.zero_grad(set_to_none=True)
    a_opt.zero_grad(set_to_none=True)
    net.set_argmax()
    params = tensor_bytes(p for p in net.parameters())
    return {
        "weight_bytes": weight,
        "arch_bytes": arch,
        "darts_bytes": darts,
        "weight_ratio_mem": weight / plain_bytes,
        "arch_ratio_mem": arch / plain_bytes,
        "darts_ratio_mem": darts / plain_bytes,
        "supernet_param_bytes": params,
        # SGD keeps one momentum buffer per parameter tensor: the total counts params, momentum, the step.
        "proxyless_total_bytes": 2 * params + max(weight, arch),
        "darts_total_bytes": 2 * params + darts,
    }


def bench_uniform(
    setup: Setup, net: SearchNet, w_opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
) -> float:
    """(3): uniformly sampled weight steps over plain networks built from the same draws.

    The sequence of draws is stepped twice with the same seed: first untimed, so that every
    plain network and every newly sampled candidate has made its first-step allocations
    (momentum buffers) -- otherwise each fresh plain network would pay them in the timed
    pass and flatter the search step -- then timed, pair by pair.
    """
    probe = PathSampler(123)
    logits = dict(zip(net.decisions, host_logits(net.arch_parameters())))
    plains = []
    for _ in range(setup.repeats):
        drawn = {d: probe.draw(lg, Mode.WEIGHT, uniform=True).active for d, lg in logits.items()}
        model = to_device(setup, build_plain(setup.spec, net.choices_for(drawn)))
        plains.append((model, sgd(list(model.parameters()))))

    def sequence() -> list[Pair]:
        sampler = PathSampler(123)  # the probe's draws, again

        def search_step() -> None:
            net.sample_weight_paths(sampler, uniform=True)
            train_step(setup, net, w_opt, x, y)

        return [(search_step, partial(train_step, setup, m, o, x, y)) for m, o in plains]

    time_pairs(setup, sequence())
    a, b = time_pairs(setup, sequence())
    return statistics.median(p / q for p, q in zip(a, b))


def bench_epoch(
    setup: Setup, net: SearchNet, w_opt: torch.optim.Optimizer, a_opt: torch.optim.Optimizer, sampler: PathSampler
) -> EpochBench:
    n = max(setup.epoch_images, setup.batch * 4)
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (2 * n, 3, setup.size, setup.size), dtype=torch.uint8, generator=g)
    labels = torch.arange(2 * n) % setup.spec.num_classes
    train, val = ImageSet(images[:n], labels[:n]), ImageSet(images[n:], labels[n:])
    mean, std = channel_stats(train.images)
    cfg = DataConfig(dataset="synthetic", image_size=setup.size, batch_size=setup.batch)
    common = dict(cfg=cfg, mean=mean, std=std, device=setup.device, channels_last=setup.prec.channels_last)
    tl = DeviceLoader(train, seed=0, shuffle=True, augment=True, **common)  # type: ignore[arg-type]
    vl = DeviceLoader(val, seed=1, shuffle=True, augment=False, **common)  # type: ignore[arg-type]

    def search_epoch() -> None:
        for xb, yb in tl:
            net.sample_weight_paths(sampler)
            train_step(setup, net, w_opt, xb, yb)
            arch_step(setup, net, sampler, a_opt, Mode.TWO_PATH, *vl.cycle())

    model = to_device(setup, build_plain(setup.spec))
    opt = sgd(list(model.parameters()))

    def plain_epoch() -> None:
        for xb, yb in tl:
            train_step(setup, model, opt, xb, yb)

    saved = setup.warmup, setup.repeats
    setup.warmup, setup.repeats = 1, max(1, setup.repeats // 3)
    try:
        t_search, _, ratio = paired(setup, search_epoch, plain_epoch)
    finally:
        setup.warmup, setup.repeats = saved
    images_seen = tl.steps_per_epoch * setup.batch
    return {"epoch_images_per_s": images_seen / t_search, "epoch_ratio": ratio}


@dataclass
class BenchSettings:
    """What to measure; ``None`` means the device's default (filled in by :meth:`resolved`)."""

    device: str = "auto"
    width: float | None = None
    depths: tuple[int, ...] = RESNET50_DEPTHS
    stem: str = "imagenet"
    candidates: str = "factorized"  #: or joint: one decision over every (kernel, activation) pair
    image_size: int = 32
    batch_size: int | None = None
    repeats: int | None = None
    warmup: int = 2
    epoch_images: int | None = None
    scopes: list[str] = field(default_factory=lambda: ["s", "m", "l", "f"])
    amp: str = "auto"
    channels_last: str = "auto"
    threads: int | None = None

    def resolved(self, cuda: bool) -> BenchSettings:
        """Defaults sized for the device: full width and longer runs on a GPU, a quarter width on a CPU."""
        batch = self.batch_size or (64 if cuda else 32)
        return replace(
            self,
            width=self.width if self.width is not None else (1.0 if cuda else 0.25),
            batch_size=batch,
            repeats=self.repeats or (20 if cuda else 9),
            epoch_images=self.epoch_images or batch * (50 if cuda else 6),
        )


def run(settings: BenchSettings) -> BenchReport:
    """Every measurement of the module doc, as one JSON-ready record (front ends render it)."""
    run_cfg = RunConfig(
        device=settings.device, amp=settings.amp, channels_last=settings.channels_last, threads=settings.threads
    )
    device = resolve_device(run_cfg.device)
    args = settings.resolved(device.type == "cuda")
    prec = configure_torch(run_cfg, device)
    # resolved() filled every device default in
    assert args.width and args.batch_size and args.repeats and args.epoch_images
    spec = NetSpec(10, args.stem, args.width, args.depths)
    # auto: the faster memory format (and precision, on CUDA) for this network and batch, measured as a
    # run measures it (core.train.autotune); what it chose and the timings go into the report
    prec, tuning = tune(run_cfg, prec, Probe(build_plain(spec), args.batch_size, args.image_size), reuse=False)
    torch.manual_seed(0)
    setup = Setup(
        device,
        prec,
        spec,
        args.batch_size,
        args.image_size,
        args.repeats,
        args.warmup,
        args.epoch_images,
        joint=args.candidates == "joint",
    )
    return {**measure(setup, args.scopes), "tuning": tuning.model_dump()}


def measure(setup: Setup, scopes: Sequence[str]) -> BenchReport:
    """(1)-(7) for ``setup`` and each scope, with the device and settings they were taken on
    (the shape of ``presnet bench --json``; the GPU suite stores one per image size)."""
    plain, plain_step = bench_plain(setup)
    pipeline = bench_pipeline(setup)
    per_scope = [bench_scope(setup, s, plain, plain_step) for s in scopes]
    progress = as_record(ProgressBench, bench_progress(setup.batch / plain["images_per_s"]))
    device, prec, spec = setup.device, setup.prec, setup.spec
    return {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "amp": str(prec.amp_dtype) if prec.amp_dtype else "off",
        "channels_last": prec.channels_last,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "settings": {
            "width": spec.width_mult,
            "depths": list(spec.depths),
            "stem": spec.stem,
            "candidates": "joint" if setup.joint else "factorized",
            "batch_size": setup.batch,
            "image_size": setup.size,
            "repeats": setup.repeats,
            "warmup": setup.warmup,
        },
        "plain": plain,
        "pipeline": {**pipeline, "ratio_to_model": pipeline["images_per_s"] / plain["images_per_s"]},
        "scopes": per_scope,
        "progress": progress,
    }
