"""The stage controller of a progressive search: deep blocks first, freeze what has settled, widen.

The paper saw a small scope's alphas settle much sooner than a large one's, and deep blocks
decide differently from shallow ones.  So a progressive search (``search.progressive``)
searches its first scope's blocks; a stage ends when every open decision is settled (the
stop criterion, :mod:`core.train.convergence`) or its epoch budget (``search.stage_epochs``)
is spent.  Then every settled decision is frozen to its argmax (unsettled ones too with
``search.freeze_unsettled``), and the next stage turns its new blocks into search blocks on
the same trained weights, with a warm-up of its own (``search.stage_warmup_epochs``).  The
search ends after the last stage, at the total cap (``search.epochs``) or on a stop.

The search loop (:mod:`core.train.search_loop`) calls it at a few points only: which blocks
the network starts with, whether an epoch is a warm-up, what happens at an epoch's end (and
whether the search stops), the architecture (frozen choices included) and the checkpoint.  Each
stage restarts the stop criterion (a stage's settling is judged on its own epochs) and the
alphas' Adam moments (Adam keeps one step count per tensor: rows joining mid-way would get a
bias correction meant for a long-running tensor, i.e. a first step about 30 times too large).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import torch

from core.config import Config
from core.run.events import AlphaSnapshot, StageEnd, StageStart, StopReason
from core.run.payloads import ProgressiveWhere
from core.run.summary import StageRecord
from core.space.network import SearchNet
from core.space.progressive import Frozen, add_search_blocks, freeze_decisions, replay
from core.train.checkpoints import StageSection
from core.train.convergence import ConvergenceTracker, Decision, frozen_decisions, lead


class StageController:
    """Where a progressive search stands: its stage, what is frozen, and how the network got there."""

    def __init__(self, config: Config) -> None:
        stages = config.progressive_stages()
        if stages is None:
            raise ValueError("not a progressive search")
        self.config = config
        self.scopes = list(config.search.progressive or [])
        self.stages = stages
        self.stage = 1
        self.stage_start = 1  #: first epoch of the current stage
        self.frozen: Frozen = {}
        self.steps: list[tuple[str, Any]] = []  #: ("freeze", Frozen) / ("add", [ids]) in order, for a resume
        self.done: StopReason | None = None  #: set when the last stage has ended
        #: one record per ended stage: stage, first and last epoch, why it ended, its blocks
        self.history: list[StageRecord] = []
        #: every frozen decision as judged when it froze: the final confidence counts them (their
        #: alphas have left the network), as a derive's replay does (core.train.convergence.replay)
        self.frozen_confidence: list[Decision] = []

    # -- what the loop asks ------------------------------------------------------------------
    def initial_blocks(self) -> list[int]:
        return list(self.stages[0])

    def warmup_epochs(self, stage: int | None = None) -> int:
        return self.config.search.stage_warmup(stage or self.stage)

    def is_warmup(self, epoch: int) -> bool:
        return self.config.search.in_warmup(epoch, self.stage_start, self.stage)

    def where(self) -> ProgressiveWhere:
        """Where the search stands, for a front end that joins mid-way (``search_started``)."""
        return ProgressiveWhere(
            stage=self.stage,
            stages=len(self.stages),
            blocks=list(self.stages[self.stage - 1]),
            frozen={str(b): d for b, d in self.frozen.items()},
        )

    def start_event(self) -> StageStart:
        prev = set(self.stages[self.stage - 2]) if self.stage > 1 else set()
        scope = self.scopes[self.stage - 1]
        return StageStart(
            stage=self.stage,
            stages=len(self.stages),
            scope=scope if isinstance(scope, str) else list(scope),
            blocks=list(self.stages[self.stage - 1]),
            new_blocks=sorted(set(self.stages[self.stage - 1]) - prev),
            epoch=self.stage_start,
            warmup_epochs=self.warmup_epochs(),
        )

    def end_epoch(
        self, epoch: int, snapshot: AlphaSnapshot, tracker: ConvergenceTracker, net: SearchNet, last_epoch: bool
    ) -> Iterator[StageEnd | StageStart]:
        """At an epoch's end (after the stop criterion saw it): end the stage if it is over, freeze,
        widen.  Yields the events to emit; changes ``net`` in place (the caller refits its optimizers)."""
        if self.done is not None:
            return
        reason = self._stage_over(epoch, snapshot, tracker)
        if reason is None:
            if last_epoch:  # the total cap: the stage ends unfinished, nothing is frozen
                self._record(epoch, "cap")
                yield StageEnd(stage=self.stage, epoch=epoch, reason="cap", open=_open_blocks(snapshot))
            return
        freeze = self._to_freeze(snapshot, tracker)
        if freeze:
            freeze_decisions(net, freeze)
            self.steps.append(("freeze", freeze))
            for bid, decisions in freeze.items():
                self.frozen.setdefault(bid, {}).update(decisions)
        left = {b: [d for d in ds if d not in freeze.get(int(b), {})] for b, ds in snapshot.items()}
        self.frozen_confidence += frozen_decisions({str(b): d for b, d in freeze.items()}, snapshot, tracker)
        self._record(epoch, reason)
        yield StageEnd(
            stage=self.stage,
            epoch=epoch,
            reason=reason,
            frozen={str(b): d for b, d in freeze.items()},
            open=sorted(int(b) for b, ds in left.items() if ds),
        )
        tracker.load_state_dict({"converged": False, "tracks": []})  # the next stage is judged on its own
        if self.stage == len(self.stages) or last_epoch:
            self.done = StopReason.CONVERGED if reason == "settled" else StopReason.COMPLETED
            return
        self.stage += 1
        self.stage_start = epoch + 1
        new = sorted(set(self.stages[self.stage - 1]) - set(self.stages[self.stage - 2]))
        add_search_blocks(net, new)
        self.steps.append(("add", new))
        yield self.start_event()

    def _record(self, epoch: int, reason: str) -> None:
        self.history.append(
            StageRecord(
                stage=self.stage,
                blocks=list(self.stages[self.stage - 1]),
                first_epoch=self.stage_start,
                last_epoch=epoch,
                reason=reason,
            )
        )

    def _stage_over(
        self, epoch: int, snapshot: AlphaSnapshot, tracker: ConvergenceTracker
    ) -> Literal["settled", "budget"] | None:
        open_decisions = [(int(b), d) for b, ds in snapshot.items() for d, p in ds.items() if len(p) > 1]
        if not self.is_warmup(epoch) and all(tracker.settled(b, d) for b, d in open_decisions):
            return "settled"  # (no open decision left counts as settled)
        budget = self.config.stage_budget(self.stage)
        if budget is not None and epoch - self.stage_start + 1 >= budget:
            return "budget"
        return None

    def _to_freeze(self, snapshot: AlphaSnapshot, tracker: ConvergenceTracker) -> Frozen:
        """Settled decisions by their argmax (the derive rule); unsettled ones too if so configured."""
        out: Frozen = {}
        for b, decisions in snapshot.items():
            for d, probs in decisions.items():
                if tracker.settled(int(b), d) or self.config.search.freeze_unsettled:
                    out.setdefault(int(b), {})[d] = lead(probs)[0]
        return out

    # -- checkpoint ---------------------------------------------------------------------------
    def state_dict(self) -> StageSection:
        return StageSection(
            stage=self.stage,
            stage_start=self.stage_start,
            frozen={str(b): d for b, d in self.frozen.items()},
            steps=[[k, {str(b): d for b, d in a.items()} if k == "freeze" else a] for k, a in self.steps],
            done=self.done.value if self.done else None,
            history=self.history,
            frozen_confidence=[d.as_dict() for d in self.frozen_confidence],
        )

    def load_state_dict(self, state: StageSection, net: SearchNet) -> None:
        """Restore the stage and rebuild ``net``'s structure as it was when the checkpoint was written
        (on a freshly built network, before its weights are loaded)."""
        self.stage = int(state.stage)
        self.stage_start = int(state.stage_start)
        self.frozen = {int(b): dict(d) for b, d in state.frozen.items()}
        self.steps = [(k, {int(b): d for b, d in a.items()} if k == "freeze" else list(a)) for k, a in state.steps]
        self.done = StopReason(state.done) if state.done else None
        self.history = list(state.history)
        self.frozen_confidence = [Decision(**d) for d in state.frozen_confidence]
        replay(net, self.steps)


def _open_blocks(snapshot: AlphaSnapshot) -> list[int]:
    return sorted(int(b) for b, ds in snapshot.items() if ds)


def refit_optimizers(net: SearchNet, w_opt: torch.optim.Optimizer, a_opt: torch.optim.Optimizer) -> None:
    """Hand a changed network's parameters to its optimizers, in the network's own order (a resumed run
    rebuilds the same order): the weights keep their momentum, weights that left the model lose theirs;
    the alphas start a fresh Adam (see the module docstring)."""
    params = net.weight_parameters()
    kept = {id(p) for p in params}
    for p in [p for p in w_opt.state if id(p) not in kept]:
        del w_opt.state[p]
    w_opt.param_groups[0]["params"] = params
    a_opt.state.clear()
    a_opt.param_groups[0]["params"] = net.arch_parameters()
