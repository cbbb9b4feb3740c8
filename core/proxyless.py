"""ProxylessNAS mixed operations with binary gates (Cai et al., ICLR 2019).

A :class:`MixedOp` holds the candidates of one decision.  It never samples by
itself: :class:`PathSampler` draws the paths of *every* decision of the network
at once (one host transfer per step instead of one per op), then each op runs
the path it was handed.  The architecture gradient goes through explicit binary
gates ``g`` (a leaf tensor of zeros, one row per search block): the output is
``y = o_active(x)`` while ``dL/dg_k = <dL/dy, o_k(x)>`` is computed for the other
paths in backward, without storing their activations.  :func:`alpha_grad_from_gates`
and :func:`rescale_pair` turn gate gradients into the alpha update of the paper.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn


class Mode(str, enum.Enum):
    """How every mixed op of a network runs in the current step."""

    WEIGHT = "weight"        #: one sampled path, plain autograd (weight step)
    TWO_PATH = "two_path"    #: gates over two sampled paths (ProxylessNAS)
    ALL_PATHS = "all_paths"  #: gates over every path (NNI's estimator)
    FIXED = "fixed"          #: one given path (argmax for eval/derive, or pinned)
    SOFTMAX = "softmax"      #: DARTS-style weighted sum of all paths (benchmark only)


ARCH_MODES = (Mode.TWO_PATH, Mode.ALL_PATHS)


class _BinaryGate(torch.autograd.Function):
    """y = o_active(x); d y / d gate_k = o_k(x) for the paths in ``op.paths``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, gate: torch.Tensor, op: "MixedOp") -> torch.Tensor:  # type: ignore[override]
        detached = x.detach().requires_grad_(x.requires_grad)
        with torch.enable_grad():
            out = op.candidates[op.active](detached)
        ctx.op = op
        ctx.active = op.active
        ctx.paths = op.paths
        ctx.autocast = _autocast_state(x)
        ctx.save_for_backward(detached, out)
        return out.detach()

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        detached, out = ctx.saved_tensors
        grad_x = None
        if ctx.needs_input_grad[0]:
            (grad_x,) = torch.autograd.grad(out, detached, grad_out)
        grad_gate = None
        if ctx.needs_input_grad[1]:
            op: MixedOp = ctx.op
            zero = grad_out.new_zeros((), dtype=torch.float32)
            dots = []
            with torch.no_grad(), torch.autocast(**ctx.autocast):
                for k in range(len(op.candidates)):
                    if k not in ctx.paths:
                        dots.append(zero)
                        continue
                    o_k = out if k == ctx.active else op.candidates[k](detached)
                    dots.append((o_k * grad_out).sum(dtype=torch.float32))
            grad_gate = torch.stack(dots)
        return grad_x, grad_gate, None


def _autocast_state(x: torch.Tensor) -> dict:
    """The autocast context of the forward, so candidates rerun alike in backward."""
    device_type = x.device.type if x.device.type in ("cuda", "cpu", "mps") else "cpu"
    if device_type == "mps":
        return {"device_type": "cpu", "enabled": False}
    return {"device_type": device_type, "enabled": torch.is_autocast_enabled(device_type),
            "dtype": torch.get_autocast_dtype(device_type)}


class MixedOp(nn.Module):
    """One decision of a search block: candidates, and the path chosen for this step.

    ``row`` is this op's row in the network-wide alpha and gate tensors of its
    decision; it is assigned when the search network is built.
    """

    def __init__(self, candidates: Sequence[nn.Module], decision: str) -> None:
        super().__init__()
        self.candidates = nn.ModuleList(candidates)
        self.decision = decision
        self.row = -1
        self.mode = Mode.FIXED
        self.active = 0
        self.paths: tuple[int, ...] = (0,)
        self.gate: torch.Tensor | None = None
        self.weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gate is not None:
            return _BinaryGate.apply(x, self.gate, self)
        if self.weights is not None:
            return sum(w * cand(x) for w, cand in zip(self.weights.unbind(0), self.candidates))
        return self.candidates[self.active](x)


