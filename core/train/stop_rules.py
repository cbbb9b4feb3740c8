"""When to end a search, and which epoch's architecture to keep: the three selectable rules.

- ``margin``: every decision settled (:mod:`core.train.convergence`); the architecture is that epoch's.
- ``curvature``: R-DARTS's early stop (Zela et al. 2020, automl/RobustDARTS ``EVLocalAvg``) on the
  largest eigenvalue of the relaxed validation loss's Hessian (:mod:`core.train.curvature`); the architecture
  is the one from *before* the rise.
- ``none``: run to ``search.epochs``; the architecture is the last epoch's.

The curvature rule's arithmetic, on evaluations 1..k (one per measured epoch):

- the moving average at evaluation k is the mean of the last ``window`` values, or of all of them
  while there are fewer, and exists from ``ceil(window / 2)`` values on; it is centred on evaluation
  ``k - floor(window / 2)``;
- it fires at k when the average has grown by more than ``factor`` over ``delta`` averages
  (``avg[k] / avg[k - delta] > factor``, with a positive denominator) and the rollback epoch is at
  least ``start`` search epochs past the warm-up (R-DARTS counts its search epochs so; counting the
  warm-up as well, the paper's 10 warm-up epochs would use up the default ``start`` of 10);
- the rollback is ``delta`` evaluations before the centre: evaluation ``k - floor(window / 2) - delta``.
  With one evaluation an epoch and the defaults (5, 1.3, 4), a rise detected at epoch t rolls back to
  epoch t - 6.

Both rules are pure functions of what ``epoch_end`` events record, so a run that went on (rule
``none``) can be asked afterwards where each rule would have stopped (:func:`replay_rules`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from core.config import CurvatureConfig
from core.run.events import EpochEnd
from core.run.summary import CurvatureVerdict, RulesRecord
from core.train.convergence import ConvergenceTracker


@dataclass(frozen=True)
class CurvatureStop:
    """Where the curvature rule fired: the epoch that saw the rise, and the epoch it rolls back to."""

    detected: int
    rollback: int
    ratio: float

    def as_dict(self) -> CurvatureVerdict:
        return {"detected": self.detected, "rollback": self.rollback, "ratio": round(self.ratio, 4)}


def moving_averages(values: Sequence[float], window: int) -> list[float | None]:
    """R-DARTS's local average after each evaluation (None before ``ceil(window / 2)`` values)."""
    out: list[float | None] = []
    for k in range(1, len(values) + 1):
        if k < math.ceil(window / 2):
            out.append(None)
        else:
            last = values[max(0, k - window) : k]
            out.append(sum(last) / len(last))
    return out


def curvature_stop(
    history: Sequence[tuple[int, float]], rule: CurvatureConfig, warmup: int = 0
) -> CurvatureStop | None:
    """The first evaluation at which the rule fires over ``history`` ((epoch, eigenvalue), in order), or
    None; ``warmup``: the warm-up epochs before the first search epoch (``start`` counts after them)."""
    values = [v for _, v in history]
    averages = moving_averages(values, rule.window)
    for k in range(1, len(values) + 1):
        back = k - 1 - rule.window // 2 - rule.delta  # 0-based index of the rollback evaluation
        now, before = averages[k - 1], averages[k - 1 - rule.delta] if k - 1 - rule.delta >= 0 else None
        if back < 0 or now is None or before is None or before <= 0:
            continue
        if history[back][0] - warmup < rule.start:
            continue
        if now / before > rule.factor:
            return CurvatureStop(history[k - 1][0], history[back][0], now / before)
    return None


def curvature_history(epochs: Sequence[EpochEnd]) -> list[tuple[int, float]]:
    """(epoch, eigenvalue) of every search epoch that measured one, in order."""
    return [(e.epoch, e.curvature) for e in epochs if e.phase == "search" and e.curvature is not None]


@dataclass(frozen=True)
class RuleVerdicts:
    """What each rule says about one run's recorded epochs: the margin rule's converged epoch and the
    curvature rule's detection and rollback (None: it did not fire)."""

    margin: int | None
    curvature: CurvatureStop | None
    last: int

    def epoch_for(self, rule: str) -> int:
        """The epoch whose architecture ``rule`` keeps (the last epoch where it did not fire)."""
        if rule == "margin" and self.margin is not None:
            return self.margin
        if rule == "curvature" and self.curvature is not None:
            return self.curvature.rollback
        return self.last

    def as_dict(self) -> RulesRecord:
        return {
            "margin": {"converged": self.margin},
            "curvature": self.curvature.as_dict() if self.curvature else None,
        }


def margin_converged(epochs: Sequence[EpochEnd], patience: int, margin: float, threshold: float | None) -> int | None:
    """The first epoch after which the margin rule held every decision settled, or None."""
    tracker = ConvergenceTracker(patience, margin, threshold)
    for e in epochs:
        if e.phase == "search" and tracker.update(e.epoch, e.alphas).converged_now:
            return e.epoch
    return None


def replay_rules(
    epochs: Sequence[EpochEnd], patience: int, margin: float, threshold: float | None, rule: CurvatureConfig
) -> RuleVerdicts:
    """Both rules over a run's ``epoch_end`` events (ordered by epoch); the warm-up is the epochs before
    the first search epoch, as the events record them."""
    warmup = min((e.epoch for e in epochs if e.phase == "search"), default=1) - 1
    return RuleVerdicts(
        margin=margin_converged(epochs, patience, margin, threshold),
        curvature=curvature_stop(curvature_history(epochs), rule, warmup),
        last=max((e.epoch for e in epochs), default=0),
    )
