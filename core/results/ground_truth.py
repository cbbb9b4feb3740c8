"""Ground truth for a search: every architecture of a small space retrained with repeats, and any
architecture of that space looked up in it instead of retrained.

From an exhaustive sweep (``presnet sweep --exhaustive``, :mod:`core.scale.exhaustive`):

- each architecture's mean top-1 over its seeds, its rank (1 = best mean) and percentile (the
  share of the *other* architectures whose mean it beats, ties counted half: 100 = best, 0 = worst);
- the variance split (:mod:`core.results.variance`): how much the space matters at this noise;
- a searched run's architecture placed on it: rank and percentile, each with a 95 % interval from
  a bootstrap over the repeats (every architecture's seeds resampled with replacement, 2,000
  times, fixed seed), and Kendall's tau (tau-b, scipy.stats.kendalltau) between the supernet's
  ordering at the derive epoch (:mod:`core.results.orderings`) and the ground-truth means, with a
  95 % interval from the same bootstrap.  The bootstrap carries the ground truth's seed noise
  only; the search's own seed is one draw (place several searches to see that spread).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.results.orderings import orderings
from core.results.table import RunResult
from core.results.variance import VarianceSplit, variance_split
from core.scale.exhaustive import ArchKey, key_label

BOOTSTRAP = 2000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class ArchRun:
    """One retrain of one architecture of the space."""

    key: ArchKey
    seed: int | None
    top1: float
    val_top1: float | None = None
    path: Path | None = None


@dataclass(frozen=True)
class ArchTruth:
    """One architecture of the space: its seeds' mean, spread and place."""

    key: ArchKey
    label: str
    n: int
    mean: float
    sd: float | None
    rank: int  #: 1 = the best mean
    percentile: float  #: share of the other architectures it beats, in %
    val_mean: float | None = None
    top1s: tuple[float, ...] = ()


@dataclass(frozen=True)
class OrderingTau:
    """Kendall's tau between one of the supernet's orderings and the ground-truth means."""

    ordering: str
    tau: float
    ci95: tuple[float, float]
    p_value: float  #: scipy's, of tau = 0


@dataclass(frozen=True)
class Placement:
    """Where a searched run's architecture falls in the ground truth."""

    run: str
    label: str
    rank: int | None  #: None: the architecture is not in this space
    of: int
    percentile: float | None
    rank_ci95: tuple[int, int] | None = None
    percentile_ci95: tuple[float, float] | None = None
    taus: list[OrderingTau] = field(default_factory=list)


@dataclass(frozen=True)
class GroundTruth:
    """One exhaustive sweep's table: every architecture, the split, and the searches placed on it."""

    scope: str
    archs: list[ArchTruth]  #: best first
    split: VarianceSplit | None
    runs: int
    placements: list[Placement] = field(default_factory=list)

    def find(self, key: ArchKey) -> ArchTruth | None:
        return next((a for a in self.archs if a.key == key), None)


def _percentiles(means: np.ndarray) -> np.ndarray:
    """Per architecture (last axis), the share in % of the others whose mean it beats (ties half)."""
    below = (means[..., :, None] > means[..., None, :]).sum(-1)
    ties = (means[..., :, None] == means[..., None, :]).sum(-1) - 1
    share: np.ndarray = 100.0 * (below + 0.5 * ties) / max(means.shape[-1] - 1, 1)
    return share


def _ranks(means: np.ndarray) -> np.ndarray:
    """1 + how many architectures have a strictly higher mean."""
    ranks: np.ndarray = 1 + (means[..., None, :] > means[..., :, None]).sum(-1)
    return ranks


def build(scope: str, runs: Sequence[ArchRun]) -> GroundTruth:
    """The ground truth of one space's runs (grouped by architecture key)."""
    by_key: dict[ArchKey, list[ArchRun]] = {}
    for r in runs:
        by_key.setdefault(r.key, []).append(r)
    keys = sorted(by_key)
    means = np.array([np.mean([r.top1 for r in by_key[k]]) for k in keys])
    ranks, pct = _ranks(means), _percentiles(means)
    archs = []
    for i, k in enumerate(keys):
        top1s = tuple(r.top1 for r in by_key[k])
        vals = [r.val_top1 for r in by_key[k] if r.val_top1 is not None]
        archs.append(
            ArchTruth(
                key=k,
                label=key_label(k),
                n=len(top1s),
                mean=float(means[i]),
                sd=float(np.std(top1s, ddof=1)) if len(top1s) > 1 else None,
                rank=int(ranks[i]),
                percentile=float(pct[i]),
                val_mean=float(np.mean(vals)) if vals else None,
                top1s=top1s,
            )
        )
    archs.sort(key=lambda a: (a.rank, a.label))
    split = variance_split([[r.top1 for r in by_key[k]] for k in keys])
    return GroundTruth(scope=scope, archs=archs, split=split, runs=len(runs))


