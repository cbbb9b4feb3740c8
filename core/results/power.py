"""The power of a planned Table I, from a pilot's variance split: before the GPU-days are spent.

A Table I of S seeds compares, per seed, one searched architecture with K random ones, and calls
the search better when RI's 95 % interval (:mod:`core.results.stats`: Fieller, paired by seed) lies
above 0.  The paired Fieller interval excludes ratio 1 exactly when the paired t-test of
``d_s = searched_s - mean(random_s)`` rejects at the two-sided 5 % level (the set of ratios is the
t-test's acceptance region, and ratio 1 is the difference 0), so its power is a noncentral t:
``P(T(S - 1, delta) > t_{0.975}(S - 1))`` with ``delta = gain * sqrt(S) / sd_d``.

The model, from the pilot (:class:`core.results.variance.VarianceSplit`): every retrained run scores
``mu + a + e``, its architecture's effect ``a ~ N(0, sd_arch^2)`` and its seed's ``e ~ N(0, sd_seed^2)``;
a searched run adds ``gain`` (its architecture still varies from seed to seed like any other: no
two seeds of a search need derive the same one).  So ``sd_d^2 = (1 + 1/K)(sd_arch^2 + sd_seed^2)``.
A seed effect shared by a seed's searched and random runs cancels in the pairing; the pilot cannot
tell it from the seed noise, so leaving it in makes the figures conservative.

The permutation test (``p`` in the table) pools the seeds and is more conservative still; these
figures are the interval's.  ``simulate`` checks them on the very code that computes the interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

POWER = 0.8
ALPHA = 0.05


@dataclass(frozen=True)
class PowerPlan:
    """For a Table I of ``seeds`` seeds x (1 searched + ``random`` random) runs, at the pilot's noise."""

    seeds: int
    random: int
    sd_arch: float  #: between architectures, top-1 as a fraction
    sd_seed: float  #: between seeds of one architecture
    mean: float  #: the pilot's mean top-1 (RI's denominator)
    min_gain: float  #: the smallest true gain (fraction of top-1) detected with ``power``
    min_ri: float  #: the same as RI, in %
    gain: float | None = None  #: a named gain, and the power to detect it
    gain_power: float | None = None
    power: float = POWER
    alpha: float = ALPHA


def sd_difference(random: int, sd_arch: float, sd_seed: float) -> float:
    """The spread of one seed's searched-minus-random-mean difference."""
    return math.sqrt((1.0 + 1.0 / random) * (sd_arch**2 + sd_seed**2))


def power_at(gain: float, seeds: int, random: int, sd_arch: float, sd_seed: float, alpha: float = ALPHA) -> float:
    """The chance that RI's interval lies above 0 when the search gains ``gain`` (fraction of top-1)."""
    from scipy.stats import nct, t  # type: ignore[import-untyped]

    if seeds < 2 or random < 1:
        return float("nan")
    df = seeds - 1
    sd = sd_difference(random, sd_arch, sd_seed)
    if sd == 0:
        return 1.0 if gain > 0 else alpha / 2
    delta = gain * math.sqrt(seeds) / sd
    return float(nct.sf(t.ppf(1 - alpha / 2, df), df, delta))


def min_gain(seeds: int, random: int, sd_arch: float, sd_seed: float, power: float = POWER) -> float:
    """The smallest gain detected with ``power`` (bisection on :func:`power_at`, monotone in gain)."""
    from scipy.optimize import brentq  # type: ignore[import-untyped]

    sd = sd_difference(random, sd_arch, sd_seed)
    if sd == 0:
        return 0.0
    hi = sd
    while power_at(hi, seeds, random, sd_arch, sd_seed) < power:
        hi *= 2
    return float(brentq(lambda g: power_at(g, seeds, random, sd_arch, sd_seed) - power, 0.0, hi, xtol=1e-7))


def plan_power(
    seeds: int, random: int, sd_arch: float, sd_seed: float, mean: float, gain: float | None = None
) -> PowerPlan:
    """The planned table's smallest detectable gain (and RI), and the power for ``gain`` if named."""
    g = min_gain(seeds, random, sd_arch, sd_seed)
    return PowerPlan(
        seeds=seeds,
        random=random,
        sd_arch=sd_arch,
        sd_seed=sd_seed,
        mean=mean,
        min_gain=g,
        min_ri=100.0 * g / mean if mean else float("nan"),
        gain=gain,
        gain_power=power_at(gain, seeds, random, sd_arch, sd_seed) if gain is not None else None,
    )


def simulate(
    gain: float, seeds: int, random: int, sd_arch: float, sd_seed: float, mean: float, sims: int, seed: int = 0
) -> tuple[float, float]:
    """The share (and its Monte-Carlo standard error) of simulated tables whose RI interval, computed
    by :func:`core.results.stats.ri_ci95_paired` (the table's own code), lies above 0."""
    from core.results.stats import ri_ci95_paired

    rng = np.random.default_rng(seed)
    searched = mean + gain + rng.normal(0, sd_arch, (sims, seeds)) + rng.normal(0, sd_seed, (sims, seeds))
    rand = mean + rng.normal(0, sd_arch, (sims, seeds, random)) + rng.normal(0, sd_seed, (sims, seeds, random))
    lo, _ = ri_ci95_paired(searched, rand.mean(axis=-1))
    share = float(np.mean(np.nan_to_num(lo, nan=-1.0) > 0))
    return share, math.sqrt(share * (1 - share) / sims)
