"""A stop criterion the paper asks for: when have the alphas settled?

A decision is *settled* once its argmax has held for ``patience`` epochs with a
probability of at least ``threshold``.  When every decision is settled the search
has *converged*; a settled decision whose argmax changes again is *unstable* --
the erratic phase the paper saw after long searches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.arch import decision_argmax
from core.events import AlphaSnapshot


@dataclass
class DecisionTrack:
    argmax: str = ""
    since: int = 0
    settled: bool = False


@dataclass
class Verdict:
    converged_now: bool = False
    unstable: list[tuple[int, str, str, str]] = field(default_factory=list)  # (block, decision, was, now)


class ConvergenceTracker:
    def __init__(self, patience: int, threshold: float) -> None:
        self.patience = patience
        self.threshold = threshold
        self.tracks: dict[tuple[int, str], DecisionTrack] = {}
        self.converged = False

    def update(self, epoch: int, alphas: AlphaSnapshot) -> Verdict:
        verdict = Verdict()
        for block, decisions in alphas.items():
            for decision, probs in decisions.items():
                if len(probs) < 2:
                    continue
                best, p = decision_argmax(probs)
                track = self.tracks.setdefault((int(block), decision), DecisionTrack(best, epoch))
                if best != track.argmax:
                    if track.settled:
                        verdict.unstable.append((int(block), decision, track.argmax, best))
                    track.argmax, track.since, track.settled = best, epoch, False
                held = epoch - track.since + 1
                track.settled = held >= self.patience and p >= self.threshold
        all_settled = bool(self.tracks) and all(t.settled for t in self.tracks.values())
        verdict.converged_now = all_settled and not self.converged
        self.converged = all_settled
        return verdict

    def settled(self, block: int, decision: str) -> bool:
        t = self.tracks.get((block, decision))
        return bool(t and t.settled)

    def state_dict(self) -> dict[str, Any]:
        return {
            "converged": self.converged,
            "tracks": [[b, d, t.argmax, t.since, t.settled] for (b, d), t in self.tracks.items()],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.converged = bool(state["converged"])
        self.tracks = {(int(b), d): DecisionTrack(a, int(s), bool(st)) for b, d, a, s, st in state["tracks"]}