def bootstrap_means(truth: GroundTruth, draws: int = BOOTSTRAP, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """(draws, architectures) means, each architecture's seeds resampled with replacement."""
    rng = np.random.default_rng(seed)
    cols = []
    for a in truth.archs:
        values = np.asarray(a.top1s)
        cols.append(values[rng.integers(0, len(values), size=(draws, len(values)))].mean(axis=1))
    return np.stack(cols, axis=1)


def place(truth: GroundTruth, run: str, key: ArchKey, run_path: Path | None = None) -> Placement:
    """A searched run's architecture on the ground truth: rank, percentile, intervals and tau."""
    label = key_label(key)
    index = next((i for i, a in enumerate(truth.archs) if a.key == key), None)
    if index is None:
        return Placement(run=run, label=label, rank=None, of=len(truth.archs), percentile=None)
    boot = bootstrap_means(truth)
    ranks, pct = _ranks(boot)[:, index], _percentiles(boot)[:, index]
    arch = truth.archs[index]
    return Placement(
        run=run,
        label=label,
        rank=arch.rank,
        of=len(truth.archs),
        percentile=arch.percentile,
        rank_ci95=(int(np.percentile(ranks, 2.5)), int(np.ceil(np.percentile(ranks, 97.5)))),
        percentile_ci95=(float(np.percentile(pct, 2.5)), float(np.percentile(pct, 97.5))),
        taus=taus(truth, run_path, boot) if run_path is not None else [],
    )


def taus(truth: GroundTruth, run_path: Path, boot: np.ndarray | None = None) -> list[OrderingTau]:
    """Kendall's tau of every registered ordering that has an answer for this run."""
    from scipy.stats import kendalltau  # type: ignore[import-untyped]

    boot = bootstrap_means(truth) if boot is None else boot
    means = np.array([a.mean for a in truth.archs])
    out = []
    for name, ordering in orderings().items():
        scores = ordering(run_path, [a.key for a in truth.archs])
        if scores is None or len(set(scores)) < 2:
            continue
        s = np.nan_to_num(np.asarray(scores, dtype=float), neginf=-1e300)
        tau, p = kendalltau(s, means)
        draws = np.array([kendalltau(s, row)[0] for row in boot])
        draws = draws[np.isfinite(draws)]
        ci = (float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))) if len(draws) else (tau, tau)
        out.append(OrderingTau(name, float(tau), ci, float(p)))
    return out


def _key_of(choices: dict[str, str], canonical: dict[int, dict[int, int]] | None = None) -> ArchKey:
    from core.scale.exhaustive import arch_key
    from core.space import parse_joint

    return arch_key({int(b): parse_joint(c) for b, c in choices.items()}, canonical)


def ground_truths(results: Sequence[RunResult]) -> list[GroundTruth]:
    """One ground truth per exhaustive sweep among ``results`` (space runs of one scope and recipe),
    each with the searched runs of its scope placed on it."""
    import json

    groups: dict[tuple[str, str], list[RunResult]] = {}
    for r in results:
        if r.kind == "space" and r.top1 is not None:
            groups.setdefault((r.scope, json.dumps(r.recipe, sort_keys=True)), []).append(r)
    out = []
    for (scope, _), runs in sorted(groups.items()):
        truth = build(scope, [ArchRun(_key_of(r.choices), r.seed, r.top1 or 0.0, r.val_top1, r.path) for r in runs])
        if len(truth.archs) < 2:
            continue
        searched = [r for r in results if r.kind == "search" and r.scope == scope and r.choices]
        placements = [place(truth, r.path.name, _searched_key(r), r.path) for r in searched]
        out.append(GroundTruth(truth.scope, truth.archs, truth.split, truth.runs, placements))
    return out


def _searched_key(result: RunResult) -> ArchKey:
    """A searched run's architecture keyed as the ground truth keys it (void kernels merged)."""
    from core.run.rundir import RunDir
    from core.scale.exhaustive import canonical_kernels

    return _key_of(result.choices, canonical_kernels(RunDir(result.path).config()))
