"""The statistics of Table I: a row's mean, spread and 95 % interval, and whether a search beats random.

A sweep gives few runs per cell (3 seeds; K random architectures per seed), and what each figure
claims at such n is checked by simulation (``tests/scale/test_ri_coverage.py``, BENCHMARKS.md):

- a row's 95 % interval is Student's t interval of the mean (``mean ± t(0.975, n-1) · s/√n``):
  wide at n = 2 (t = 12.71), as it should be; none at n = 1 (no spread is known from one run);
- the relative improvement over random, RI = 100 · (mean searched - mean random) / mean random
  (Yang et al., ICLR 2020), gets a Fieller interval: the set of ratios ρ = μ_search / μ_random that
  a t-test of ``search - ρ · random`` does not reject at 5 % (two-sided), RI = 100 (ρ - 1).
  It respects the sweep's design: a searched run and its K random runs share a seed (split, data
  order, initial weights), so when every searched run has random runs of its own seed the test is
  *paired by seed* (per seed, the searched top-1 against the mean of its random ones; n_seeds - 1
  degrees of freedom), which neither counts the K random runs of a seed as K independent ones nor
  lets a seed's shared luck pass for a difference. Runs without that pairing get the Welch form
  (independent groups, Welch-Satterthwaite degrees of freedom).  It assumes the per-seed
  differences (or the two groups) are roughly normal; in 2,000 simulated null comparisons each at
  2 vs 4, 3 vs 3 and 3 vs 9 runs it excluded 0 in at most 6 % of them (nominal 5 %), where the
  percentile bootstrap it replaces did in 17-23 %;
- "better than random?" is a one-sided exact permutation test on the difference of means: of
  all ways to split the pooled top-1s into groups of the two sizes, the share whose searched
  group does at least as well as the observed one.  Exact (every split enumerated up to
  :data:`EXACT_SPLITS_MAX`, then a fixed-seed Monte Carlo), free of the normality the interval
  assumes, and defined for a single searched run.  It pools the runs of all seeds: runs of one
  seed are positively correlated, which makes pooled splits vary more than the searched-random
  difference does, so the test errs on the conservative side.  Its smallest possible p is
  1 / C(n_search + n_random, n_search): 1/15 for 2 vs 4 runs, 1/220 for 3 vs 9.

The interval and the test are different procedures and can disagree near the edge (an interval
just clear of 0 with p a little above 0.025, or the reverse); neither is chosen after seeing the data.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: The Monte Carlo permutation test's seed (fixed: the same runs always give the same p).
BOOTSTRAP_SEED = 0
#: Up to this many splits the permutation test enumerates them all; beyond, it draws this many at random.
EXACT_SPLITS_MAX = 200_000
PERMUTATION_RESAMPLES = 20_000
#: A split ties the observed one within this (float sums of the same numbers in another order).
_TIE = 1e-12
#: The interval's name, as the front ends print it.
RI_METHOD = "Fieller, paired by seed where the seeds match (else Welch)"


def mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def sample_std(values: Sequence[float]) -> float | None:
    """The sample standard deviation (n - 1); None for fewer than two values (no spread is known)."""
    return statistics.stdev(values) if len(values) > 1 else None


def _t975(df: float | np.ndarray) -> float | np.ndarray:
    from scipy.stats import t  # type: ignore[import-untyped]  # scipy: listed in pyproject.toml (and sklearn's)

    quantile: float | np.ndarray = t.ppf(0.975, df)
    return quantile


def mean_ci95(values: Sequence[float], bounds: tuple[float, float] | None = None) -> tuple[float, float] | None:
    """Student's t 95 % interval of the mean; None for fewer than two values.  ``bounds``: the range
    the quantity cannot leave (a top-1 lies in [0, 1]), which the interval is clipped to."""
    if len(values) < 2:
        return None
    m, s, n = statistics.fmean(values), statistics.stdev(values), len(values)
    half = float(_t975(n - 1)) * s / math.sqrt(n)
    lo, hi = m - half, m + half
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return (lo, hi)


def relative_improvement(search: Sequence[float], random: Sequence[float]) -> float | None:
    """RI in percent: how much better the mean searched top-1 is than the mean random one."""
    if not search or not random or statistics.fmean(random) == 0:
        return None
    base = statistics.fmean(random)
    return 100.0 * (statistics.fmean(search) - base) / base


def fieller_roots(
    a: np.ndarray, b: np.ndarray, saa: np.ndarray, sab: np.ndarray, sbb: np.ndarray, q: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The ρ with ``(a - ρ b)² <= q (saa - 2 ρ sab + ρ² sbb)``, vectorised: a bounded interval when the
    denominator's mean ``b`` is itself clear of 0 (``b² > q sbb``), else NaN (no bounded interval)."""
    qa, qb, qc = b * b - q * sbb, a * b - q * sab, a * a - q * saa
    disc = qb * qb - qa * qc
    ok = (qa > 0) & (disc >= 0)
    root = np.sqrt(np.where(ok, disc, 0.0))
    safe = np.where(ok, qa, 1.0)
    lo = np.where(ok, (qb - root) / safe, np.nan)
    hi = np.where(ok, (qb + root) / safe, np.nan)
    return lo, hi


