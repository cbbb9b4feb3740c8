"""What a network costs: parameters, FLOPs, latency -- and the expected cost of a search.

FLOPs are counted by :class:`torch.utils.flop_counter.FlopCounterMode` on one image at the
configured input size (a multiply-add is 2 FLOPs, convolutions and the classifier count, BN and
activations do not).  For a search, the cost of every candidate of every search block is
measured once, in place (on the input shape that block really sees), so that the expected cost

    E[c] = fixed + sum over blocks, decisions and candidates of p_k * c_k,   p = softmax(alpha)

is a differentiable function of the alphas.  :class:`CostTerm` adds it to the architecture loss
in one of ProxylessNAS's two forms (Cai et al. 2019, ``add#linear`` and ``mul#log`` in their
code):

* ``add``:     L = CE + W * (E[c] - target) / target          (W = their lambda, default 0.2)
* ``mul_log``: L = CE * (log E[c] / log target) ** W          (W = their beta, default 0.6;
  their extra constant factor alpha is left out: under Adam a constant scale of the loss does
  not change the step).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from core.errors import PresnetError
from core.io import atomic_write_text
from core.space import JOINT_DECISION
from core.space.network import BlockChoice, SearchNet, count_params

#: Default weight per form: ProxylessNAS's lambda (add) and beta (mul_log).
DEFAULT_WEIGHT = {"add": 0.2, "mul_log": 0.6}


# -- whole networks ------------------------------------------------------------------------------
def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def count_flops(model: nn.Module, image_size: int, batch: int = 1) -> int:
    """FLOPs of one forward pass of ``batch`` images (eval mode; the model's mode is restored)."""
    was_training = model.training
    model.eval()
    try:
        x = torch.zeros(batch, 3, image_size, image_size, device=_device_of(model))
        with FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def _op_flops(op: nn.Module, shape: Sequence[int], device: torch.device) -> int:
    """FLOPs of one candidate in eval mode (no BatchNorm statistics change), mode restored."""
    was_training = op.training
    op.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            op(torch.zeros(*shape, device=device))
    finally:
        op.train(was_training)
    return int(counter.get_total_flops())


# -- per-candidate costs of a search network --------------------------------------------------------
@dataclass(frozen=True)
class CandidateCosts:
    """Cost of every candidate, per search block row (deepest first) and decision, plus the rest.

    ``per_row[decision][row][k]`` is the cost of candidate ``k`` in row ``row``; ``fixed`` is
    the cost of everything outside the decisions (stem, 1x1 convs, plain blocks, classifier).
    """

    metric: str
    fixed: float
    per_row: dict[str, list[list[float]]]

    def tensors(self, device: torch.device) -> dict[str, torch.Tensor]:
        return {d: torch.tensor(rows, dtype=torch.float64, device=device) for d, rows in self.per_row.items()}

    def expected(
        self, alphas: Mapping[str, torch.Tensor], costs: Mapping[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        """E[c] as a differentiable function of the alphas (a 0-d float64 tensor)."""
        device = next(iter(alphas.values())).device
        costs = costs or self.tensors(device)
        total = torch.tensor(self.fixed, dtype=torch.float64, device=device)
        for d in self.per_row:
            total = total + (torch.softmax(alphas[d].double(), dim=1) * costs[d]).sum()
        return total

    def of_indices(self, indices: Mapping[str, Sequence[int]]) -> float:
        """The cost of one architecture, given its candidate index per row and decision."""
        return self.fixed + sum(self.per_row[d][r][i] for d in self.per_row for r, i in enumerate(indices[d]))


def _op_input_shapes(net: SearchNet, image_size: int) -> tuple[dict[int, tuple[int, ...]], int]:
    """The input shape every mixed op sees, keyed by ``id(op)``, and the network's FLOPs at path 0.

    One forward of one image with path 0 everywhere: a candidate's input shape does not
    depend on which path the ops before it run (same channels, same stride).
    """
    shapes: dict[int, tuple[int, ...]] = {}

    def record(
        module: nn.Module, args: tuple[torch.Tensor, ...]
    ) -> None:  # a pre-hook that returns a value would replace the input
        shapes.setdefault(id(module), tuple(args[0].shape))

    hooks = [op.register_forward_pre_hook(record) for ops in net.ops.values() for op in ops]
    try:
        net.set_fixed({d: [0] * len(net.space.block_ids) for d in net.decisions})
        whole = count_flops(net, image_size)
    finally:
        for h in hooks:
            h.remove()
    return shapes, whole


def measure_candidates(net: SearchNet, metric: str, image_size: int) -> CandidateCosts:
    """FLOPs (flop_counter on each candidate, in place) or parameters of every candidate."""
    if metric not in ("flops", "params"):
        raise ValueError(f"cannot measure {metric} analytically; latency comes from a table")
    device = _device_of(net)
    per_row: dict[str, list[list[float]]] = {}
    if metric == "params":
        for d in net.decisions:
            per_row[d] = [[float(count_params(c)) for c in op.candidates] for op in net.ops[d]]
        total = float(sum(p.numel() for p in net.weight_parameters()))
        every = sum(sum(sum(row) for row in per_row[d]) for d in net.decisions)
        return CandidateCosts("params", total - every, per_row)
    shapes, whole = _op_input_shapes(net, image_size)
    for d in net.decisions:
        per_row[d] = [[float(_op_flops(c, shapes[id(op)], device)) for c in op.candidates] for op in net.ops[d]]
    path0 = sum(per_row[d][r][0] for d in net.decisions for r in range(len(per_row[d])))
    return CandidateCosts("flops", float(whole) - path0, per_row)


# -- latency -------------------------------------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def time_module(module: nn.Module, x: torch.Tensor, warmup: int = 5, repeats: int = 20) -> float:
    """Median wall time of ``module(x)`` in microseconds, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        module(x)
    _sync(x.device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        module(x)
        _sync(x.device)
        times.append((time.perf_counter() - t0) * 1e6)
    return float(statistics.median(times))


class NetworkKey(TypedDict):
    """The network a latency table was measured for (a table is only valid for it)."""

    stem: str
    width_mult: float
    depths: list[int]


class LatencyTable(TypedDict):
    """``presnet latency``'s lookup table, as written to JSON (in this key order).

    ``blocks`` maps a block id to each decision (``kernel``, ``activation``, or the joint one) and
    each candidate's microseconds: ``blocks["3"]["kernel"]["5"]``."""

    metric: str
    unit: str
    device: str
    image_size: int
    batch: int
    network: NetworkKey
    whole_us: float
    fixed_us: float
    blocks: dict[str, dict[str, dict[str, float]]]


def latency_table(net: SearchNet, image_size: int, batch: int = 1, warmup: int = 5, repeats: int = 20) -> LatencyTable:
    """Each candidate of each search block timed in place (its real input shape), in microseconds.

    ``fixed_us`` is the whole network at path 0 minus its path-0 candidates: the part no
    decision changes (ProxylessNAS's constant).  Clamped at 0, since timings are noisy.
    """
    device = _device_of(net)
    net.eval()  # no BatchNorm statistics change while timing
    shapes, _ = _op_input_shapes(net, image_size)
    blocks: dict[str, dict[str, dict[str, float]]] = {}
    path0 = 0.0
    for d in net.decisions:
        for op in net.ops[d]:
            bid = net.space.block_ids[op.row]
            x = torch.randn(batch, *shapes[id(op)][1:], device=device)
            row = {
                str(c): time_module(cand, x, warmup, repeats) for c, cand in zip(net.space.candidates(d), op.candidates)
            }
            blocks.setdefault(str(bid), {})[d] = row
            path0 += next(iter(row.values()))
    whole = time_module(net, torch.randn(batch, 3, image_size, image_size, device=device), warmup, repeats)
    spec = net.spec
    return {
        "metric": "latency",
        "unit": "us",
        "device": str(device),
        "image_size": image_size,
        "batch": batch,
        "network": {"stem": spec.stem, "width_mult": spec.width_mult, "depths": list(spec.depths)},
        "whole_us": whole,
        "fixed_us": max(whole - path0, 0.0),
        "blocks": blocks,
    }


def save_latency_table(path: Path, table: LatencyTable) -> None:
    atomic_write_text(Path(path), json.dumps(table, indent=2) + "\n")


def costs_from_table(path: Path, net: SearchNet, image_size: int) -> CandidateCosts:
    """Per-candidate latencies from a ``presnet latency`` table; it must match the network and space."""
    path = Path(path)
    hint = "measure it for this config with `presnet latency -c CONFIG -o TABLE`"
    if not path.is_file():
        raise PresnetError("latency table not found", where=f"search.cost.table ({path})", hint=hint)
    try:
        table = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise PresnetError(f"malformed JSON: {err.msg}", where=str(path), hint=hint) from None
    spec = net.spec
    want: NetworkKey = {"stem": spec.stem, "width_mult": spec.width_mult, "depths": list(spec.depths)}
    if table.get("network") != want or table.get("image_size") != image_size:
        raise PresnetError(
            f"the table was measured for another network or input size ({table.get('network')}, "
            f"{table.get('image_size')} px; this run: {want}, {image_size} px)",
            where=str(path),
            hint=hint,
        )
    per_row: dict[str, list[list[float]]] = {d: [] for d in net.decisions}
    for bid in net.space.block_ids:
        for d in net.decisions:
            try:
                row = table["blocks"][str(bid)][d]
                per_row[d].append([float(row[str(c)]) for c in net.space.candidates(d)])
            except (KeyError, TypeError):
                raise PresnetError(
                    f"no {d} latencies for block {bid} and candidates {list(net.space.candidates(d))}",
                    where=str(path),
                    hint=hint,
                ) from None
    return CandidateCosts("latency", float(table.get("fixed_us", 0.0)), per_row)


# -- the cost term of the architecture loss ------------------------------------------------------------
class CostTerm:
    """Adds d(cost term)/d(alpha) to the alphas' gradient after an architecture backward.

    The gate estimator gives dCE/dalpha; the total loss is L(CE, E[c](alpha)), so
    dL/dalpha = dL/dCE * dCE/dalpha + dL/dE * dE/dalpha.  Both partials come from autograd on
    L with CE held as a leaf: no form's derivative is written by hand.
    """

    def __init__(
        self,
        costs: CandidateCosts,
        form: str,
        target: float,
        weight: float | None,
        allowed: Mapping[str, torch.Tensor | None] | None = None,
    ) -> None:
        self.costs = costs
        #: per decision, which candidates take part (None: all); pruned ones get probability 0 in E[c]
        self.allowed = dict(allowed or {})
        self.form = form
        self.target = float(target)
        self.weight = float(DEFAULT_WEIGHT[form] if weight is None else weight)
        self._tensors: dict[str, torch.Tensor] | None = None
        self._masks: dict[str, torch.Tensor | None] | None = None

    def expected(self, alphas: Mapping[str, torch.Tensor]) -> torch.Tensor:
        if self._tensors is None:
            self._tensors = self.costs.tensors(next(iter(alphas.values())).device)
        if self._masks is None:  # once, on the alphas' device (no host-to-device copy per step)
            self._masks = {d: None if m is None else ~m.to(self._tensors[d].device) for d, m in self.allowed.items()}
        masked = {
            d: a if (mask := self._masks.get(d)) is None else a.masked_fill(mask, float("-inf"))
            for d, a in alphas.items()
        }
        total: torch.Tensor = self.costs.expected(masked, self._tensors)
        return total

    def loss(self, ce: torch.Tensor, expected: torch.Tensor) -> torch.Tensor:
        """ProxylessNAS's forms (see the module docstring)."""
        if self.form == "add":
            return ce + self.weight * (expected - self.target) / self.target
        return ce * (torch.log(expected) / torch.log(expected.new_tensor(self.target))) ** self.weight

    def apply(self, alphas: Mapping[str, torch.Tensor], ce: torch.Tensor, grad_scale: float = 1.0) -> None:
        """Turn alpha.grad (dCE/dalpha, times the loss scale) into dL/dalpha (times the same scale)."""
        names = list(alphas)
        leaves = {d: alphas[d].detach().requires_grad_() for d in names}
        ce_leaf = ce.detach().double().requires_grad_()
        total = self.loss(ce_leaf, self.expected(leaves))
        grads = torch.autograd.grad(total, [ce_leaf, *leaves.values()])
        d_ce = grads[0].to(alphas[names[0]].dtype)
        for d, g in zip(names, grads[1:]):
            alpha = alphas[d]
            extra = (g * grad_scale).to(alpha.dtype)
            alpha.grad = extra if alpha.grad is None else alpha.grad * d_ce + extra

    def expected_value(self, alphas: Mapping[str, torch.Tensor]) -> float:
        with torch.no_grad():
            return float(self.expected({d: a.detach() for d, a in alphas.items()}))


def build_cost_term(cost_cfg: Any, net: SearchNet, image_size: int) -> CostTerm:
    """The cost term of a ``search.cost`` config section, per-candidate costs measured now."""
    if cost_cfg.metric == "latency":
        costs = costs_from_table(Path(cost_cfg.table), net, image_size)
    else:
        costs = measure_candidates(net, cost_cfg.metric, image_size)
    return CostTerm(costs, cost_cfg.form, cost_cfg.target, cost_cfg.weight, net.allowed)


def choices_cost(costs: CandidateCosts, net: SearchNet, choices: Mapping[int, BlockChoice]) -> float:
    """The cost of a derived architecture under per-candidate costs (blocks in the space)."""
    rows = {bid: r for r, bid in enumerate(net.space.block_ids)}
    space = net.space
    idx = {d: [0] * len(rows) for d in space.decisions}
    for bid, c in choices.items():
        if space.joint:
            idx[JOINT_DECISION][rows[bid]] = space.pairs().index((c.kernel, c.activation))
        else:
            idx["kernel"][rows[bid]] = space.kernels.index(c.kernel)
            idx["activation"][rows[bid]] = space.activations.index(c.activation)
    return costs.of_indices(idx)
