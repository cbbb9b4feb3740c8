"""The torch.distributed primitives beneath the loops: the rank, the process group, gradient
averaging, agreement checks, the synced control.

Every rank holds the whole search network and draws the same paths (same sampler seed,
identical alphas); each reads a disjoint slice of every global batch.  After each backward
the gradients of the sampled path -- the only parameters with a ``.grad`` -- are averaged
with one bucketed all-reduce, and before each alpha update the gate gradients likewise.
DDP's reducer is not used: it expects every parameter to take part in each step (here one
path per op does) and clashes with the ``torch.autograd.grad`` inside the binary gates'
backward.  Rank 0 alone writes the run directory and reads the control file; its requests
reach the other ranks by an all-reduce, so every rank stops, pauses or leaves at the same step.

The loops never call these directly: they go through :mod:`core.train.collectives`, whose
single-process strategy makes every call a no-op.  The launcher (torchrun) is in
:mod:`core.scale.distributed`.  The environment (RANK / WORLD_SIZE / LOCAL_RANK) is read in
:func:`env_rank` alone.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, cast

import torch
import torch.distributed as dist
from torch import nn

from core.errors import PresnetError
from core.run.control import Control, ControlState, wait_while_paused
from core.train.ranks import SINGLE, RankInfo, env_rank

#: Bytes per all-reduce bucket (DDP's default bucket size).
BUCKET_BYTES = 25 << 20

T = TypeVar("T")


def current() -> RankInfo:
    """This process's rank once :func:`init` ran; a single process otherwise."""
    if not (dist.is_available() and dist.is_initialized()):
        return SINGLE
    return RankInfo(dist.get_rank(), dist.get_world_size(), env_rank().local_rank, dist.get_backend())


def init(device: str = "auto") -> RankInfo:
    """Join the process group torchrun set up: NCCL when the run uses CUDA, gloo otherwise.

    Each CUDA rank takes the GPU of its local rank.  A watchdog ends this process when its
    launcher dies (``kill -9`` of torchrun), so that no orphan keeps writing the run directory.
    """
    info = env_rank()
    if not info.distributed or dist.is_initialized():
        return current()
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        if not torch.cuda.is_available():
            raise PresnetError("CUDA is not available on this machine", where="run.device", hint="use --device cpu")
        if info.local_rank >= torch.cuda.device_count():
            raise PresnetError(
                f"local rank {info.local_rank} has no GPU (this node has {torch.cuda.device_count()})",
                where="--nproc",
                hint="start at most one process per GPU",
            )
        torch.cuda.set_device(info.local_rank)
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    _watch_parent()
    return current()


def teardown() -> None:
    """Leave the process group (a no-op in a single process)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _watch_parent(interval: float = 1.0) -> None:
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(137)  # the launcher is gone: stop at once, the last checkpoint stays resumable

    threading.Thread(target=watch, name="presnet-parent-watch", daemon=True).start()


# -- broadcasts ---------------------------------------------------------------------------------
def broadcast_object(obj: Any, src: int = 0) -> Any:
    """``obj`` of rank ``src`` on every rank."""
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def on_main(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 alone and hand its result -- or its :class:`PresnetError` -- to every rank."""
    info = current()
    if not info.distributed:
        return fn()
    outcome: tuple[str, Any] = ("ok", None)
    if info.is_main:
        try:
            outcome = ("ok", fn())
        except PresnetError as err:
            outcome = ("error", err)
    kind, value = broadcast_object(outcome)
    if kind == "error":
        raise value
    return cast(T, value)


def broadcast_buffers(module: nn.Module) -> None:
    """Rank 0's BatchNorm running statistics on every rank (what DDP does before each forward;
    here once per checkpoint and before evaluation: the training forward uses batch statistics)."""
    for b in module.buffers():
        dist.broadcast(b, src=0)


