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
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn


class Mode(str, enum.Enum):
    """How paths are drawn for a step."""

    WEIGHT = "weight"  #: one sampled path, plain autograd (weight step)
    TWO_PATH = "two_path"  #: gates over two sampled paths (ProxylessNAS's two-path estimator, the paper's)
    #: gates over every path, one of them active: ProxylessNAS's "full" binary-gate estimator (NNI's)
    ALL_PATHS = "all_paths"


ARCH_MODES = (Mode.TWO_PATH, Mode.ALL_PATHS)


class _BinaryGate(torch.autograd.Function):
    """y = o_active(x); d y / d gate_k = o_k(x) for the paths in ``op.paths``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, gate: torch.Tensor, op: MixedOp) -> torch.Tensor:
        detached = x.detach().requires_grad_(x.requires_grad)
        with torch.enable_grad():
            out = op.candidates[op.route.active](detached)
        ctx.op = op
        ctx.active = op.route.active
        ctx.paths = op.route.paths
        ctx.autocast = _autocast_state(x)
        ctx.save_for_backward(detached, out)
        result: torch.Tensor = out.detach()
        return result

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
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


def _autocast_state(x: torch.Tensor) -> dict[str, object]:
    """The autocast context of the forward, so candidates rerun alike in backward."""
    device_type = x.device.type if x.device.type in ("cuda", "cpu", "mps") else "cpu"
    if device_type == "mps":
        return {"device_type": "cpu", "enabled": False}
    return {
        "device_type": device_type,
        "enabled": torch.is_autocast_enabled(device_type),
        "dtype": torch.get_autocast_dtype(device_type),
    }


@dataclass(slots=True)
class Route:
    """What a :class:`MixedOp` runs in the current step.

    A plain object, not module attributes: every op's route is set before every step,
    and ``nn.Module.__setattr__`` (which checks each value for parameters, buffers and
    modules) made that most of the sampling time.
    """

    active: int = 0  #: the path whose output is used
    paths: tuple[int, ...] = (0,)  #: the paths an architecture step weighs
    gate: torch.Tensor | None = None  #: binary gates (architecture step)
    weights: torch.Tensor | None = None  #: softmax weights (DARTS-style benchmark)


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
        self.route = Route()

    def set_route(
        self,
        active: int,
        paths: tuple[int, ...] | None = None,
        gate: torch.Tensor | None = None,
        weights: torch.Tensor | None = None,
    ) -> None:
        r = self.route
        r.active, r.paths, r.gate, r.weights = active, paths or (active,), gate, weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.route
        if r.gate is not None:
            gated: torch.Tensor = _BinaryGate.apply(x, r.gate, self)
            return gated
        if r.weights is not None:
            mixed: torch.Tensor = sum(w * cand(x) for w, cand in zip(r.weights.unbind(0), self.candidates))
            return mixed
        one: torch.Tensor = self.candidates[r.active](x)
        return one


@dataclass
class Draw:
    """The paths drawn for one decision kind over all its rows (CPU tensors)."""

    active: list[int]
    paths: list[tuple[int, ...]]


class NonFiniteAlphas(ValueError):
    """The architecture parameters hold inf/NaN: the search diverged."""


def host_logits(alphas: Sequence[torch.Tensor]) -> list[np.ndarray]:
    """The alphas of every decision kind as float64 host arrays, in ONE device-to-host copy."""
    flat = torch.cat([a.detach().reshape(-1) for a in alphas]).double().cpu().numpy()
    out, start = [], 0
    for a in alphas:
        out.append(flat[start : start + a.numel()].reshape(a.shape))
        start += a.numel()
    if not np.isfinite(flat).all():
        raise NonFiniteAlphas("architecture parameters are not finite")
    return out


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs: np.ndarray = z / z.sum(axis=1, keepdims=True)
    return probs


class PathSampler:
    """Draws the paths of every mixed op, deterministically from its own generator.

    Sampling runs on the host in NumPy from a copy of the alphas (a few dozen numbers):
    results do not depend on the device, and a step costs one small transfer and a few
    microseconds instead of a dozen tiny torch ops.  Two paths without replacement are
    drawn with the Gumbel-top-2 trick, which is exactly sampling proportional to softmax(alpha).
    """

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def draw(self, logits: np.ndarray, mode: Mode, uniform: bool = False) -> Draw:
        rows, n = logits.shape
        if n == 1:
            return Draw([0] * rows, [(0,)] * rows)
        if uniform:  # uniform over the paths that take part (a pruned path's logit is -inf)
            logits = np.where(np.isneginf(logits), -np.inf, 0.0)
        if mode in (Mode.WEIGHT, Mode.ALL_PATHS):
            active = self._categorical(_softmax(logits))
            paths: list[tuple[int, ...]] = [(a,) for a in active] if mode == Mode.WEIGHT else [tuple(range(n))] * rows
            return Draw(active, paths)
        if mode == Mode.TWO_PATH:
            keys = logits + self.rng.gumbel(size=logits.shape)
            pair = np.argsort(-keys, axis=1, kind="stable")[:, :2]
            q = _softmax(np.take_along_axis(logits, pair, axis=1))
            pick = self._categorical(q)
            active = [int(pair[r, pick[r]]) for r in range(rows)]
            return Draw(active, [(int(i), int(j)) for i, j in pair])
        raise ValueError(f"cannot draw paths in mode {mode}")

    def _categorical(self, probs: np.ndarray) -> list[int]:
        u = self.rng.random((probs.shape[0], 1))
        idx = (np.cumsum(probs, axis=1) < u).sum(axis=1)
        picks: list[int] = np.minimum(idx, probs.shape[1] - 1).tolist()
        return picks

    def state(self) -> str:
        return json.dumps(self.rng.bit_generator.state)

    def load_state(self, state: str) -> None:
        self.rng.bit_generator.state = json.loads(state)


def path_mask(paths: Sequence[tuple[int, ...]], n: int, device: torch.device) -> torch.Tensor:
    """Boolean (rows, n) mask of the paths that took part in an architecture step."""
    rows = np.repeat(np.arange(len(paths)), [len(p) for p in paths])
    mask = np.zeros((len(paths), n), dtype=bool)
    mask[rows, np.concatenate(paths)] = True
    return torch.from_numpy(mask).to(device, non_blocking=True)


def alpha_grad_from_gates(alpha: torch.Tensor, gate_grad: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """dL/dalpha_i = sum_j dL/dg_j * q_j * (delta_ij - q_i), q = softmax over the masked paths.

    With the mask covering every path this is ProxylessNAS's "full" binary-gate estimator (NNI's
    all-paths); with two paths it is ProxylessNAS's renormalised two-path estimator.  Vectorised
    over rows: it equals ``q_i * (g_i - <g, q>)``.

    What it is not: an exact gradient of the expected loss.  ``dL/dg_j`` is taken in the network
    whose *sampled active* path ran (``<dL/dy, o_j(x)>``), so for one batch the estimate changes with
    the active path drawn; averaged over that draw it is close to the gradient of DARTS's softmax
    mixture (the continuous relaxation), not of ``E_path[L]``.  Two paths add the pair's sampling on top.
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
