"""How much a search decided, for every front end: the settled count of a run, the refusal of an
architecture no search decided, and why a run has no alpha history to plot.

The numbers themselves are computed once, when a search ends (:mod:`core.train.convergence`), and
kept in ``summary.json`` (``search.decisions``, ``search.settled``, ``search.decisions_total``) and in
the architecture file's ``source``; this module only reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.errors import PresnetError
from core.run.summary import RunSummary
from core.space.arch import Architecture
from core.train.convergence import Confidence, no_alphas_reason

__all__ = ["Confidence", "Settled", "check_searched", "no_alphas_reason", "settled_of", "summary_settled"]


@dataclass(frozen=True)
class Settled:
    """``settled`` of ``total`` decisions; ``searched`` False: the search took no architecture step."""

    settled: int
    total: int
    searched: bool = True

    def __str__(self) -> str:
        return f"{self.settled}/{self.total}" if self.searched else "unsearched"


def settled_of(record: Mapping[str, object] | None) -> Settled | None:
    """The settled count in a ``summary.json``'s ``search`` section or an architecture's ``source``;
    None where it was not recorded (a baseline, a hand-written file, a run older than the count)."""
    total, settled = (record or {}).get("decisions_total"), (record or {}).get("settled", 0)
    if record is None or not isinstance(total, int) or not isinstance(settled, int):
        return None
    return Settled(settled, total, bool(record.get("searched", True)))


def summary_settled(summary: RunSummary) -> Settled | None:
    """A run's settled count from its ``summary.json`` (what ``compare``'s ``settled`` column shows)."""
    return settled_of(summary.search.model_dump(mode="json") if summary.search else None)


def check_searched(arch: Architecture, allow_unsearched: bool, where: str) -> None:
    """Refuse an architecture whose search ended before its first architecture step: every choice in it
    is the tie-break on uniform alphas (the plain network), not a result of the search."""
    count = settled_of(arch.source)
    if count is None or count.searched or allow_unsearched:
        return
    raise PresnetError(
        "no architecture step had been taken (the search was still in its warm-up): every choice is the "
        "tie-break on uniform alphas, i.e. the plain network, not a searched one",
        where=where,
        hint="derive from an epoch after the warm-up, resume or rerun the search past it, "
        "or pass --allow-unsearched to use it anyway",
    )
