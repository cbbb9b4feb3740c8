"""Distribution as a strategy: what the loops and the job ask of the other ranks.

The loops call a :class:`Collectives` unconditionally.  With one process
(:class:`SingleProcess`) every call is a no-op or an identity, so the single-process
path does exactly what it did before distribution existed; under torchrun
(:class:`TorchCollectives`) the same calls become the all-reduces, broadcasts and
agreement checks of :mod:`core.train.dist_ops`.  :func:`collectives` picks one from
the process group this process joined; the rank comes from :func:`dist_ops.current`,
which reads the environment in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, Protocol, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from core.run.control import Control, ControlState
from core.train import dist_ops
from core.train.dist_ops import SyncedControl
from core.train.ranks import SINGLE, RankInfo

T = TypeVar("T")
Hook = Callable[[], None]
ReduceOp = Literal["sum", "max", "mean"]


class Metered(Protocol):
    """What :meth:`Collectives.fold` sums over ranks (a :class:`core.train.loop.Meter`)."""

    loss: torch.Tensor
    correct: torch.Tensor
    n: int


class LoopControl(Protocol):
    """The control as the loops see it: a run's own :class:`Control` or the ranks' agreed one."""

    def poll(self) -> ControlState: ...

    def wait_while_paused(
        self, on_pause: Callable[[bool], None] | None = None, interval: float = 0.2
    ) -> ControlState: ...


class Collectives(Protocol):
    """The ranks of one job, as the loops and the job need them."""

    info: RankInfo

    @property
    def rank(self) -> int: ...
    @property
    def world_size(self) -> int: ...
    @property
    def is_main(self) -> bool: ...

    def all_reduce(self, t: torch.Tensor, op: ReduceOp = "sum") -> None:
        """In place over ranks."""

    def broadcast(self, module: nn.Module) -> None:
        """Rank 0's buffers (BatchNorm statistics) on every rank."""

    def barrier(self) -> None: ...

    def gather(self, obj: T) -> list[T]:
        """Every rank's ``obj`` in rank order."""
        ...

    def on_main(self, fn: Callable[[], T]) -> T:
        """``fn`` run on rank 0 alone, its result (or its PresnetError) on every rank."""
        ...

    def agree(self, tensors: Sequence[torch.Tensor], what: str, where: str) -> None:
        """Raise :class:`dist_ops.RankDrift` when the ranks' tensors differ."""

    def fold(self, meter: Metered) -> None:
        """An epoch's meter summed over ranks into rank 0."""

    def digests(self, module: nn.Module, tag: str) -> list[str]:
        """Every rank's final state digest (rank 0's buffers first); none to compare with one rank."""
        ...

    def gradient_hook(self, params: Sequence[torch.Tensor]) -> Hook | None: ...
    def gate_hook(self) -> Callable[[Sequence[torch.Tensor]], None] | None: ...
    def loss_reducer(self) -> Callable[[torch.Tensor], torch.Tensor] | None: ...
    def place(self, model: nn.Module, device: torch.device, sync_bn: bool) -> nn.Module: ...
    def control(self, control: Control, device: torch.device) -> LoopControl: ...


class SingleProcess:
    """One process: nothing to agree with."""

    info = SINGLE
    rank = 0
    world_size = 1
    is_main = True

    def all_reduce(self, t: torch.Tensor, op: ReduceOp = "sum") -> None:
        return None

    def broadcast(self, module: nn.Module) -> None:
        return None

    def barrier(self) -> None:
        return None

    def gather(self, obj: T) -> list[T]:
        return [obj]

    def on_main(self, fn: Callable[[], T]) -> T:
        return fn()

    def agree(self, tensors: Sequence[torch.Tensor], what: str, where: str) -> None:
        return None

    def fold(self, meter: Metered) -> None:
        return None

    def digests(self, module: nn.Module, tag: str) -> list[str]:
        return []  # one rank: nothing to compare (and no SHA-256 of the network to pay for)

    def gradient_hook(self, params: Sequence[torch.Tensor]) -> Hook | None:
        return None

    def gate_hook(self) -> Callable[[Sequence[torch.Tensor]], None] | None:
        return None

    def loss_reducer(self) -> Callable[[torch.Tensor], torch.Tensor] | None:
        return None

    def place(self, model: nn.Module, device: torch.device, sync_bn: bool) -> nn.Module:
        return model

    def control(self, control: Control, device: torch.device) -> LoopControl:
        return control


class TorchCollectives:
    """Ranks of a ``torch.distributed`` process group (torchrun): gloo on the CPU, NCCL on GPUs."""

    def __init__(self, info: RankInfo) -> None:
        self.info = info

    @property
    def rank(self) -> int:
        return self.info.rank

    @property
    def world_size(self) -> int:
        return self.info.world_size

    @property
    def is_main(self) -> bool:
        return self.info.is_main

    def all_reduce(self, t: torch.Tensor, op: ReduceOp = "sum") -> None:
        if op == "max":
            dist_ops.max_(t)
        elif op == "mean":
            dist_ops.average_([t])
        else:
            dist.all_reduce(t)

    def broadcast(self, module: nn.Module) -> None:
        dist_ops.broadcast_buffers(module)

    def barrier(self) -> None:
        dist.barrier()

    def gather(self, obj: T) -> list[T]:
        return dist_ops.gather_objects(obj)

    def on_main(self, fn: Callable[[], T]) -> T:
        return dist_ops.on_main(fn)

    def agree(self, tensors: Sequence[torch.Tensor], what: str, where: str) -> None:
        dist_ops.check_agreement(tensors, what, where)

    def fold(self, meter: Metered) -> None:
        dist_ops.fold_meter(meter)

    def digests(self, module: nn.Module, tag: str) -> list[str]:
        self.broadcast(module)  # every rank's final state, bit for bit (summary.json records them)
        return dist_ops.gather_digests(dist_ops.state_digest(module, tag))

    def gradient_hook(self, params: Sequence[torch.Tensor]) -> Hook | None:
        return dist_ops.gradient_hook(params)

    def gate_hook(self) -> Callable[[Sequence[torch.Tensor]], None] | None:
        return dist_ops.average_gate_gradients

    def loss_reducer(self) -> Callable[[torch.Tensor], torch.Tensor] | None:
        return dist_ops.mean_over_ranks

    def place(self, model: nn.Module, device: torch.device, sync_bn: bool) -> nn.Module:
        return dist_ops.sync_batchnorm(model, self.info, device) if sync_bn else model

    def control(self, control: Control, device: torch.device) -> LoopControl:
        return SyncedControl(control, self.info, device, dist_ops.control_every(self.info))


def collectives() -> Collectives:
    """The strategy for this process: torch's once :func:`dist_ops.init` joined a group of more
    than one rank, the no-op one otherwise."""
    info = dist_ops.current()
    return TorchCollectives(info) if info.distributed else SingleProcess()
