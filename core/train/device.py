"""Where and how tensors run: device choice, mixed precision, memory format."""

from __future__ import annotations

import contextlib
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import torch

from core.config import RunConfig
from core.errors import PresnetError


def resolve_device(name: str) -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; an unavailable explicit choice is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise PresnetError("CUDA is not available on this machine", where="run.device", hint="use --device cpu or auto")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise PresnetError(f"no GPU {dev.index} (this machine has {torch.cuda.device_count()})", where="run.device")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise PresnetError("MPS is not available on this machine", where="run.device", hint="use --device cpu or auto")
    return dev


@dataclass(frozen=True)
class Precision:
    device: torch.device
    amp_dtype: torch.dtype | None
    channels_last: bool

    def autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    @property
    def needs_scaler(self) -> bool:
        return self.amp_dtype == torch.float16


def precision_for(run: RunConfig, device: torch.device) -> Precision:
    """The precision before anything is measured: ``auto`` starts with AMP and channels_last on for CUDA
    only. The loops and ``presnet bench`` then time ``auto``'s options on their own network and keep the
    faster (:mod:`core.train.autotune`; on the CPU channels_last measured 1.2-1.6x faster).

    An explicit ``bf16``/``fp16``/``on`` is honoured on any device, which also lets the GPU's
    precision paths be exercised on a CPU-only machine.
    """
    amp: torch.dtype | None = None
    if run.amp in ("bf16", "fp16"):
        amp = torch.bfloat16 if run.amp == "bf16" else torch.float16
    elif run.amp == "auto" and device.type == "cuda":
        amp = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    channels_last = run.channels_last == "on" or (run.channels_last == "auto" and device.type == "cuda")
    return Precision(device, amp, channels_last)


def configure_torch(run: RunConfig, device: torch.device) -> Precision:
    """Apply the run's process-wide torch settings (cuDNN autotuning, CPU threads) and return its precision.

    Kept apart from :func:`precision_for`, a pure query, because these settings are global state.
    """
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = run.cudnn_benchmark
    if run.threads:
        torch.set_num_threads(run.threads)
    return precision_for(run, device)


def device_name(device: torch.device) -> str:
    """The hardware a timing belongs to: the GPU's name, or the CPU's model and core count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device.index or 0)
    return f"{_cpu_model() or platform.processor() or platform.machine()} x{os.cpu_count()}"


def _cpu_model() -> str | None:
    """The CPU's model name from Linux's /proc/cpuinfo (None elsewhere: platform's answer stands)."""
    info = Path("/proc/cpuinfo")
    lines = info.read_text().splitlines() if info.exists() else []
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), None)
