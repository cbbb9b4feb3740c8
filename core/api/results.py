"""Results of finished runs: Table I (``presnet compare``, the sweep figure)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.results import stats
from core.results.ground_truth import GroundTruth, ground_truths
from core.results.power import PowerPlan, plan_power
from core.results.table import BlockAgreement, DecisionAgreement, TableRow, collect, table_rows

__all__ = [
    "PLANNED_DESIGNS",
    "BlockAgreement",
    "Comparison",
    "DecisionAgreement",
    "GroundTruth",
    "PowerPlan",
    "TableRow",
    "compare",
    "pilot_power",
    "power_from_pilot",
]

#: The Table I designs ``compare`` sizes from a ground truth: (seeds, random architectures per seed).
PLANNED_DESIGNS = ((3, 3), (5, 3), (10, 3))


@dataclass
class Comparison:
    """Table I over the given runs and sweeps, and how its intervals were computed; with an
    exhaustive sweep among them, its ground truth (the searches placed on it) and the power of a
    Table I at its noise."""

    rows: list[TableRow]
    ground_truths: list[GroundTruth] = dataclasses.field(default_factory=list)
    power: list[list[PowerPlan]] = dataclasses.field(default_factory=list)  #: per ground truth, in its order
    ri_method: str = stats.RI_METHOD
    permutation_seed: int = stats.BOOTSTRAP_SEED

    def as_dicts(self) -> list[dict[str, object]]:
        """The rows as JSON-ready dicts (intervals as ``[lo, hi]`` lists)."""
        out = []
        for row in self.rows:
            d = dataclasses.asdict(row)
            for key in ("top1_ci95", "ri_ci95"):
                d[key] = list(d[key]) if d[key] is not None else None
            out.append(d)
        return out


def compare(runs: Sequence[Path], gain: float | None = None) -> Comparison:
    """Table I of run directories and sweep directories (a sweep stands for its finished runs).

    ``gain`` (a fraction of top-1): the power for it is given with each planned design."""
    results = collect(runs)
    truths = ground_truths(results)
    power = [pilot_power(t, gain) for t in truths]
    return Comparison(table_rows(results), truths, power)


def pilot_power(
    truth: GroundTruth, gain: float | None = None, designs: Sequence[tuple[int, int]] = PLANNED_DESIGNS
) -> list[PowerPlan]:
    """The planned Table I designs' power at a pilot's noise (none without a variance split)."""
    split = truth.split
    if split is None:
        return []
    return [plan_power(s, k, split.between_sd, split.within_sd, split.mean, gain) for s, k in designs]


def power_from_pilot(
    pilot: Sequence[Path], designs: Sequence[tuple[int, int]] = PLANNED_DESIGNS, gain: float | None = None
) -> tuple[GroundTruth, list[PowerPlan]]:
    """``presnet plan --power``: the planned designs' power at the noise of a pilot's exhaustive sweep
    (its variance split); refused when the pilot has none."""
    from core.errors import PresnetError

    truths = [t for t in ground_truths(collect(pilot)) if t.split is not None]
    if not truths:
        raise PresnetError(
            "the pilot has no architecture retrained twice: no variance split to plan from",
            where="--power",
            hint="pass an exhaustive sweep with --repeats 2 or more (`presnet sweep --exhaustive`)",
        )
    for seeds, random in designs:
        if seeds < 2 or random < 1:
            raise PresnetError(
                f"a Table I of {seeds} seeds x {random} random architectures has no paired interval",
                where="--seeds/--random",
                hint="plan 2 or more seeds and 1 or more random architectures per seed",
            )
    return truths[0], pilot_power(truths[0], gain, designs)
