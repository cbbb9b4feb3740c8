"""The statistics of Table I: a row's mean, spread and 95 % interval, and whether a search beats random.

A sweep gives few runs per cell (3 seeds; K random architectures per seed), so every figure
here is chosen to stay honest at small n:

- a row's 95 % interval is Student's t interval of the mean (``mean ± t(0.975, n-1) · s/√n``):
  wide at n = 2 (t = 12.71), as it should be; none at n = 1 (no spread is known from one run);
- the relative improvement over random, RI = 100 · (mean searched - mean random) / mean random
  (Yang et al., ICLR 2020), gets a percentile bootstrap interval: the searched and the random
  runs are each resampled with replacement, :data:`BOOTSTRAP_RESAMPLES` times, from a fixed
  seed, so the same runs always give the same interval;
- "better than random?" is a one-sided exact permutation test on the difference of means: of
  all ways to split the pooled top-1s into groups of the two sizes, the share whose searched
  group does at least as well as the observed one.  Exact (every split enumerated up to
  :data:`EXACT_SPLITS_MAX`, then a fixed-seed Monte Carlo), free of the normality that Welch's
  t-test would assume and that 3 runs cannot show, and defined for a single searched run.
  Its smallest possible p is 1 / C(n_search + n_random, n_search): 1/15 for 2 vs 4 runs,
  1/220 for Table I's 3 seeds vs 3 x 3 random architectures.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence

import numpy as np

#: Bootstrap resamples of the RI interval, and the seed they are drawn from (fixed: same runs, same interval).
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
#: Up to this many splits the permutation test enumerates them all; beyond, it draws this many at random.
EXACT_SPLITS_MAX = 200_000
PERMUTATION_RESAMPLES = 20_000
#: A split ties the observed one within this (float sums of the same numbers in another order).
_TIE = 1e-12


def mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def sample_std(values: Sequence[float]) -> float | None:
    """The sample standard deviation (n - 1); None for fewer than two values (no spread is known)."""
    return statistics.stdev(values) if len(values) > 1 else None


def mean_ci95(values: Sequence[float]) -> tuple[float, float] | None:
    """Student's t 95 % interval of the mean; None for fewer than two values."""
    if len(values) < 2:
        return None
    from scipy.stats import t  # type: ignore[import-untyped]  # scipy: listed in pyproject.toml (and sklearn's)

    m, s, n = statistics.fmean(values), statistics.stdev(values), len(values)
    half = float(t.ppf(0.975, n - 1)) * s / math.sqrt(n)
    return (m - half, m + half)


def relative_improvement(search: Sequence[float], random: Sequence[float]) -> float | None:
    """RI in percent: how much better the mean searched top-1 is than the mean random one."""
    if not search or not random or statistics.fmean(random) == 0:
        return None
    base = statistics.fmean(random)
    return 100.0 * (statistics.fmean(search) - base) / base


def ri_ci95(
    search: Sequence[float], random: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> tuple[float, float] | None:
    """Percentile bootstrap 95 % interval of RI over runs: both groups resampled with replacement.

    None when neither group has two runs (nothing to resample) or the random mean can be 0."""
    if not search or not random or (len(search) < 2 and len(random) < 2):
        return None
    rng = np.random.default_rng(seed)
    s, r = np.asarray(search, dtype=float), np.asarray(random, dtype=float)
    ms = s[rng.integers(0, len(s), size=(resamples, len(s)))].mean(axis=1)
    mr = r[rng.integers(0, len(r), size=(resamples, len(r)))].mean(axis=1)
    if np.any(mr == 0):
        return None
    lo, hi = np.percentile(100.0 * (ms - mr) / mr, [2.5, 97.5])
    return (float(lo), float(hi))


def permutation_p_value(
    search: Sequence[float], random: Sequence[float], resamples: int = PERMUTATION_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> float | None:
    """One-sided p of "searched beats random": the share of splits of the pooled runs whose
    searched-sized group has a mean at least the observed searched mean (the observed split counts).

    None with fewer than three runs in all (two runs split only two ways)."""
    n_s, pooled = len(search), [*search, *random]
    if not search or not random or len(pooled) < 3:
        return None
    observed = sum(search)
    splits = math.comb(len(pooled), n_s)
    if splits <= EXACT_SPLITS_MAX:
        hits = sum(1 for group in itertools.combinations(pooled, n_s) if sum(group) >= observed - _TIE)
        return hits / splits
    rng = np.random.default_rng(seed)
    values = np.asarray(pooled, dtype=float)
    sums = np.array([values[rng.permutation(len(values))[:n_s]].sum() for _ in range(resamples)])
    return float((1 + np.count_nonzero(sums >= observed - _TIE)) / (1 + resamples))
