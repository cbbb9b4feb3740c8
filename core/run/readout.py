"""The perturbation readout's record: what each candidate does to the supernet, as ``epoch_end`` carries it.

A typed sub-payload of :class:`core.run.events.EpochEnd` (``perturbation``), written by
:mod:`core.train.perturbation` and read by every front end, ``summary.json``, TensorBoard, compare and
``derive --select perturbation``: the rules that turn the scores into a choice live here, once.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field


class PinnedScore(BaseModel):
    """The supernet's validation top-1 (%) and mean loss with one decision pinned to one candidate."""

    top1: float
    loss: float


class DecisionReadout(BaseModel):
    """One decision of one block: the candidate the alphas' argmax holds, and each candidate's score
    when the decision is pinned to it (the other decisions at their argmax)."""

    argmax: str
    scores: dict[str, PinnedScore]

    @property
    def choice(self) -> str:
        """The candidate with the best pinned accuracy; ties go to the lower loss, then to the argmax
        (a tie on both says nothing against the alphas), then to the candidates' order."""
        order = list(self.scores)
        return min(
            order,
            key=lambda c: (-self.scores[c].top1, self.scores[c].loss, c != self.argmax, order.index(c)),
        )

    @property
    def strength(self) -> float:
        """The choice's pinned accuracy minus the argmax's, in points (0 when they agree)."""
        return round(self.scores[self.choice].top1 - self.scores[self.argmax].top1, 4)

    @property
    def agrees(self) -> bool:
        return self.choice == self.argmax

    def strengths(self) -> dict[str, float]:
        """Every candidate's pinned accuracy minus the argmax's."""
        base = self.scores[self.argmax].top1
        return {c: round(s.top1 - base, 4) for c, s in self.scores.items()}


class PerturbationReadout(BaseModel):
    """One epoch's readout: the subset's size, the supernet at its argmax, and every searched decision."""

    images: int
    top1: float  #: the argmax architecture's accuracy on the subset (every decision at its argmax)
    loss: float
    seconds: float = 0.0
    #: block id -> decision -> its readout
    decisions: dict[str, dict[str, DecisionReadout]] = Field(default_factory=dict)

    def choices(self) -> dict[str, dict[str, str]]:
        """Per block and decision, the perturbation's choice."""
        return {b: {d: r.choice for d, r in ds.items()} for b, ds in self.decisions.items()}

    def disagreements(self) -> list[tuple[str, str, str, str]]:
        """(block, decision, argmax, choice) of every decision where the two selections differ."""
        return [
            (b, d, r.argmax, r.choice)
            for b, ds in sorted(self.decisions.items(), key=lambda kv: int(kv[0]))
            for d, r in ds.items()
            if not r.agrees
        ]

    def as_snapshot(self, alphas: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, dict[str, float]]]:
        """``alphas`` (an alpha snapshot) with every decision the readout holds one-hot on its choice: the
        argmax rule that derives an architecture from a snapshot then takes the perturbation's choices."""
        out = {b: {d: dict(p) for d, p in ds.items()} for b, ds in alphas.items()}
        for b, ds in self.decisions.items():
            for d, r in ds.items():
                if b in out and d in out[b]:
                    out[b][d] = {c: 1.0 if c == r.choice else 0.0 for c in out[b][d]}
        return out

    def disagreement_line(self) -> str:
        """One line: where the perturbation's choice differs from the alphas' argmax, with its strength."""
        agree, total = self.agreement()
        if agree == total:
            return f"the perturbation readout agrees with the alphas' argmax at all {total} decisions"
        parts = [f"{b} {d} {a}->{c} (+{self.decisions[b][d].strength:.3g} pts)" for b, d, a, c in self.disagreements()]
        return f"perturbation and argmax differ at {total - agree} of {total} decisions: " + ", ".join(parts)

    def agreement(self) -> tuple[int, int]:
        """(decisions where the perturbation agrees with the argmax, decisions read)."""
        rows = [r for ds in self.decisions.values() for r in ds.values()]
        return sum(r.agrees for r in rows), len(rows)


def latest_readout(
    readouts: Mapping[int, PerturbationReadout | None], epoch: int | None = None
) -> tuple[int, PerturbationReadout] | None:
    """The latest readout at or before ``epoch`` (None: the latest of all), with its own epoch.

    The probes' time budget may have skipped the epoch itself, so the architecture of an epoch is
    read against the last readout taken by then.  The one finder of it: the live search, ``derive``
    and compare's orderings all ask here."""
    at = [(e, r) for e, r in readouts.items() if r is not None and (epoch is None or e <= epoch)]
    return max(at, key=lambda pair: pair[0]) if at else None
