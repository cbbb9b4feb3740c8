"""How much a space matters: the one-way random-effects split of top-1 into architecture and seed.

Model: run j of architecture i scores ``y_ij = mu + a_i + e_ij`` with ``a_i ~ N(0, sigma_b^2)``
(the architectures of the space) and ``e_ij ~ N(0, sigma_w^2)`` (retrain seeds of one
architecture).  If sigma_b is small against sigma_w, no search can show a gain over random in a
Table I of a few seeds: the space is flat at this noise.

Estimators: the standard ANOVA (method-of-moments) ones, for balanced or unbalanced designs
(Searle, Casella & McCulloch 1992, *Variance Components*, ch. 3; n0 is their effective group size):
``sigma_w^2 = MSW``, ``sigma_b^2 = max(0, (MSB - MSW) / n0)``, ICC = ``(MSB - MSW) / (MSB + (n0 - 1) MSW)``
(Shrout & Fleiss 1979, ICC(1)).  Intervals, 95 %:

- sigma_w: exact, chi-square: ``(N - k) MSW / chi2_{0.975, 0.025}(N - k)``;
- ICC: exact for balanced designs, from the F distribution (Searle 1971; Donner 1986):
  with ``F = MSB / MSW``, ``F_L = F / F_{0.975}(k - 1, N - k)``, ``F_U = F * F_{0.975}(N - k, k - 1)``,
  ICC in ``[(F_L - 1) / (F_L + n0 - 1), (F_U - 1) / (F_U + n0 - 1)]``, clipped to [0, 1];
- sigma_b: the Williams (1962) interval (Burdick & Graybill 1992, *Confidence Intervals on
  Variance Components*, sec. 4.2): ``SSB (1 - F_{0.975}/F) / (n0 chi2_{0.975}(k - 1))`` to
  ``SSB (1 - F_{0.025}/F) / (n0 chi2_{0.025}(k - 1))``, F quantiles of F(k - 1, N - k); its
  coverage is at least 90 % and close to 95 % in practice; a negative end is 0.

Quantiles from scipy.stats (f, chi2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

METHOD = "random-effects ANOVA; CIs: ICC from F, within SD chi2, between SD Williams"


@dataclass(frozen=True)
class VarianceSplit:
    """Top-1 (as fractions) split into between-architecture and within-architecture (seed) spread."""

    archs: int  #: architectures with at least one run
    runs: int
    n0: float  #: effective runs per architecture (= the repeats, when balanced)
    mean: float
    between_sd: float
    between_sd_ci95: tuple[float, float]
    within_sd: float
    within_sd_ci95: tuple[float, float]
    icc: float  #: the share of the variance between architectures
    icc_ci95: tuple[float, float]
    f_stat: float
    p_value: float  #: of "the architectures differ at all" (F test)
    method: str = METHOD

    def sentence(self) -> str:
        """The split in plain words (points: percentage points of top-1)."""
        flat = "" if self.icc_ci95[0] > 0.1 else " (the space may be flat at this noise)"
        return (
            f"architectures in this space differ by about {100 * self.between_sd:.1f} points; "
            f"seeds of one architecture by {100 * self.within_sd:.1f}{flat}"
        )


def variance_split(groups: Sequence[Sequence[float]]) -> VarianceSplit | None:
    """The split of per-architecture groups of top-1s; None without two architectures and a
    repeated one (no within spread is then known)."""
    from scipy.stats import chi2, f  # type: ignore[import-untyped]

    groups = [list(g) for g in groups if len(g) > 0]
    k, n = len(groups), sum(len(g) for g in groups)
    if k < 2 or n - k < 1:
        return None
    grand = sum(sum(g) for g in groups) / n
    means = [sum(g) / len(g) for g in groups]
    ssb = sum(len(g) * (m - grand) ** 2 for g, m in zip(groups, means))
    ssw = sum((x - m) ** 2 for g, m in zip(groups, means) for x in g)
    dfb, dfw = k - 1, n - k
    msb, msw = ssb / dfb, ssw / dfw
    n0 = (n - sum(len(g) ** 2 for g in groups) / n) / dfb
    if msw <= 0:
        return None
    fs = msb / msw
    icc = (msb - msw) / (msb + (n0 - 1) * msw)
    f_hi, f_lo = f.ppf(0.975, dfb, dfw), f.ppf(0.025, dfb, dfw)
    fl, fu = fs / f_hi, fs * f.ppf(0.975, dfw, dfb)
    icc_ci = (max(0.0, (fl - 1) / (fl + n0 - 1)), min(1.0, (fu - 1) / (fu + n0 - 1)))
    w_ci = (math.sqrt(ssw / chi2.ppf(0.975, dfw)), math.sqrt(ssw / chi2.ppf(0.025, dfw)))
    b_lo = ssb * (1 - f_hi / fs) / (n0 * chi2.ppf(0.975, dfb)) if fs > 0 else 0.0
    b_hi = ssb * (1 - f_lo / fs) / (n0 * chi2.ppf(0.025, dfb)) if fs > 0 else 0.0
    return VarianceSplit(
        archs=k,
        runs=n,
        n0=n0,
        mean=grand,
        between_sd=math.sqrt(max(0.0, (msb - msw) / n0)),
        between_sd_ci95=(math.sqrt(max(0.0, b_lo)), math.sqrt(max(0.0, b_hi))),
        within_sd=math.sqrt(msw),
        within_sd_ci95=w_ci,
        icc=max(0.0, icc),
        icc_ci95=icc_ci,
        f_stat=fs,
        p_value=float(f.sf(fs, dfb, dfw)),
    )