def ri_ci95_paired(search: np.ndarray, random_mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Paired Fieller 95 % interval of RI over seeds, vectorised over the last axis's leading ones:
    ``search[..., i]`` and ``random_mean[..., i]`` are seed i's searched top-1 and mean random top-1."""
    n = search.shape[-1]
    a, b = search.mean(axis=-1), random_mean.mean(axis=-1)
    ds, dr = search - a[..., None], random_mean - b[..., None]
    saa, sbb, sab = (ds * ds).sum(-1) / (n - 1), (dr * dr).sum(-1) / (n - 1), (ds * dr).sum(-1) / (n - 1)
    q = np.full_like(a, float(_t975(n - 1)) ** 2 / n)
    lo, hi = fieller_roots(a, b, saa, sab, sbb, q)
    return 100.0 * (lo - 1.0), 100.0 * (hi - 1.0)


def ri_ci95_welch(search: np.ndarray, random: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Welch-Fieller 95 % interval of RI for independent groups, vectorised over leading axes; the
    Welch-Satterthwaite degrees of freedom are taken at the estimated ratio."""
    ns, nr = search.shape[-1], random.shape[-1]
    a, b = search.mean(axis=-1), random.mean(axis=-1)
    ws, wr = search.var(axis=-1, ddof=1) / ns, random.var(axis=-1, ddof=1) / nr
    rho = a / b
    df = (ws + rho**2 * wr) ** 2 / (ws**2 / (ns - 1) + rho**4 * wr**2 / (nr - 1))
    t2 = np.asarray(_t975(df)) ** 2
    lo, hi = fieller_roots(a, b, t2 * ws, np.zeros_like(a), t2 * wr, np.ones_like(a))
    return 100.0 * (lo - 1.0), 100.0 * (hi - 1.0)


def ri_ci95(
    search: Sequence[float],
    random: Sequence[float],
    search_seeds: Sequence[int] | None = None,
    random_seeds: Sequence[int] | None = None,
) -> tuple[float, float] | None:
    """The 95 % interval of RI (see the module docstring): paired by seed when the seeds are given and
    every searched run's seed has random runs (and at least two seeds), else Welch.

    None when it has no bounded interval: one run in a group (no spread is known), or a random mean
    the runs cannot tell from 0."""
    if not search or not random:
        return None
    pairs = _pairs(search, random, search_seeds, random_seeds)
    if pairs is not None:
        lo, hi = ri_ci95_paired(*pairs)
    elif len(search) >= 2 and len(random) >= 2:
        lo, hi = ri_ci95_welch(np.asarray(search, dtype=float), np.asarray(random, dtype=float))
    else:
        return None
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return None
    return (max(float(lo), -100.0), float(hi))  # a top-1 is never below 0: RI never below -100 %


def _pairs(
    search: Sequence[float],
    random: Sequence[float],
    search_seeds: Sequence[int] | None,
    random_seeds: Sequence[int] | None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per seed (searched top-1, mean random top-1 of that seed), or None when the runs do not pair."""
    if search_seeds is None or random_seeds is None or len(set(search_seeds)) != len(search_seeds):
        return None
    by_seed: dict[int, list[float]] = {}
    for seed, value in zip(random_seeds, random, strict=True):
        by_seed.setdefault(seed, []).append(value)
    if len(search) < 2 or any(seed not in by_seed for seed in search_seeds):
        return None
    s = np.asarray(search, dtype=float)
    r = np.asarray([statistics.fmean(by_seed[seed]) for seed in search_seeds])
    return s, r


@dataclass(frozen=True)
class RIEstimate:
    """RI, its interval and the runs both come from: one set, so the point lies inside its interval.

    Paired by seed, only the random runs of seeds that have a searched run take part (a random run
    of another seed has no partner), in the point estimate as in the interval; ``left_out`` counts
    the random runs so set aside.  ``reason`` says why there is no interval when there is none."""

    point: float | None
    ci95: tuple[float, float] | None
    search: tuple[float, ...]  #: the top-1s compared (the p-value uses the same runs)
    random: tuple[float, ...]
    paired: bool
    left_out: int = 0
    reason: str | None = None


#: Why a RI has no interval, as the table's note says it.
NO_SPREAD = "one run in a group: no spread is known"
UNBOUNDED = "the random runs' mean cannot be told from 0 at their spread, so the ratio has no bounded interval"


def ri_estimate(
    search: Sequence[float],
    random: Sequence[float],
    search_seeds: Sequence[int] | None = None,
    random_seeds: Sequence[int] | None = None,
) -> RIEstimate:
    """RI and its 95 % interval from one set of runs (:class:`RIEstimate`): paired by seed when every
    searched run's seed has random runs (then RI is the ratio of the means the interval is built
    on: the searched mean over the mean of per-seed random means), else all runs, Welch."""
    if not search or not random:
        return RIEstimate(None, None, tuple(search), tuple(random), False)
    pairs = _pairs(search, random, search_seeds, random_seeds)
    if pairs is None:
        point, ci = relative_improvement(search, random), ri_ci95(search, random)
        reason = None if ci is not None else (NO_SPREAD if min(len(search), len(random)) < 2 else UNBOUNDED)
        return RIEstimate(point, ci, tuple(search), tuple(random), False, reason=reason)
    assert search_seeds is not None and random_seeds is not None
    kept = [r for r, seed in zip(random, random_seeds, strict=True) if seed in set(search_seeds)]
    s, r = pairs
    point = None if r.mean() == 0 else 100.0 * (float(s.mean()) / float(r.mean()) - 1.0)
    lo, hi = ri_ci95_paired(s, r)
    ci = (max(float(lo), -100.0), float(hi)) if np.isfinite(lo) and np.isfinite(hi) else None
    left = len(random) - len(kept)
    return RIEstimate(point, ci, tuple(search), tuple(kept), True, left, None if ci is not None else UNBOUNDED)


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
