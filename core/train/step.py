"""One optimisation step of each kind: weights (plain or sampled path) and architecture.

The search, the retrain and the benchmark all call these, so that the benchmark
times exactly the steps a run performs.  Mixed precision is handled here once:
autocast for the forward, and, with fp16, a :class:`torch.amp.GradScaler` that
skips a step whose gradients overflowed.  The architecture step needs that as much
as the weight step -- one overflowed gate gradient would otherwise turn the alphas
into inf/NaN and end the search as "diverged" -- so it gets its own scaler: the
architecture loss is a different loss, on other data, with its own safe scale.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from core.space.cost import CostTerm
from core.space.network import SearchNet
from core.space.proxyless import Mode, PathSampler
from core.train.device import Precision


def grad_scaler(prec: Precision) -> torch.amp.GradScaler:
    """A loss scaler, active only for fp16 (bf16 and fp32 have fp32's range)."""
    return torch.amp.GradScaler(prec.device.type, enabled=prec.needs_scaler)


def forward_loss(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, prec: Precision
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy under autocast, computed in fp32; returns (loss, logits)."""
    with prec.autocast():
        logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
    return loss, logits


def train_step(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    prec: Precision,
    x: torch.Tensor,
    y: torch.Tensor,
    after_backward: Callable[[], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A training step; on a search network it updates the one path each op was set to.

    ``after_backward``: a distributed run averages the gradients across ranks there.
    """
    loss, logits = forward_loss(model, x, y, prec)
    opt.zero_grad(set_to_none=True)
    torch.autograd.backward(scaler.scale(loss))
    if after_backward is not None:
        after_backward()
    scaler.step(opt)
    scaler.update()
    return loss, logits


def arch_step(  # noqa: PLR0913 -- the step's recipe, shared verbatim by the loops and the benchmark
    net: SearchNet,
    sampler: PathSampler,
    mode: Mode,
    opt: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    prec: Precision,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    cost: CostTerm | None = None,
    reduce_gates: Callable[[Sequence[torch.Tensor]], None] | None = None,
    reduce_loss: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gates -> alpha gradients (+ the cost term's, when searching under a budget) -> optimizer -> rescale.

    The backward reaches only the gates (``inputs=``): no weight gradient is computed.
    The alpha gradient is linear in the gate gradients, so the scaler can unscale it
    after the conversion and skip the update when it is not finite.
    ``reduce_gates``: a distributed run averages the gate gradients across ranks there;
    ``reduce_loss``: and the loss the cost term multiplies (``mul_log``), so every rank adds the same
    cost gradient and the alphas stay identical.
    """
    step = net.begin_arch_step(sampler, mode)
    loss, logits = forward_loss(net, x, y, prec)
    torch.autograd.backward(scaler.scale(loss), inputs=list(step.gates.values()))
    if reduce_gates is not None:
        reduce_gates(list(step.gates.values()))
    net.finish_arch_backward(step)
    if cost is not None:
        ce = loss if reduce_loss is None else reduce_loss(loss)
        cost.apply(net.alphas(), ce, scaler.get_scale() if scaler.is_enabled() else 1.0)
    scaler.step(opt)
    scaler.update()
    opt.zero_grad(set_to_none=True)
    net.after_arch_update(step, mode)
    return loss, logits
