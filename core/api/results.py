"""Results of finished runs: Table I (``presnet compare``, the sweep figure)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.scale import stats
from core.scale.table import TableRow, collect, table_rows


@dataclass
class Comparison:
    """Table I over the given runs and sweeps, and how its intervals were computed."""

    rows: list[TableRow]
    ri_method: str = stats.RI_METHOD
    permutation_seed: int = stats.BOOTSTRAP_SEED

    def as_dicts(self) -> list[dict[str, Any]]:
        """The rows as JSON-ready dicts (intervals as ``[lo, hi]`` lists)."""
        out = []
        for row in self.rows:
            d = dataclasses.asdict(row)
            for key in ("top1_ci95", "ri_ci95"):
                d[key] = list(d[key]) if d[key] is not None else None
            out.append(d)
        return out


def compare(runs: Sequence[Path]) -> Comparison:
    """Table I of run directories and sweep directories (a sweep stands for its finished runs)."""
    return Comparison(table_rows(collect(runs)))
