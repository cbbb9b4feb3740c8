"""How sharp the validation loss is in the alphas: the largest eigenvalue of its Hessian, per epoch.

Zela et al. 2020 ("Understanding and Robustifying DARTS") found that this eigenvalue rises when a
differentiable search starts to degrade; :mod:`core.train.stop_rules` stops on that rise.

*Which eigenvalue.* The largest *algebraic* one (R-DARTS's ``max(eigvals(H))``), not the dominant
one (largest in magnitude): the Hessian is indefinite away from a minimum, and at random alphas its
smallest eigenvalue was -52 against a largest of 0.71.  Hence "largest" in names and events.

*Which loss.* The softmax-relaxed mixture, as in R-DARTS: every mixed op returns the
softmax(alpha)-weighted sum of its candidates (:meth:`SearchNet.set_softmax_weighted`), and the loss
is the cross-entropy on a fixed validation subset.  presnet's search does not optimise that loss: its
binary-gate estimators follow the expected loss of one sampled path, sum over paths of
prod(softmax) x loss(path), which is smooth in the alphas too and has a Hessian of its own.  The
relaxed loss is a stand-in for it, cheaper to differentiate twice (one network pass, not one per
path); they are not equal (at one state: relaxed 1.791, expected single-path 1.892).  Cost terms are
left out, as in R-DARTS: the curvature is the data's.

*How.* Lanczos iteration on Hessian-vector products (double backward through the relaxed loss),
with full reorthogonalisation, from a seeded start vector: ``steps`` products give the top Ritz value.
With at least as many steps as alphas (presnet has at most 96) the Krylov space is the whole space
and the value is the exact largest eigenvalue, what R-DARTS takes (``max(eigvals(H))``).

*Leaving the search as it was.* The probe must not change the search's trajectory:

- no random number from a generator training uses: the subset and the start vector come from the
  ``curvature`` stream's own generators (:mod:`core.train.seeds`), the subset is read unaugmented;
- no BatchNorm statistic moves: the network stays in train mode (the batch statistics an
  architecture step sees, not running statistics that a rarely sampled candidate barely has), with
  ``track_running_stats`` off for the probe, so PyTorch neither reads nor updates the buffers;
- no ``.grad`` is left: gradients come from :func:`torch.autograd.grad` (nothing accumulates), and the
  mixed ops' routes are reset afterwards (their softmax weights would hold the graph).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core.config import CurvatureConfig
from core.run.events import AlphaSnapshot
from core.space.network import SearchNet
from core.train.probes import SubsetProbe

Batch = tuple[torch.Tensor, torch.Tensor]

#: a Hessian-vector product's cost in relaxed forward passes (a forward's worth of graph, then two backward
#: passes): only the budget's guess before the first measurement, which replaces it
FORWARDS_PER_HVP = 3


def entropy(probs: dict[str, float]) -> float:
    """A decision's entropy over its candidates, normalised by log(candidates): 1 uniform, 0 decided
    (SGAS's stability signal, comparable across decisions with 2 or 6 candidates)."""
    if len(probs) < 2:
        return 0.0
    h = -sum(p * math.log(p) for p in probs.values() if p > 0)
    return round(h / math.log(len(probs)), 6)


def entropies(snapshot: AlphaSnapshot) -> dict[str, dict[str, float]]:
    """Per block and real decision (two or more candidates), its normalised entropy."""
    return {
        block: {d: entropy(p) for d, p in decisions.items() if len(p) >= 2} for block, decisions in snapshot.items()
    }


@contextmanager
def frozen_batchnorm(net: nn.Module) -> Iterator[None]:
    """Batch statistics without touching the running ones (nor ``num_batches_tracked``)."""
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    for m in norms:
        m.track_running_stats = False
    try:
        yield
    finally:
        for m in norms:
            m.track_running_stats = True


def lanczos_top(hvp: Callable[[torch.Tensor], torch.Tensor], n: int, steps: int, generator: torch.Generator) -> float:
    """The largest eigenvalue of the symmetric ``n`` x ``n`` operator ``hvp`` after ``min(n, steps)``
    Lanczos steps (exact at ``n``), fully reorthogonalised, in float64."""
    q = torch.randn(n, generator=generator, dtype=torch.float64)
    basis = [q / q.norm()]
    diag: list[float] = []
    off: list[float] = []
    for j in range(min(n, steps)):
        w = hvp(basis[-1])
        diag.append(float(basis[-1] @ w))
        for _ in range(2):  # Gram-Schmidt twice: the basis stays orthogonal to machine precision
            for b in basis:
                w = w - (b @ w) * b
        beta = float(w.norm())
        if j == min(n, steps) - 1 or beta <= 1e-10 * max(1.0, max(abs(d) for d in diag)):
            break  # the Krylov space is invariant: its Ritz values are eigenvalues
        off.append(beta)
        basis.append(w / beta)
    t = torch.diag(torch.tensor(diag, dtype=torch.float64))
    if off:
        e = torch.tensor(off[: len(diag) - 1], dtype=torch.float64)
        t = t + torch.diag(e, 1) + torch.diag(e, -1)
    return float(torch.linalg.eigvalsh(t).max())


def relaxed_gradients(net: SearchNet, batches: Sequence[Batch]) -> list[torch.Tensor]:
    """Per batch, the relaxed loss's gradient w.r.t. the alphas (flat), with its graph kept for the HVPs."""
    alphas = net.arch_parameters()
    out = []
    for x, y in batches:
        net.set_softmax_weighted()
        loss = F.cross_entropy(net(x).float(), y)
        grads = torch.autograd.grad(loss, alphas, create_graph=True)
        out.append(torch.cat([g.reshape(-1) for g in grads]))
    return out


def largest_eigenvalue(net: SearchNet, batches: Sequence[Batch], steps: int, seed: int) -> float:
    """The largest (algebraic) eigenvalue of the Hessian of the mean relaxed validation loss over ``batches``
    (each batch's loss weighs the same)."""
    alphas = net.arch_parameters()
    n = sum(a.numel() for a in alphas)
    with frozen_batchnorm(net), torch.enable_grad():
        try:
            grads = relaxed_gradients(net, batches)

            def hvp(v: torch.Tensor) -> torch.Tensor:
                total = torch.zeros(n, dtype=torch.float64)
                for g in grads:
                    vv = v.to(g.device, g.dtype)
                    rows = torch.autograd.grad(g, alphas, grad_outputs=vv, retain_graph=True)
                    total += torch.cat([r.reshape(-1) for r in rows]).double().cpu()
                return total / len(grads)

            return lanczos_top(hvp, n, steps, torch.Generator().manual_seed(seed))
        finally:
            net.set_argmax()  # drops the softmax weights (and the graph they hold) from every route


@dataclass
class CurvatureProbe(SubsetProbe[CurvatureConfig]):
    """The search's probe: a fixed validation subset, picked once from the ``curvature`` stream."""

    STREAM = "curvature"

    def due(self, search_epoch: int) -> bool:
        """Whether the ``search_epoch``-th epoch after the warm-up (1-based) is due by ``every`` (the
        probes' budget may still hold it back: :mod:`core.train.probes`)."""
        return self.config.enabled and (search_epoch - 1) % self.config.every == 0

    def measure(self, net: SearchNet) -> float:
        t0 = time.perf_counter()
        value = largest_eigenvalue(net, self.batches, self.config.steps, self.seed)
        self.last_s = time.perf_counter() - t0
        return value

    def estimate_s(self, net: SearchNet) -> float:
        """Before a first measurement: one timed relaxed forward pass (every candidate) over the first
        batch, scaled to the subset and to the passes a measurement makes (a gradient with its graph,
        then ``steps`` Hessian-vector products, each counted as :data:`FORWARDS_PER_HVP` forward passes)."""
        x, _ = self.batches[0]
        with frozen_batchnorm(net), torch.no_grad():
            try:
                net.set_softmax_weighted()
                t0 = time.perf_counter()
                net(x)
                unit = (time.perf_counter() - t0) / len(x)
            finally:
                net.set_argmax()
        images = sum(len(y) for _, y in self.batches)
        n = sum(a.numel() for a in net.arch_parameters())
        return unit * images * FORWARDS_PER_HVP * (1 + min(n, self.config.steps))
