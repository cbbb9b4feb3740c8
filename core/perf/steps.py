"""The steps ``presnet bench`` and ``presnet plan`` time, and the memory a step takes: a plain or
search training step, an architecture step, one search iteration, and the bytes autograd saves
for backward (CPU) or the peak allocated during the step (CUDA)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from core.perf.timing import Setup, batch, sync
from core.space import BASE_ACTIVATION, BASE_KERNEL, JOINT_DECISION, SearchSpace
from core.space.network import SearchNet
from core.space.proxyless import Mode, PathSampler
from core.train import step as steps


def to_device(setup: Setup, model: nn.Module) -> nn.Module:
    model = model.to(setup.device)
    return model.to(memory_format=torch.channels_last) if setup.prec.channels_last else model


def _backward(loss: torch.Tensor, inputs: list[torch.Tensor] | None = None) -> None:
    """A step's backward, for :func:`step_memory` (to the gates alone for an architecture step)."""
    loss.backward(inputs=inputs)  # type: ignore[no-untyped-call, unused-ignore]


def sgd(params: list[nn.Parameter]) -> torch.optim.SGD:
    return torch.optim.SGD(params, lr=1e-3, momentum=0.9, nesterov=True, weight_decay=4e-5)


def train_step(setup: Setup, model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    """The engine's training step (a weight step on whatever paths the ops are set to)."""
    steps.train_step(model, opt, setup.scaler, setup.prec, x, y)


def arch_step(
    setup: Setup,
    net: SearchNet,
    sampler: PathSampler,
    opt: torch.optim.Optimizer,
    mode: Mode,
    x: torch.Tensor,
    y: torch.Tensor,
) -> None:
    """The engine's architecture step (gates -> alpha grads -> Adam -> rescale)."""
    steps.arch_step(net, sampler, mode, opt, setup.arch_scaler, setup.prec, x, y)


def search_iteration(
    setup: Setup, net: SearchNet, w_opt: torch.optim.Optimizer, a_opt: torch.optim.Optimizer
) -> Callable[[], None]:
    """One search iteration as a search epoch runs it: a weight step on sampled paths, then a two-path
    architecture step (on one fixed batch: the data pipeline is (7)'s)."""
    sampler = PathSampler(7)
    x, y = batch(setup, seed=99)

    def iteration() -> None:
        net.sample_weight_paths(sampler)
        train_step(setup, net, w_opt, x, y)
        arch_step(setup, net, sampler, a_opt, Mode.TWO_PATH, x, y)

    return iteration


def base_indices(space: SearchSpace) -> dict[str, list[int]]:
    """Pin every decision to 3x3 / ReLU (or the first candidate when those are not offered)."""
    k = space.kernels.index(BASE_KERNEL) if BASE_KERNEL in space.kernels else 0
    a = space.activations.index(BASE_ACTIVATION) if BASE_ACTIVATION in space.activations else 0
    n = len(space.block_ids)
    if space.joint:
        return {JOINT_DECISION: [k * len(space.activations) + a] * n}
    return {"kernel": [k] * n, "activation": [a] * n}


# -- memory ------------------------------------------------------------------------------------
def saved_tensor_bytes(fn: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Run a forward; return its output and the bytes of distinct storages autograd saved for backward."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if not isinstance(t, nn.Parameter):  # weights are counted as parameters, not activations
            storage = t.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, sum(seen.values())


def step_memory(setup: Setup, forward: Callable[[], torch.Tensor], backward: Callable[[torch.Tensor], None]) -> int:
    """Memory of one step beyond what existed before it (see the module doc for the method per device)."""
    if setup.device.type == "cuda":
        sync(setup.device)
        torch.cuda.reset_peak_memory_stats(setup.device)
        before = torch.cuda.memory_allocated(setup.device)
        backward(forward())
        sync(setup.device)
        return torch.cuda.max_memory_allocated(setup.device) - before
    out, saved = saved_tensor_bytes(forward)
    backward(out)
    return saved


def tensor_bytes(tensors: Any) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def loss_of(setup: Setup, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return steps.forward_loss(model, x, y, setup.prec)[0]


# -- the measurements ------------------------------------------------------------------------------