# -- gradients ------------------------------------------------------------------------------------
def average_(tensors: Sequence[torch.Tensor], bucket_bytes: int = BUCKET_BYTES) -> None:
    """In-place mean over ranks of same-shaped tensor lists, one all-reduce per bucket."""
    world = dist.get_world_size()
    bucket: list[torch.Tensor] = []
    size = 0
    for t in tensors:
        bucket.append(t)
        size += t.numel() * t.element_size()
        if size >= bucket_bytes:
            _reduce_bucket(bucket, world)
            bucket, size = [], 0
    if bucket:
        _reduce_bucket(bucket, world)


def _reduce_bucket(bucket: list[torch.Tensor], world: int) -> None:
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for t in bucket:
        by_dtype.setdefault(t.dtype, []).append(t)
    for group in by_dtype.values():
        flat = torch.cat([t.reshape(-1) for t in group])
        dist.all_reduce(flat)
        flat.div_(world)
        start = 0
        for t in group:
            t.copy_(flat[start : start + t.numel()].view_as(t))
            start += t.numel()


def average_gradients(params: Iterable[torch.Tensor]) -> None:
    """Average the gradients of the parameters that have one (the sampled path and the shared layers).

    Every rank ran the same paths, so every rank has gradients on the same parameters, in the
    same order: the buckets match.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if grads:
        average_(grads)


def gradient_hook(params: Sequence[torch.Tensor]) -> Callable[[], None]:
    """The ``after_backward`` hook of :func:`core.train.step.train_step` for these parameters."""
    return lambda: average_gradients(params)


def average_gate_gradients(gates: Sequence[torch.Tensor]) -> None:
    """Gate gradients of an architecture step, averaged before they become alpha gradients."""
    average_gradients(gates)


def mean_over_ranks(t: torch.Tensor) -> torch.Tensor:
    """A detached copy of ``t`` averaged over the ranks (a loss that must be the global batch's)."""
    out = t.detach().clone()
    average_([out])
    return out


def max_(t: torch.Tensor) -> None:
    """In place: the maximum over ranks."""
    dist.all_reduce(t, op=dist.ReduceOp.MAX)


# -- meters, control ------------------------------------------------------------------------------
def gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order (a checkpoint keeps each rank's epoch sums)."""
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def fold_meter(meter: Any) -> None:
    """Sum a :class:`core.train.loop.Meter` over ranks into rank 0 (the others restart from zero),
    at the end of an epoch, before it is reported."""
    stats = torch.stack([meter.loss.double(), meter.correct.double(), meter.loss.new_tensor(meter.n).double()])
    dist.all_reduce(stats)
    if current().is_main:
        meter.loss.fill_(stats[0].item())
        meter.correct.fill_(int(stats[1].item()))
        meter.n = int(stats[2].item())
    else:
        meter.loss.zero_()
        meter.correct.zero_()
        meter.n = 0


class SyncedControl:
    """The engine's view of stop / stop-at-epoch / pause / interrupt, the same on every rank.

    Rank 0 reads the run's control file (through its :class:`Control`); the flags of every rank
    are combined by one small all-reduce (MAX): rank 0's stop, stop-at-epoch and pause, anyone's
    interrupt (Ctrl+C reaches every worker).  ``every`` > 1 makes the per-step check collective
    only every ``every`` calls (NCCL: each collective read back is a host sync); the others return
    the last agreed state, so all ranks still act at the same step.
    """

    def __init__(self, control: Control, info: RankInfo, device: torch.device, every: int = 1) -> None:
        self.control = control
        self.info = info
        self.device = device
        self.every = max(1, every)
        self.calls = 0
        self.last = ControlState()

    def __getattr__(self, name: str) -> Any:  # attach, clear_stop, request_stop...: the local Control
        return getattr(self.control, name)

    def _agree(self, state: ControlState) -> ControlState:
        main = self.info.is_main
        flags = torch.tensor(
            [
                float(state.stop and main),
                float(state.stop_at_epoch or 0) if main else 0.0,
                float(state.paused and main),
                float(state.interrupt),
            ],
            dtype=torch.float64,
            device=self.device,
        )
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        stop, at, paused, interrupt = flags.tolist()
        self.last = ControlState(bool(stop), int(at) or None, bool(paused), bool(interrupt))
        return self.last

    def poll(self) -> ControlState:
        """Collective: every rank must call it at the same point."""
        return self._agree(self.control.poll())

    def wait_while_paused(self, on_pause: Callable[[bool], None] | None = None, interval: float = 0.2) -> ControlState:
        self.calls += 1
        if (self.calls - 1) % self.every:
            return self.last
        return wait_while_paused(self.poll, on_pause, interval)


def control_every(info: RankInfo) -> int:
    """How often the per-step control check is collective: each step on gloo, every 16 on NCCL."""
    return 16 if info.backend == "nccl" else 1


# -- agreement checks -----------------------------------------------------------------------------
class RankDrift(PresnetError):
    """The ranks' alphas (or weights) differ: the search would silently split."""


def _gather_floats(values: list[float], device: torch.device) -> list[list[float]]:
    t = torch.tensor(values, dtype=torch.float64, device=device)
    out = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(out, t)
    return [o.tolist() for o in out]


def checksum(tensors: Sequence[torch.Tensor]) -> list[float]:
    """Two cheap float64 sums (plain and position-weighted) that any drift changes."""
    plain = torch.zeros((), dtype=torch.float64, device=tensors[0].device)
    weighted = torch.zeros_like(plain)
    for i, t in enumerate(tensors):  # one tensor at a time: no copy of the whole network
        f = t.detach().reshape(-1).double()
        plain += f.sum()
        weighted += (i + 1) * (f * torch.linspace(0.5, 1.5, f.numel(), dtype=f.dtype, device=f.device)).sum()
    return torch.stack([plain, weighted]).tolist()


def check_agreement(tensors: Sequence[torch.Tensor], what: str, where: str) -> None:
    """Raise :class:`RankDrift` (an ``error`` event) when the ranks' ``tensors`` differ at all."""
    sums = _gather_floats(checksum(tensors), tensors[0].device)
    if any(s != sums[0] for s in sums[1:]):
        bad = next(r for r, s in enumerate(sums) if s != sums[0])
        raise RankDrift(
            f"the {what} of rank {bad} differ from rank 0's ({sums[bad]} vs {sums[0]})",
            where=where,
            hint="a bug or a non-deterministic kernel; resume from the last checkpoint",
        )


def state_digest(module: nn.Module, tag: str = "") -> str:
    """SHA-256 of a module's parameters and buffers, and of ``tag`` (where the rank stopped):
    bit-exact, the ranks must agree to the bit."""
    h = hashlib.sha256(tag.encode())
    for t in module.state_dict().values():
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def gather_digests(digest: str) -> list[str]:
    """Every rank's digest, in rank order."""
    return [str(d) for d in gather_objects(digest)]


# -- SyncBatchNorm --------------------------------------------------------------------------------
def sync_batchnorm(module: nn.Module, info: RankInfo, device: torch.device) -> nn.Module:
    """``network.sync_bn``: BatchNorm statistics over the global batch (torch's SyncBatchNorm).

    torch runs SyncBatchNorm on GPUs only, so a distributed CPU run refuses it here, before
    the first step.  With one process there is nothing to synchronise: the module is returned as is.
    """
    if not info.distributed:
        return module
    check_sync_bn(info, device)
    convert: Callable[[nn.Module], nn.Module] = nn.SyncBatchNorm.convert_sync_batchnorm  # torch leaves it untyped
    return convert(module)


def check_sync_bn(info: RankInfo, device: torch.device) -> None:
    """Refuse ``network.sync_bn`` where torch cannot run it (a distributed run off CUDA)."""
    if info.distributed and device.type != "cuda":
        raise PresnetError(
            "network.sync_bn needs CUDA (torch's SyncBatchNorm runs on GPUs only)",
            where="network.sync_bn",
            hint="set network.sync_bn: false on the CPU (per-rank BatchNorm statistics)",
        )
