"""Where each stop rule fires in a search's recorded epochs, for the front ends and the experiment.

The rules are replayed over ``epoch_end`` events (:mod:`core.train.stop_rules`): a run that went
on (``stop_rule: none``) still says where the margin rule would have converged and where the
curvature rule would have detected its rise and rolled back to.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.config import Config
from core.run.events import EpochEnd
from core.train.stop_rules import CurvatureStop, RuleVerdicts, curvature_history, replay_rules

__all__ = ["CurvatureStop", "RuleVerdicts", "curvature_points", "rule_verdicts"]


def rule_verdicts(config: Config, epochs: Iterable[EpochEnd]) -> RuleVerdicts:
    """Both rules over ``epochs`` (any order), with the config's margin and curvature settings."""
    s = config.search
    ordered = sorted(epochs, key=lambda e: e.epoch)
    return replay_rules(ordered, s.patience, s.margin, s.threshold, s.curvature)


def curvature_points(epochs: Iterable[EpochEnd]) -> list[tuple[int, float]]:
    """(epoch, eigenvalue) of each measured search epoch, by epoch."""
    return curvature_history(sorted(epochs, key=lambda e: e.epoch))
