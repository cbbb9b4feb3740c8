"""The search's stop rules as one part with a state: what ends a search early, and from which epoch its
architecture comes.

The margin rule (:class:`core.train.convergence.ConvergenceTracker`: every decision settled) and the
curvature rule (:func:`core.train.stop_rules.curvature_stop`: the Hessian's eigenvalue rose; the
architecture comes from the rollback epoch, so each search epoch's alphas are kept) judge the epochs as
they end.  The stop they decide is decided at an epoch's end and kept in that epoch's checkpoint: a kill
between the save and the end of the search resumes into the same stop, not into one more epoch.
"""

from __future__ import annotations

from core.config import SearchConfig
from core.run.control import ControlState
from core.run.events import AlphaSnapshot, StopReason
from core.train.checkpoints import StopSection
from core.train.convergence import ConvergenceTracker, Verdict, snapshot_change
from core.train.stop_rules import CurvatureStop, RuleVerdicts, curvature_stop

Curvatures = list[tuple[int, float]]


class StopState:
    """The stop rules' tracker and history, and the stop decided at the last epoch's end."""

    def __init__(self, search: SearchConfig) -> None:
        self.search = search
        self.tracker = ConvergenceTracker(search.patience, search.margin, search.threshold)
        self.prev_alphas: AlphaSnapshot | None = None  #: last epoch's snapshot, for the per-epoch change
        self.stopping: StopReason | None = None  #: decided at an epoch's end, kept in its checkpoint
        self.snapshots: dict[int, AlphaSnapshot] = {}  #: each search epoch's alphas: the rollback derives from one
        self.converged_at: int | None = None  #: the margin rule's first converged epoch

    def observe(
        self, epoch: int, phase: str, snapshot: AlphaSnapshot
    ) -> tuple[dict[str, dict[str, float]], Verdict | None]:
        """An epoch's alphas: their change since the last epoch, and (a search epoch) the margin rule's verdict."""
        change = snapshot_change(self.prev_alphas, snapshot)
        self.prev_alphas = snapshot
        if phase != "search":
            return change, None
        verdict = self.tracker.update(epoch, snapshot)
        self.snapshots[epoch] = snapshot
        if verdict.converged_now and self.converged_at is None:
            self.converged_at = epoch
        return change, verdict

    def curvature_verdict(self, curvatures: Curvatures) -> CurvatureStop | None:
        return curvature_stop(curvatures, self.search.curvature, self.search.warmup_epochs)

    def verdicts(self, curvatures: Curvatures, epoch_done: int) -> RuleVerdicts:
        """What every rule said of the epochs run (whichever was in force)."""
        return RuleVerdicts(self.converged_at, self.curvature_verdict(curvatures), epoch_done)

    def decide(
        self, epoch: int, signals: ControlState, curvatures: Curvatures, stages_done: StopReason | None, staged: bool
    ) -> StopReason | None:
        """The stop at ``epoch``'s end, if any: a user's (a stop request or ``stop_at_epoch``), a progressive
        search's last stage (``staged``: its stages end it), the rule in force, or the planned end."""
        s = self.search
        stop_at = signals.stop_at_epoch or s.stop_at_epoch
        # a stop asked for at the last epoch (or later) changes nothing: the search completes there
        if signals.stop or (stop_at is not None and stop_at <= epoch < s.epochs):
            return StopReason.USER
        if staged:  # a progressive search ends with its last stage (or at the cap)
            return stages_done or (None if epoch < s.epochs else StopReason.COMPLETED)
        if s.rule == "margin" and self.tracker.converged:
            return StopReason.CONVERGED
        if s.rule == "curvature" and self.curvature_verdict(curvatures) is not None:
            return StopReason.CURVATURE
        return None if epoch < s.epochs else StopReason.COMPLETED

    def rollback(self, epoch: int) -> tuple[AlphaSnapshot, ConvergenceTracker]:
        """The curvature rule's architecture: the alphas of ``epoch`` (before the rise), and the margin
        rule's state as it was then (the architecture's confidence is judged by it)."""
        t = self.tracker
        tracker = ConvergenceTracker(t.patience, t.margin, t.threshold)
        for e in sorted(k for k in self.snapshots if k <= epoch):
            tracker.update(e, self.snapshots[e])
        return self.snapshots[epoch], tracker

    def state_dict(self) -> StopSection:
        return StopSection(
            tracker=self.tracker.state_dict(),
            prev_alphas=self.prev_alphas,
            stopping=self.stopping.value if self.stopping else None,
            snapshots=self.snapshots,
            converged_at=self.converged_at,
        )

    def load_state_dict(self, state: StopSection) -> None:
        self.tracker.load_state_dict(state.tracker)
        self.prev_alphas = state.prev_alphas
        self.stopping = StopReason(state.stopping) if state.stopping else None
        self.snapshots = dict(state.snapshots)
        self.converged_at = state.converged_at
