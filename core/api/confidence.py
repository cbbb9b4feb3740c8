"""How much a search decided, for every front end: the settled count of a run, the refusal of an
architecture no search decided, and why a run has no alpha history to plot.

The numbers themselves are computed once, when a search ends (:mod:`core.train.convergence`), and
kept in ``summary.json`` (``search.decisions``, ``search.settled``, ``search.decisions_total``) and in
the architecture file's ``source``; this module only reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import PresnetError
from core.run.events import AnyEvent, EpochEnd, SearchStopped
from core.space.arch import Architecture


@dataclass(frozen=True)
class Settled:
    """``settled`` of ``total`` decisions; ``searched`` False: the search took no architecture step."""

    settled: int
    total: int
    searched: bool = True

    def __str__(self) -> str:
        return f"{self.settled}/{self.total}" if self.searched else "unsearched"


def settled_of(record: dict[str, Any] | None) -> Settled | None:
    """The settled count in a ``summary.json``'s ``search`` section or an architecture's ``source``;
    None where it was not recorded (a baseline, a hand-written file, a run older than the count)."""
    if not record or "decisions_total" not in record:
        return None
    return Settled(int(record.get("settled", 0)), int(record["decisions_total"]), bool(record.get("searched", True)))


def summary_settled(summary: dict[str, Any]) -> Settled | None:
    """A run's settled count from its ``summary.json`` (what ``compare``'s ``settled`` column shows)."""
    return settled_of(summary.get("search"))


def check_searched(arch: Architecture, allow_unsearched: bool, where: str) -> None:
    """Refuse an architecture whose search ended before its first architecture step: every choice in it
    is the tie-break on uniform alphas (the plain network), not a result of the search."""
    count = settled_of(arch.source)
    if count is None or count.searched or allow_unsearched:
        return
    raise PresnetError(
        "the search ended in its warm-up, before any architecture step: this architecture is the plain "
        "network, not a searched one",
        where=where,
        hint="resume or rerun the search past its warm-up, or pass --allow-unsearched to use it anyway",
    )


def no_alphas_reason(events: list[AnyEvent], warmup_epochs: int) -> tuple[str, str]:
    """(message, hint) for a run with no alpha history: still in its warm-up, ended in it, or not begun."""
    epochs = [e.epoch for e in events if isinstance(e, EpochEnd)]
    ended = any(isinstance(e, SearchStopped) for e in events)
    if ended:
        return (
            f"no architecture steps: the search ended after {max(epochs, default=0)} of its {warmup_epochs} "
            "warm-up epochs, so its alphas never moved",
            "rerun or resume the search past its warm-up",
        )
    if epochs:
        return (
            f"no architecture steps yet: the search is in its warm-up (epoch {max(epochs)} of {warmup_epochs})",
            f"the alphas start moving after epoch {warmup_epochs}",
        )
    return "no alpha history yet", "wait for the first search epoch"
