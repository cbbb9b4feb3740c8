"""What each candidate does to the supernet: the perturbation readout, a second opinion beside the alphas.

Wang et al. (ICLR 2021, "Rethinking Architecture Selection in Differentiable NAS", ruocwang/darts-pt)
showed that an alpha's size need not say how much its operation contributes to the supernet, and
selected by the supernet's validation accuracy instead.  For each searched decision this module pins
the decision to each of its candidates, every other decision held at its current argmax, and records
the supernet's validation top-1 and loss on a fixed, seeded subset.  A candidate's *strength* is its
accuracy minus the argmax's (:class:`core.run.readout.DecisionReadout`).

*Why pinning, not DARTS-PT's "remove the operation".*  DARTS-PT's supernet runs the softmax-weighted
sum of every operation on an edge; it zeroes one operation's weight and keeps the operation whose
removal costs the most accuracy.  presnet's supernet is a binary-gate one: each step runs one path,
and the architecture presnet derives runs exactly one candidate per decision.  There is no mixture
to take an operation out of; the network a candidate stands for is the one with the decision pinned
to it.  Pinning measures that network with the supernet's shared weights, which is what DARTS-PT's
measurement approximates in the limit where the other operations' weights vanish.  Like DARTS-PT,
one decision moves at a time and the others stay as the search would derive them now (DARTS-PT
fixes decisions one by one and fine-tunes in between; presnet reads, it does not fine-tune).

*Leaving the search as it was* (the curvature probe's rules, :mod:`core.train.curvature`): the subset
comes from the ``perturbation`` stream's own generator and is read unaugmented; BatchNorm uses batch
statistics with ``track_running_stats`` off (train mode, DARTS-PT's ``_eval=False``: a rarely drawn
candidate's running statistics are not a fair test of it) and leaves its buffers as they were; no
gradient is taken; the routes are reset to the argmax afterwards (the next step sets its own).
Accuracy and loss are averaged over the subset's images (its batches weighted by their size).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core.config import PerturbationConfig
from core.run.readout import DecisionReadout, PerturbationReadout, PinnedScore
from core.space.network import SearchNet
from core.train.curvature import frozen_batchnorm
from core.train.probes import Batch, SubsetProbe


def score(net: SearchNet, batches: Sequence[Batch], indices: Mapping[str, Sequence[int]]) -> PinnedScore:
    """Top-1 (%) and mean loss of the supernet with every decision's rows at ``indices``, over ``batches``
    (per image: batches weigh by their size)."""
    net.set_fixed(indices)
    correct, loss_sum, n = 0, 0.0, 0
    for x, y in batches:
        logits = net(x).float()
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        n += len(y)
    return PinnedScore(top1=round(100.0 * correct / n, 4), loss=round(loss_sum / n, 6))


def readout(net: SearchNet, batches: Sequence[Batch]) -> PerturbationReadout:
    """Every searched decision pinned to each of its allowed candidates, the others at their argmax."""
    t0 = time.perf_counter()
    argmax = {d: a.argmax(dim=1).tolist() for d, a in net.masked_alphas().items()}
    labels = {d: net.space.labels(d) for d in net.decisions}
    decisions: dict[str, dict[str, DecisionReadout]] = {}
    with frozen_batchnorm(net), torch.no_grad():
        try:
            base = score(net, batches, argmax)
            for d in net.decisions:
                allowed = net.allowed[d]
                for row, bid in enumerate(net.rows[d]):
                    scores: dict[str, PinnedScore] = {}
                    for i, label in enumerate(labels[d]):
                        if allowed is not None and not bool(allowed[row, i]):
                            continue  # a pruned candidate is not in the space
                        if i == argmax[d][row]:
                            scores[label] = base
                            continue
                        pinned = {k: list(v) for k, v in argmax.items()}
                        pinned[d][row] = i
                        scores[label] = score(net, batches, pinned)
                    if len(scores) >= 2:
                        at = DecisionReadout(argmax=labels[d][argmax[d][row]], scores=scores)
                        decisions.setdefault(str(bid), {})[d] = at
        finally:
            net.set_argmax()
    images = sum(len(y) for _, y in batches)
    seconds = round(time.perf_counter() - t0, 4)
    return PerturbationReadout(images=images, top1=base.top1, loss=base.loss, seconds=seconds, decisions=decisions)


def forward_passes(net: SearchNet) -> int:
    """Forward passes over the subset one readout makes: the argmax, then each other allowed candidate."""
    total = 1
    for d in net.decisions:
        allowed = net.allowed[d]
        for row in range(len(net.rows[d])):
            n = len(net.space.labels(d)) if allowed is None else int(allowed[row].sum())
            total += max(0, n - 1) if n >= 2 else 0
    return total


@dataclass
class PerturbationProbe(SubsetProbe[PerturbationConfig]):
    """The search's readout: a fixed validation subset, picked once from the ``perturbation`` stream.

    It holds no state between epochs (the subset is rebuilt from the seed), so a resumed search reads
    the same images; the schedule that decides when it runs keeps the account (:mod:`core.train.probes`).
    """

    STREAM = "perturbation"

    def measure(self, net: SearchNet) -> PerturbationReadout:
        t0 = time.perf_counter()
        out = readout(net, self.batches)
        self.last_s = time.perf_counter() - t0
        return out

    def estimate_s(self, net: SearchNet) -> float:
        """Before a first measurement: one timed forward pass over the first batch, scaled to the subset
        and to :func:`forward_passes` (BatchNorm's running statistics untouched)."""
        x, _ = self.batches[0]
        with frozen_batchnorm(net), torch.no_grad():
            net.set_argmax()
            t0 = time.perf_counter()
            net(x)
            unit = (time.perf_counter() - t0) / len(x)
        images = sum(len(y) for _, y in self.batches)
        return unit * images * forward_passes(net)
