"""A stop criterion the paper asks for, built so that it can fail: when have the alphas settled?

A decision is *settled* once its argmax has held for ``patience`` epochs **and** leads
the runner-up by at least ``margin`` (a probability gap: meaningful for any number of
candidates, unlike a floor on the leader's probability, which a 2-way decision always
clears at 0.5).  When every decision is settled the search has *converged*.  A settled
decision that loses its lead (the argmax flips) or its margin is *unstable* -- the
erratic phase the paper saw after long searches.

The paper's "erratic" signal itself is :func:`total_variation` between consecutive
epochs' distributions of a decision: near 0 when it is still, large when it wanders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from core.run.events import AlphaSnapshot, AnyEvent, EpochEnd, SearchStopped, StageEnd
from core.run.summary import ConfidenceDict, DecisionRecord
from core.space import DECISIONS, JOINT_DECISION, argmax_label
from core.space.arch import Architecture


def total_variation(before: dict[str, float], after: dict[str, float]) -> float:
    """Half the L1 distance between two distributions over the same candidates (0..1)."""
    keys = set(before) | set(after)
    return 0.5 * sum(abs(after.get(k, 0.0) - before.get(k, 0.0)) for k in keys)


def snapshot_change(before: AlphaSnapshot | None, after: AlphaSnapshot) -> dict[str, dict[str, float]]:
    """Per block and decision, the total variation since ``before`` (empty when there is no before)."""
    if not before:
        return {}
    return {
        block: {d: round(total_variation(before.get(block, {}).get(d, {}), p), 6) for d, p in decisions.items()}
        for block, decisions in after.items()
    }


def lead(probs: dict[str, float]) -> tuple[str, float]:
    """The argmax under the one derive rule (:func:`core.space.argmax_label`) and its gap to the runner-up."""
    best = argmax_label(probs)
    return best, probs[best] - max((p for c, p in probs.items() if c != best), default=0.0)


class TrackerState(TypedDict):
    """A :class:`ConvergenceTracker` in a checkpoint: each track as [block, decision, argmax, since, settled]."""

    converged: bool
    tracks: list[tuple[int, str, str, int, bool]]


@dataclass
class DecisionTrack:
    argmax: str = ""
    since: int = 0
    settled: bool = False


@dataclass
class Verdict:
    converged_now: bool = False
    #: (block, decision, was, now, reason) with reason "flip" (argmax changed) or "margin" (lead shrank)
    unstable: list[tuple[int, str, str, str, str]] = field(default_factory=list)


class ConvergenceTracker:
    def __init__(self, patience: int, margin: float, threshold: float | None = None) -> None:
        self.patience = patience
        self.margin = margin
        self.threshold = threshold  # deprecated floor on the leader's probability, kept for old configs
        self.tracks: dict[tuple[int, str], DecisionTrack] = {}
        self.converged = False

    def update(self, epoch: int, alphas: AlphaSnapshot) -> Verdict:
        verdict = Verdict()
        for block, decisions in alphas.items():
            for decision, probs in decisions.items():
                if len(probs) < 2:  # a single (or pruned-to-one) candidate is no decision
                    continue
                best, gap = lead(probs)
                track = self.tracks.setdefault((int(block), decision), DecisionTrack(best, epoch))
                if best != track.argmax:
                    if track.settled:
                        verdict.unstable.append((int(block), decision, track.argmax, best, "flip"))
                    track.argmax, track.since, track.settled = best, epoch, False
                held = epoch - track.since + 1
                clear = gap >= self.margin and (self.threshold is None or probs[best] >= self.threshold)
                if track.settled and not clear:
                    verdict.unstable.append((int(block), decision, best, best, "margin"))
                track.settled = held >= self.patience and clear
        all_settled = bool(self.tracks) and all(t.settled for t in self.tracks.values())
        verdict.converged_now = all_settled and not self.converged
        self.converged = all_settled
        return verdict

    def settled(self, block: int, decision: str) -> bool:
        t = self.tracks.get((block, decision))
        return bool(t and t.settled)

    def settled_map(self) -> dict[str, dict[str, bool]]:
        """Block -> decision -> settled, for the ``epoch_end`` event: front ends read it from there
        instead of re-running this criterion with defaults of their own."""
        out: dict[str, dict[str, bool]] = {}
        for (block, decision), track in self.tracks.items():
            out.setdefault(str(block), {})[decision] = track.settled
        return out

    def state_dict(self) -> TrackerState:
        return {
            "converged": self.converged,
            "tracks": [(b, d, t.argmax, t.since, t.settled) for (b, d), t in self.tracks.items()],
        }

    def load_state_dict(self, state: TrackerState) -> None:
        self.converged = bool(state["converged"])
        self.tracks = {(int(b), d): DecisionTrack(a, int(s), bool(st)) for b, d, a, s, st in state["tracks"]}


@dataclass(frozen=True)
class Decision:
    """One decision of a derived architecture with its confidence: the chosen candidate, its
    probability, its lead over the runner-up, and whether the stop criterion calls it settled."""

    block: int
    decision: str
    choice: str
    p: float
    margin: float
    settled: bool

    def as_dict(self) -> DecisionRecord:
        return {
            "block": self.block,
            "decision": self.decision,
            "choice": self.choice,
            "p": round(self.p, 4),
            "margin": round(self.margin, 4),
            "settled": self.settled,
        }


@dataclass(frozen=True)
class Confidence:
    """How much of a derived architecture the search decided.  ``arch_steps == 0``: the search
    ended inside the warm-up, so every choice is the tie-break on uniform alphas (the plain network)."""

    decisions: list[Decision]
    arch_steps: int

    @property
    def settled(self) -> int:
        return sum(d.settled for d in self.decisions)

    @property
    def total(self) -> int:
        return len(self.decisions)

    @property
    def searched(self) -> bool:
        return self.arch_steps > 0

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Confidence:
        """Back from :meth:`as_dict` (a summary's ``search`` section, an architecture's ``source``)."""
        return cls([Decision(**d) for d in record.get("decisions", [])], int(record.get("arch_steps", 0)))

    def unsettled(self) -> list[Decision]:
        return [d for d in self.decisions if not d.settled]

    def as_dict(self) -> ConfidenceDict:
        """The ``search`` part of ``summary.json`` (and of the architecture file's ``source``)."""
        return {
            "searched": self.searched,
            "arch_steps": self.arch_steps,
            "settled": self.settled,
            "decisions_total": self.total,
            "decisions": [d.as_dict() for d in self.decisions],
        }

    def line(self) -> str:
        """One line for a log: ``5 of 8 decisions settled; unsettled: 11 kernel (margin 0.02), ...``."""
        if not self.searched:
            return "no architecture step: the search ended in its warm-up; the architecture is the plain network"
        head = f"{self.settled} of {self.total} decisions settled"
        rest = self.unsettled()
        if not rest:
            return head
        return head + "; unsettled: " + ", ".join(f"{d.block} {d.decision} (margin {d.margin:.2f})" for d in rest)


def confidence(
    snapshot: AlphaSnapshot, tracker: ConvergenceTracker, arch_steps: int, frozen: Sequence[Decision] = ()
) -> Confidence:
    """Each real decision of ``snapshot`` (two or more candidates) with its lead, settled as the
    ``tracker`` last judged it -- and only if the snapshot's argmax is still the one it judged.

    ``frozen``: a progressive search's decisions frozen at earlier stage ends (their alphas have left
    the snapshot), as judged when they froze (:func:`frozen_decisions`): every decision ever searched counts."""
    out = list(frozen)
    for block in sorted(snapshot, key=int):
        for decision, probs in snapshot[block].items():
            if len(probs) < 2:
                continue
            best, gap = lead(probs)
            track = tracker.tracks.get((int(block), decision))
            settled = bool(arch_steps and track and track.settled and track.argmax == best)
            out.append(Decision(int(block), decision, best, probs[best], gap, settled))
    out.sort(key=lambda d: (d.block, _DECISION_ORDER.get(d.decision, len(_DECISION_ORDER))))
    return Confidence(out, arch_steps)


#: One order for a block's decisions, whichever dict they came from (a live snapshot, a stage end's
#: frozen record, the events read back): the summary and a derive's replay list them alike.
_DECISION_ORDER = {name: i for i, name in enumerate((*DECISIONS, JOINT_DECISION))}


def frozen_decisions(
    frozen: dict[str, dict[str, str]], snapshot: AlphaSnapshot, tracker: ConvergenceTracker
) -> list[Decision]:
    """The decisions a stage end freezes (``StageEnd.frozen``), each with its lead in the stage's last
    snapshot and settled as the tracker judged it then -- before the next stage resets it."""
    out = []
    for block, decisions in frozen.items():
        for decision, choice in decisions.items():
            probs = snapshot.get(block, {}).get(decision, {choice: 1.0})
            gap = probs.get(choice, 0.0) - max((p for c, p in probs.items() if c != choice), default=0.0)
            out.append(
                Decision(
                    int(block), decision, choice, probs.get(choice, 0.0), gap, tracker.settled(int(block), decision)
                )
            )
    return out


#: The stage ends after which the live search resets its stop criterion (core.train.progressive): a
#: stage cut by the total cap ("cap") ends the search with nothing frozen and no next stage to judge.
RESETTING_STAGE_ENDS = ("settled", "budget")


@dataclass
class Replay:
    """The stop criterion replayed over a run's epochs: its state after the last one and the decisions
    frozen before it (a progressive search's earlier stage ends)."""

    tracker: ConvergenceTracker
    frozen: list[Decision]


def replay(
    history: Sequence[EpochEnd],
    patience: int,
    margin: float,
    threshold: float | None = None,
    stage_ends: Sequence[StageEnd] = (),
) -> Replay:
    """The stop criterion's state after ``history`` (a run's search epochs), judged afresh: what a
    derive at a past epoch reports, from the event file alone.

    A progressive search's stage end resets it exactly where the live search does (after the stage's
    last epoch was judged, :data:`RESETTING_STAGE_ENDS`); a stage end at the last epoch of ``history``
    is not applied yet, as the live ``epoch_end`` of that epoch was emitted before it."""
    tracker = ConvergenceTracker(patience, margin, threshold)
    ends = {e.epoch: e for e in stage_ends if e.reason in RESETTING_STAGE_ENDS}
    frozen: list[Decision] = []
    last = history[-1].epoch if history else None
    for e in history:
        if e.phase == "search":
            tracker.update(e.epoch, e.alphas)
        end = ends.get(e.epoch)
        if end is not None and e.epoch != last:
            frozen += frozen_decisions(end.frozen, e.alphas, tracker)
            tracker.load_state_dict({"converged": False, "tracks": []})
    return Replay(tracker, frozen)


def with_confidence(arch: Architecture, conf: Confidence) -> Architecture:
    """The architecture file carries its confidence in ``source`` (a free-form record of where it came
    from), so a file passed around alone still says which of its choices the search settled."""
    source = {**(arch.source or {}), **conf.as_dict()}
    return arch.model_copy(update={"source": source})


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
