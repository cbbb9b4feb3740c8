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

from dataclasses import dataclass, field
from typing import Any

from core.run.events import AlphaSnapshot
from core.space import argmax_label


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

    def state_dict(self) -> dict[str, Any]:
        return {
            "converged": self.converged,
            "tracks": [[b, d, t.argmax, t.since, t.settled] for (b, d), t in self.tracks.items()],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.converged = bool(state["converged"])
        self.tracks = {(int(b), d): DecisionTrack(a, int(s), bool(st)) for b, d, a, s, st in state["tracks"]}