@dataclass
class Draw:
    """The paths drawn for one decision kind over all its rows (CPU tensors)."""

    active: list[int]
    paths: list[tuple[int, ...]]


class NonFiniteAlphas(ValueError):
    """The architecture parameters hold inf/NaN: the search diverged."""


class PathSampler:
    """Draws the paths of every mixed op, deterministically from its own generator.

    Sampling happens on the CPU from a copy of the alphas (a few dozen numbers), so
    results do not depend on the device and each step costs one small transfer.
    """

    def __init__(self, seed: int) -> None:
        self.generator = torch.Generator().manual_seed(seed)

    def draw(self, alpha: torch.Tensor, mode: Mode, uniform: bool = False) -> Draw:
        logits = alpha.detach().float().cpu()
        if not torch.isfinite(logits).all():
            raise NonFiniteAlphas("architecture parameters are not finite")
        n = logits.shape[1]
        if uniform:
            logits = torch.zeros_like(logits)
        probs = torch.softmax(logits, dim=1)
        if n == 1:
            rows = logits.shape[0]
            return Draw([0] * rows, [(0,)] * rows)
        if mode in (Mode.WEIGHT, Mode.ALL_PATHS):
            active = torch.multinomial(probs, 1, generator=self.generator)[:, 0].tolist()
            paths = [(a,) for a in active] if mode == Mode.WEIGHT else [tuple(range(n))] * len(active)
            return Draw(active, paths)
        if mode == Mode.TWO_PATH:
            pair = torch.multinomial(probs, 2, replacement=False, generator=self.generator)
            q = torch.softmax(logits.gather(1, pair), dim=1)
            pick = torch.multinomial(q, 1, generator=self.generator)
            active = pair.gather(1, pick)[:, 0].tolist()
            return Draw(active, [tuple(p) for p in pair.tolist()])
        raise ValueError(f"cannot draw paths in mode {mode}")

    def state(self) -> torch.Tensor:
        return self.generator.get_state()

    def load_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)


def path_mask(paths: Sequence[tuple[int, ...]], n: int, device: torch.device) -> torch.Tensor:
    """Boolean (rows, n) mask of the paths that took part in an architecture step."""
    mask = torch.zeros(len(paths), n, dtype=torch.bool)
    for row, p in enumerate(paths):
        mask[row, list(p)] = True
    return mask.to(device, non_blocking=True)


def alpha_grad_from_gates(alpha: torch.Tensor, gate_grad: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """dL/dalpha_i = sum_j dL/dg_j * q_j * (delta_ij - q_i), q = softmax over the masked paths.

    With the mask covering every path this is the all-paths (NNI) estimator; with
    two paths it is ProxylessNAS's renormalised two-path estimator.  Vectorised
    over rows: it equals ``q_i * (g_i - <g, q>)``.
    """
    logits = alpha.detach().float().masked_fill(~mask, float("-inf"))
    q = torch.softmax(logits, dim=1)
    g = gate_grad.float() * mask
    return (q * (g - (g * q).sum(dim=1, keepdim=True))).to(alpha.dtype)


@torch.no_grad()
def rescale_pair(alpha: torch.Tensor, old: torch.Tensor, mask: torch.Tensor) -> None:
    """Shift the sampled paths' alphas so that the unsampled paths keep their probability.

    alpha_pair -= log(sum exp(new_pair) / sum exp(old_pair)) keeps sum exp over the
    pair, hence every softmax probability outside the pair, unchanged.
    """
    neg = float("-inf")
    new_lse = torch.logsumexp(alpha.masked_fill(~mask, neg), dim=1, keepdim=True)
    old_lse = torch.logsumexp(old.masked_fill(~mask, neg), dim=1, keepdim=True)
    alpha.sub_((new_lse - old_lse) * mask)
