"""What the benchmarks time with: the setup (device, precision, network, batch), a synchronised median
timer and random batches (:mod:`core.perf.bench`, :mod:`core.perf.probe_cost`, :mod:`core.perf.plan`)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from core.space.network import NetSpec
from core.train import step as steps
from core.train.device import Precision


@dataclass
class Setup:
    device: torch.device
    prec: Precision
    spec: NetSpec
    batch: int
    size: int
    repeats: int
    warmup: int
    epoch_images: int
    joint: bool = False  #: joint candidates: one decision over (kernel, activation) pairs
    scaler: torch.amp.GradScaler = field(init=False)
    arch_scaler: torch.amp.GradScaler = field(init=False)

    def __post_init__(self) -> None:
        self.scaler = steps.grad_scaler(self.prec)
        self.arch_scaler = steps.grad_scaler(self.prec)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(setup: Setup, step: Callable[[], None], n: int | None = None) -> float:
    """Median seconds of ``step`` after warm-up (synchronised around each call on CUDA)."""
    for _ in range(setup.warmup):
        step()
    times = []
    for _ in range(n or setup.repeats):
        sync(setup.device)
        t = time.perf_counter()
        step()
        sync(setup.device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def batch(setup: Setup, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(setup.batch, 3, setup.size, setup.size, generator=g)
    y = torch.randint(0, setup.spec.num_classes, (setup.batch,), generator=g)
    x = x.to(setup.device)
    if setup.prec.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y.to(setup.device)
