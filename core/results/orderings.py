"""How a finished search orders the architectures of its space: the supernet's ranking, read at the
epoch its architecture was derived from, to correlate with the ground truth (Kendall tau).

``alphas``: an architecture's score is the sum over its decisions of the log-probability the
alphas give its candidate (the log of the product of per-decision softmax probabilities): the
architecture the derive rule picks scores highest, and the ordering of the rest is the one the
alphas imply.  ``perturbation``: the sum over its decisions of the supernet's pinned validation
top-1 for its candidate in the latest perturbation readout at or before that epoch
(:mod:`core.run.readout`; the perturbation selection's pick scores highest).  Another readout plugs
in with :func:`register_ordering` under its own name; :mod:`core.results.ground_truth` correlates every
registered ordering that has an answer for a run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

from core.run.events import EpochEnd
from core.run.readout import PerturbationReadout, latest_readout
from core.run.rundir import RunDir
from core.scale.exhaustive import ArchKey

#: (search run directory, architectures) -> one score per architecture (higher: better), or None
#: when this run has no such readout.
Ordering = Callable[[Path, Sequence[ArchKey]], list[float] | None]

_ORDERINGS: dict[str, Ordering] = {}


def register_ordering(name: str, ordering: Ordering) -> None:
    """Add (or replace) a named ordering; ``compare`` reports tau for each."""
    _ORDERINGS[name] = ordering


def orderings() -> dict[str, Ordering]:
    return dict(_ORDERINGS)


def derive_epoch(run: RunDir) -> int | None:
    """The epoch the run's architecture comes from: its stop rule's, else its last search epoch."""
    search = run.summary().search
    if search is not None and search.stop_rule is not None and search.stop_rule.architecture_epoch is not None:
        return int(search.stop_rule.architecture_epoch)
    return search.epochs if search is not None else None


def alpha_snapshot(run: RunDir, epoch: int | None = None) -> dict[str, dict[str, dict[str, float]]] | None:
    """Block -> decision -> candidate -> probability at ``epoch`` (default: the derive epoch)."""
    epoch = derive_epoch(run) if epoch is None else epoch
    ends = [e for e in run.events() if isinstance(e, EpochEnd) and e.alphas]
    at = [e for e in ends if e.epoch == epoch] or ends[-1:]
    return {b: {d: dict(p) for d, p in ds.items()} for b, ds in at[-1].alphas.items()} if at else None


def alpha_scores(path: Path, keys: Sequence[ArchKey]) -> list[float] | None:
    """Each architecture's summed log-probability under the alphas at the derive epoch (factorized:
    kernel and activation; joint: the pair).  A candidate the snapshot lacks scores -inf."""
    snap = alpha_snapshot(RunDir(path))
    if snap is None:
        return None
    scores = []
    for key in keys:
        total = 0.0
        for block, kernel, activation in key:
            probs = snap.get(str(block), {})
            if "op" in probs:
                picks = [probs["op"].get(f"{kernel}x{kernel}/{activation}", 0.0)]
            else:
                picks = [
                    probs.get("kernel", {}).get(str(kernel), 1.0),
                    probs.get("activation", {}).get(activation, 1.0),
                ]
            total += sum(math.log(p) if p > 0 else -math.inf for p in picks)
        scores.append(total)
    return scores


def readout_before(run: RunDir, epoch: int | None = None) -> PerturbationReadout | None:
    """The latest perturbation readout at or before ``epoch`` (default: the derive epoch); the probes'
    budget may have skipped the epoch itself."""
    epoch = derive_epoch(run) if epoch is None else epoch
    ends = {e.epoch: e.perturbation for e in run.events() if isinstance(e, EpochEnd) and e.perturbation is not None}
    found = latest_readout(ends, epoch)
    return found[1] if found else None


def perturbation_scores(path: Path, keys: Sequence[ArchKey]) -> list[float] | None:
    """Each architecture's summed pinned top-1 over its decisions (joint: the pair's); a decision the
    readout does not hold adds nothing, so it cannot reorder the architectures."""
    read = readout_before(RunDir(path))
    if read is None:
        return None
    scores = []
    for key in keys:
        total = 0.0
        for block, kernel, activation in key:
            decisions = read.decisions.get(str(block), {})
            labels = {"op": f"{kernel}x{kernel}/{activation}", "kernel": str(kernel), "activation": activation}
            for name, readout in decisions.items():
                pinned = readout.scores.get(labels.get(name, ""))
                total += pinned.top1 if pinned is not None else -math.inf
        scores.append(total)
    return scores


register_ordering("alphas", alpha_scores)
register_ordering("perturbation", perturbation_scores)
