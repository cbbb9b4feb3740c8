"""ResNet-50 with search blocks inside a scope.

The plain network (:mod:`core.space.resnet`, its names re-exported here) keeps torchvision's
parameter names, so that with no block changed it *is* ``resnet50`` parameter for parameter.
The search network swaps the middle k x k conv + BN + activation of
each in-scope bottleneck for two :class:`~core.space.proxyless.MixedOp` decisions and
owns the architecture parameters of all of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from core.space import (
    JOINT_DECISION,
    SearchSpace,
    block_positions,
    parse_joint,
)
from core.space.activations import create_activation, set_inplace
from core.space.proxyless import (
    ARCH_MODES,
    MixedOp,
    Mode,
    PathSampler,
    alpha_grad_from_gates,
    host_logits,
    path_mask,
    rescale_pair,
)
from core.space.resnet import EXPANSION as EXPANSION
from core.space.resnet import STAGE_WIDTHS as STAGE_WIDTHS
from core.space.resnet import BlockChoice as BlockChoice
from core.space.resnet import BlockFactory as BlockFactory
from core.space.resnet import Bottleneck as Bottleneck
from core.space.resnet import Configured as Configured
from core.space.resnet import NetSpec as NetSpec
from core.space.resnet import NetworkShape as NetworkShape
from core.space.resnet import ResNet as ResNet
from core.space.resnet import _downsample as _downsample
from core.space.resnet import _init_weights as _init_weights
from core.space.resnet import build_plain as build_plain
from core.space.resnet import count_params as count_params
from core.space.resnet import kernel_op as kernel_op
from core.space.resnet import net_spec as net_spec


class SearchBottleneck(nn.Module):
    """A bottleneck whose middle op is a kernel decision followed by an activation decision,
    or (joint mode) one decision over every (kernel, activation) pair."""

    def __init__(
        self,
        in_ch: int,
        width: int,
        stride: int,
        kernels: Sequence[int],
        activations: Sequence[str],
        pairs: Sequence[tuple[int, str]] | None = None,
    ) -> None:
        super().__init__()
        out_ch = width * EXPANSION
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        #: the middle ops in forward order: a MixedOp per open decision, the chosen candidate once frozen
        self.mixed: list[nn.Module] = []
        if pairs is not None:
            # One path = one k x k conv + BN + activation; the activations are not in place (see below).
            self.op = MixedOp(
                [nn.Sequential(*kernel_op(width, width, k, stride), create_activation(a, False)) for k, a in pairs],
                JOINT_DECISION,
            )
            self.mixed = [self.op]
        else:
            self.kernel = MixedOp([kernel_op(width, width, k, stride) for k in kernels], "kernel")
            # Not in place: in an architecture step every candidate reads the same input.
            self.activation = MixedOp([create_activation(a, inplace=False) for a in activations], "activation")
            self.mixed = [self.kernel, self.activation]
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(in_ch, out_ch, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        for op in self.mixed:
            out = op(out)
        out = self.bn3(self.conv3(out))
        result: torch.Tensor = self.relu(out + identity)
        return result


@dataclass
class ArchStep:
    """What an architecture step needs between forward and the optimizer step."""

    gates: dict[str, torch.Tensor]
    masks: dict[str, torch.Tensor]
    old_alpha: dict[str, torch.Tensor] = field(default_factory=dict)


class SearchNet(nn.Module):
    """The over-parameterised network: plain blocks outside the scope, search blocks inside.

    Architecture parameters are one ``(n_search_blocks, n_candidates)`` tensor per
    decision, ``alpha_kernel`` and ``alpha_activation`` (or ``alpha_op`` in joint mode);
    row ``r`` belongs to ``rows[decision][r]`` (deepest first: ``space.block_ids``, until a
    progressive search freezes some decisions or adds blocks).  Keeping them together
    makes sampling, the Adam step and the two-path rescale one tensor operation each
    instead of one per block.  Pruned candidates (``space.pruned``) keep their alpha
    but are masked out of sampling, gradients, probabilities and the argmax.
    """

    def __init__(self, spec: NetSpec, space: SearchSpace, active: Sequence[int] | None = None) -> None:
        """``active``: the blocks of ``space`` built as search blocks now (default: all); the others stay
        plain until a progressive search adds them (:func:`core.space.progressive.add_search_blocks`)."""
        super().__init__()
        if tuple(space.depths) != tuple(spec.depths):
            raise ValueError("search space and network disagree on depths")
        self.space = space
        searched = set(space.block_ids if active is None else active) & set(space.block_ids)

        def make_block(block_id: int, in_ch: int, width: int, stride: int) -> nn.Module:
            if block_id in searched:
                pairs = space.pairs() if space.joint else None
                return SearchBottleneck(in_ch, width, stride, space.kernels, space.activations, pairs)
            return Bottleneck(in_ch, width, stride)

        self.net = ResNet(spec, make_block)
        self.spec = spec
        self.decisions = space.decisions
        self.rows: dict[str, list[int]] = {}  #: block ids of each decision's alpha rows (:meth:`reindex`)
        self.ops: dict[str, list[MixedOp]] = {}
        self.allowed: dict[str, torch.Tensor | None] = {}
        self._allowed_rows: dict[str, list[list[bool]]] = {}
        self._inplace = False  # as built: the activation candidates are not in place
        self._host_alphas: tuple[tuple[int, ...], list[np.ndarray]] | None = None
        self.reindex()

    def blocks(self) -> Iterator[tuple[int, nn.Module]]:
        """(block id, module) of every bottleneck, in forward order."""
        return zip((p.block_id for p in block_positions(self.spec.depths)), (b for s in self.net.stages() for b in s))

    def reindex(self, keep: Mapping[tuple[str, int], torch.Tensor] | None = None) -> None:
        """(Re)build the alpha rows from the open mixed ops: one row per op, deepest first.

        ``keep`` carries a row's alpha values, by (decision, block id), across a change of the network
        (a freeze, a block turned into a search block); other rows start at zero.  New alpha tensors
        are new parameters: the caller hands them to its optimizer.
        """
        keep = keep or {}
        ops = {
            (op.decision, bid): op
            for bid, b in self.blocks()
            for op in getattr(b, "mixed", ())
            if isinstance(op, MixedOp)
        }
        for d in self.decisions:
            self.rows[d] = sorted(bid for dd, bid in ops if dd == d)
            self.ops[d] = [ops[(d, bid)] for bid in self.rows[d]]
            for r, op in enumerate(self.ops[d]):
                op.row = r
            everywhere = dict(zip(self.space.block_ids, self.space.allowed(d)))
            ok = self._allowed_rows[d] = [everywhere[bid] for bid in self.rows[d]]  # lists: the per-step filter
            pruned = not all(all(row) for row in ok)  # decided in Python: works under torch.device("meta")
            self.allowed[d] = torch.tensor(ok, dtype=torch.bool, device="cpu") if pruned else None  # None: all
            old = getattr(self, f"alpha_{d}", None)
            alpha = torch.zeros(len(self.rows[d]), len(self.space.candidates(d)))
            if old is not None:
                alpha = alpha.to(old.device, old.dtype)
                for r, bid in enumerate(self.rows[d]):
                    if (d, bid) in keep:
                        alpha[r] = keep[(d, bid)]
            setattr(self, f"alpha_{d}", nn.Parameter(alpha))  # names kept: checkpoints hold alpha_kernel ...
        self._host_alphas = None
        # alphas start equal: argmax is the first candidate that takes part (pure Python: works on "meta")
        self.set_fixed({d: [row.index(True) for row in self._allowed_rows[d]] for d in self.decisions})

    # -- parameters -----------------------------------------------------------------
    def alphas(self) -> dict[str, nn.Parameter]:
        return {d: getattr(self, f"alpha_{d}") for d in self.decisions}

    def arch_parameters(self) -> list[nn.Parameter]:
        return list(self.alphas().values())

    def masked_alphas(self) -> dict[str, torch.Tensor]:
        """The alphas (detached) with pruned candidates at -inf: what probabilities and argmax read."""
        out = {}
        for d, a in self.alphas().items():
            mask = self.allowed[d]
            out[d] = a.detach() if mask is None else a.detach().masked_fill(~mask.to(a.device), float("-inf"))
        return out

    def weight_parameters(self) -> list[nn.Parameter]:
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.net(x)
        return logits

    def host_alphas(self) -> list[np.ndarray]:
        """The alphas as host arrays, copied from the device only when they changed.

        A search iteration samples twice (weight step, architecture step) from the same
        alphas; the key is the tensors' version counters (bumped by every in-place change:
        the optimizer step, the two-path rescale, loading a checkpoint) and storage.
        """
        params = self.arch_parameters()
        key = tuple(v for a in params for v in (a._version, a.data_ptr()))
        if self._host_alphas is None or self._host_alphas[0] != key:
            logits = host_logits(params)
            for i, d in enumerate(self.decisions):
                mask = self.allowed[d]
                if mask is not None:  # pruned paths are never drawn: -inf after the finiteness check
                    logits[i] = np.where(mask.numpy(), logits[i], -np.inf)
            self._host_alphas = (key, logits)
        return self._host_alphas[1]

    # -- choosing paths ------------------------------------------------------------------
    def _set_inplace(self, inplace: bool) -> None:
        if inplace == self._inplace:
            return
        self._inplace = inplace
        for d in self.decisions:
            if d == "kernel":
                continue
            for op in self.ops[d]:
                set_inplace(op.candidates, inplace)

    def _assign(
        self, decision: str, active: Sequence[int], paths: Sequence[tuple[int, ...]] | None, gates: torch.Tensor | None
    ) -> None:
        rows = gates.unbind(0) if gates is not None else None  # one view op instead of one per row
        for op in self.ops[decision]:
            row = op.row
            op.set_route(
                active[row], paths[row] if paths is not None else None, rows[row] if rows is not None else None
            )

    def set_fixed(self, indices: Mapping[str, Sequence[int]]) -> None:
        """Run the given candidate index per row and decision (argmax, pinned, or a sample)."""
        self._set_inplace(True)
        for d in self.decisions:
            self._assign(d, list(indices[d]), None, None)

    def set_argmax(self) -> None:
        self.set_fixed({d: a.argmax(dim=1).tolist() for d, a in self.masked_alphas().items()})

    def sample_weight_paths(self, sampler: PathSampler, uniform: bool = False) -> dict[str, list[int]]:
        """Weight step: one path per decision drawn from softmax(alpha) (uniform in warm-up)."""
        logits = self.host_alphas()
        drawn = {d: sampler.draw(lg, Mode.WEIGHT, uniform).active for d, lg in zip(self.decisions, logits)}
        self.set_fixed(drawn)
        return drawn

    def begin_arch_step(self, sampler: PathSampler, mode: Mode) -> ArchStep:
        """Arch step: draw paths, attach fresh binary gates; returns what backward fills in."""
        if mode not in ARCH_MODES:
            raise ValueError(f"not an architecture mode: {mode}")
        self._set_inplace(False)
        step = ArchStep({}, {})
        for (d, alpha), logits in zip(self.alphas().items(), self.host_alphas()):
            draw = sampler.draw(logits, mode)
            if self.allowed[d] is not None:  # a pruned path never takes part in the estimate
                ok = self._allowed_rows[d]
                draw.paths = [tuple(i for i in p if ok[r][i]) for r, p in enumerate(draw.paths)]
            gates = torch.zeros_like(alpha, requires_grad=True)
            self._assign(d, draw.active, draw.paths, gates)
            step.gates[d] = gates
            step.masks[d] = path_mask(draw.paths, alpha.shape[1], alpha.device)
        return step

    def finish_arch_backward(self, step: ArchStep) -> None:
        """Turn the gates' gradients into alpha gradients; detach the gates."""
        for d, alpha in self.alphas().items():
            gate_grad = step.gates[d].grad
            if gate_grad is None:
                gate_grad = torch.zeros_like(alpha)
            alpha.grad = alpha_grad_from_gates(alpha, gate_grad, step.masks[d])
            step.old_alpha[d] = alpha.detach().clone()
        for ops in self.ops.values():
            for op in ops:
                op.route.gate = None

    def after_arch_update(self, step: ArchStep, mode: Mode) -> None:
        """Two-path mode: keep unsampled paths' probabilities (ProxylessNAS's rescale)."""
        if mode == Mode.TWO_PATH:
            for d, alpha in self.alphas().items():
                rescale_pair(alpha, step.old_alpha[d], step.masks[d])  # in place: bumps the version

    def set_softmax_weighted(self) -> None:
        """DARTS-style: every op returns the softmax(alpha)-weighted sum of all its paths (benchmark only)."""
        self._set_inplace(False)
        for d, alpha in self.alphas().items():
            mask = self.allowed[d]
            probs = torch.softmax(alpha if mask is None else alpha.masked_fill(~mask.to(alpha.device), -1e9), dim=1)
            for op in self.ops[d]:
                op.set_route(op.route.active, weights=probs[op.row])

    # -- reading the architecture ---------------------------------------------------------
    def probabilities(self) -> dict[int, dict[str, dict[str, float]]]:
        """softmax(alpha) per block id and decision, keyed by candidate label (pruned candidates left out)."""
        out: dict[int, dict[str, dict[str, float]]] = {}
        probs = {d: torch.softmax(a.float(), dim=1).cpu().tolist() for d, a in self.masked_alphas().items()}
        for bid in sorted({b for rows in self.rows.values() for b in rows}):  # frozen decisions are left out
            out[bid] = {}
            for d in self.decisions:
                if bid not in self.rows[d]:
                    continue
                row = self.rows[d].index(bid)
                ok = self._allowed_rows[d][row] if self.allowed[d] is not None else None
                out[bid][d] = {
                    lbl: round(p, 6)
                    for i, (lbl, p) in enumerate(zip(self.space.labels(d), probs[d][row]))
                    if ok is None or ok[i]
                }
        return out

    def choices_for(self, indices: Mapping[str, Sequence[int]]) -> dict[int, BlockChoice]:
        """Candidate indices per decision (rows deepest first) as the block choices of a plain network."""
        out = {}
        for r, bid in enumerate(self.space.block_ids):
            if self.space.joint:
                out[bid] = BlockChoice(*parse_joint(self.space.labels(JOINT_DECISION)[indices[JOINT_DECISION][r]]))
            else:
                k, a = indices["kernel"][r], indices["activation"][r]
                out[bid] = BlockChoice(self.space.kernels[k], self.space.activations[a])
        return out
