"""What the screens show, folded from the event stream (no widgets here).

Keeping this a plain object makes the UI a pure view: the same model is fed by a
local runner's events or by a followed ``events.jsonl`` (attach), and tests can
feed it fixed events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.run.events import (
    Alphas,
    AnyEvent,
    ArchitectureDerived,
    Converged,
    EpochEnd,
    Error,
    Progress,
    RetrainDone,
    RetrainEpochEnd,
    RetrainStarted,
    SearchStarted,
    SearchStopped,
    SpaceWarning,
    StageEnd,
    StageStart,
    State,
    StopReason,
    Unstable,
)
from core.space import JOINT_DECISION, block_choice, marginals
from core.space.arch import decision_argmax
from presnet_tui.trajectory import Trajectory, cut_back, event_point

if TYPE_CHECKING:  # the service layer (and torch) load when a derive asks for them
    from core.api.derive import SearchSnapshots


def fmt_eta(seconds: float | None) -> str:
    """``mm:ss`` or ``h:mm:ss``; ``--:--`` while unknown."""
    if seconds is None:
        return "--:--"
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


@dataclass
class Curves:
    """Per-epoch scalar series, for the loss/top-1 plots."""

    epochs: list[float] = field(default_factory=list)
    values: dict[str, list[float | None]] = field(default_factory=dict)

    def add(self, epoch: int, **values: float | None) -> None:
        cut_back(self.epochs, epoch, self.values.values())  # a resume re-emits: keep the last write
        self.epochs.append(float(epoch))
        for k, v in values.items():
            self.values.setdefault(k, []).append(v)


@dataclass
class RunModel:
    block_ids: list[int] = field(default_factory=list)
    stages: dict[str, int] = field(default_factory=dict)
    candidates: dict[str, list[str]] = field(default_factory=dict)
    epochs: int = 0
    device: str = ""
    phase: str = "starting"
    epoch: int = 0
    step: int = 0
    steps_per_epoch: int = 0
    images_per_s: float = 0.0
    eta_s: float | None = None
    paused: bool = False
    search_done: bool = False
    stop_reason: StopReason | None = None
    arch_epoch: int | None = None  #: the epoch the stopped search's architecture comes from (a rollback's)
    epochs_done: int = 0
    converged_at: int | None = None
    unstable: dict[tuple[int, str], int] = field(default_factory=dict)
    alphas: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    #: the last epoch's per-decision change (total variation), block -> decision -> tv
    change: dict[str, dict[str, float]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    trajectory: Trajectory = field(default_factory=Trajectory)
    search_curves: Curves = field(default_factory=Curves)
    retrain_curves: Curves = field(default_factory=Curves)
    architecture: dict[str, Any] | None = None
    arch_params: int | None = None
    baseline_params: int | None = None
    retrain_epochs: int = 0
    retrain_done: RetrainDone | None = None
    errors: list[str] = field(default_factory=list)
    #: every ended search epoch's alphas (what derive picks from), and what derive needs besides
    epoch_ends: dict[int, EpochEnd] = field(default_factory=dict)
    arch_steps: dict[int, int] = field(default_factory=dict)  #: epoch -> architecture steps taken by then
    search_config: dict[str, Any] = field(default_factory=dict)
    num_classes: int | None = None
    #: block -> decision -> settled, as the search's stop criterion last reported it (epoch_end)
    settled: dict[str, dict[str, bool]] = field(default_factory=dict)
    expected_cost: tuple[float, str] | None = None  #: cost-aware search: E[c] at the last epoch end, and its metric
    batch_size: int = 0
    live_progress: bool = False  # progress events arrive (a local run), or not (an attached one)
    #: progressive search: "stage 2/4", and the decisions frozen so far (block -> decision -> choice)
    stage: str = ""
    frozen: dict[str, dict[str, str]] = field(default_factory=dict)
    stage_ends: list[StageEnd] = field(default_factory=list)  #: what derive needs to place frozen choices
    _epoch_clock: tuple[int, float] | None = None  # (epoch, elapsed_s) of the last epoch end
    _verdicts: tuple[int, Any] | None = None  # (epochs folded in, RuleVerdicts): replayed once per epoch

    def apply(self, e: AnyEvent) -> None:  # noqa: C901, PLR0912 -- one case per event type (match by type)
        """Fold one event into the model."""
        point = event_point(e)
        if point is not None:
            self.trajectory.add(*point)
            self.alphas = point[1]
        match e:
            case SearchStarted():
                self._search_started(e)
            case Progress():
                self._progress(e)
            case EpochEnd():
                self._epoch_end(e)
            case Alphas():
                self.arch_steps[e.epoch] = max(self.arch_steps.get(e.epoch, 0), e.arch_step)
            case State():
                self.paused = e.state == "paused"
            case Converged():
                self.converged_at = e.epoch
            case Unstable():
                self.unstable[(e.block, e.decision)] = e.epoch
            case StageStart():
                self.stage, self.block_ids = f"stage {e.stage}/{e.stages}", list(e.blocks)
            case StageEnd():
                self.stage_ends.append(e)
                for block, decisions in e.frozen.items():
                    self.frozen.setdefault(block, {}).update(decisions)
            case SpaceWarning():
                self.warnings.append(e.message)
            case SearchStopped():
                self.search_done, self.stop_reason, self.epochs_done = True, e.reason, e.epoch
                self.arch_epoch = e.architecture_epoch
            case ArchitectureDerived():
                self.architecture, self.arch_params = e.architecture, e.params
            case RetrainStarted():
                self._retrain_started(e)
            case RetrainEpochEnd():
                self._retrain_epoch_end(e)
            case RetrainDone():
                self.retrain_done = e
            case Error():
                self.errors.append(e.message)

    def _search_started(self, e: SearchStarted) -> None:
        self.block_ids, self.stages, self.candidates = e.block_ids, e.stages, e.candidates
        self.epochs, self.device = e.epochs, e.device
        self.steps_per_epoch = e.steps_per_epoch
        self.batch_size = e.config.get("data", {}).get("batch_size", 0)
        self.search_config, self.num_classes = e.config, e.num_classes
        if e.resumed:  # the epochs the resume redoes are written again
            self.epoch_ends = {k: v for k, v in self.epoch_ends.items() if k < e.start_epoch}
            self.stage_ends = [s for s in self.stage_ends if s.epoch < e.start_epoch]
        self.search_done, self.stop_reason = False, None
        self._epoch_clock = None
        if e.progressive:  # blocks appear as their stage starts; frozen ones keep their choice
            self.stage = f"stage {e.progressive['stage']}/{e.progressive['stages']}"
            self.block_ids = list(e.progressive["blocks"])
            self.frozen = {b: dict(d) for b, d in e.progressive["frozen"].items()}

    def _progress(self, e: Progress) -> None:
        self.live_progress = True
        self.phase, self.epoch, self.step = e.phase, e.epoch, e.step
        self.steps_per_epoch, self.images_per_s, self.eta_s = e.steps_per_epoch, e.images_per_s, e.eta_s
        if e.phase == "retrain":
            self.retrain_epochs = e.epochs

    def _epoch_end(self, e: EpochEnd) -> None:
        self.epochs_done, self.epochs = e.epoch, e.epochs
        self.phase, self.epoch, self.step = e.phase, e.epoch, self.steps_per_epoch
        self.search_curves.add(
            e.epoch, train_loss=e.train_loss, val_loss=e.val_loss, train_top1=e.train_top1, val_top1=e.val_top1
        )
        self.alphas = e.alphas
        self.epoch_ends[e.epoch] = e
        if e.expected_cost is not None:
            self.expected_cost = (e.expected_cost, e.cost_metric or "flops")
        self.change = e.alpha_change
        if e.phase == "search":
            self.settled = e.settled
        self._rate_from_epochs(e.epoch, e.epochs, e.elapsed_s)

    def _retrain_started(self, e: RetrainStarted) -> None:
        self.phase = "retrain"
        self.architecture, self.arch_params = e.architecture, e.params
        self.baseline_params, self.retrain_epochs = e.baseline_params, e.epochs
        self.steps_per_epoch = e.steps_per_epoch
        self._epoch_clock = None

    def _retrain_epoch_end(self, e: RetrainEpochEnd) -> None:
        self.epoch, self.step, self.retrain_epochs = e.epoch, self.steps_per_epoch, e.epochs
        self.retrain_curves.add(
            e.epoch, train_loss=e.train_loss, val_loss=e.val_loss, train_top1=e.train_top1, val_top1=e.val_top1
        )
        self._rate_from_epochs(e.epoch, e.epochs, e.elapsed_s)

    def _rate_from_epochs(self, epoch: int, epochs: int, elapsed_s: float) -> None:
        """Rate and ETA from two epoch ends' elapsed times, for a view with no progress events.

        ``events.jsonl`` leaves progress events out, so an attached TUI would show "0 img/s" forever.
        """
        previous, self._epoch_clock = self._epoch_clock, (epoch, elapsed_s)
        if self.live_progress or previous is None or epoch <= previous[0] or elapsed_s <= previous[1]:
            return
        per_epoch = (elapsed_s - previous[1]) / (epoch - previous[0])
        if self.batch_size and self.steps_per_epoch:
            self.images_per_s = self.steps_per_epoch * self.batch_size / per_epoch
        self.eta_s = per_epoch * max(0, epochs - epoch)

    # -- derived views ---------------------------------------------------------------------
    def snapshots(self, source: str = "") -> SearchSnapshots:
        """What :func:`core.api.derive.derive` needs, from the events already folded in (no file read)."""
        from core.api.derive import SearchSnapshots
        from core.config import validate

        return SearchSnapshots(
            validate(self.search_config),
            self.num_classes,
            dict(self.epoch_ends),
            dict(self.arch_steps),
            source,
            stage_ends=list(self.stage_ends),
        )

    def curvature(self) -> list[tuple[int, float]]:
        """(epoch, dominant Hessian eigenvalue) of each measured search epoch."""
        from core.api.stops import curvature_points

        return curvature_points(self.epoch_ends.values())

    def stop_verdicts(self) -> Any:
        """Where the margin and curvature rules fire in the epochs so far (core.api.stops.RuleVerdicts),
        replayed with the run's own settings; None before the search has started."""
        if not self.search_config:
            return None
        if self._verdicts is None or self._verdicts[0] != len(self.epoch_ends):
            from core.api.stops import rule_verdicts
            from core.config import validate

            self._verdicts = (
                len(self.epoch_ends),
                rule_verdicts(validate(self.search_config), self.epoch_ends.values()),
            )
        return self._verdicts[1]

    @property
    def joint(self) -> bool:
        return JOINT_DECISION in self.candidates

    def block_probs(self, block: str) -> dict[str, dict[str, float]]:
        """A block's distributions; in joint mode the kernel and activation marginals are added."""
        probs = dict(self.alphas.get(block, {}))
        probs |= {d: {choice: 1.0} for d, choice in self.frozen.get(block, {}).items()}  # frozen: certain
        if JOINT_DECISION in probs:
            probs.update(marginals(probs[JOINT_DECISION]))
        return probs

    def argmax(self, block: str, decision: str) -> tuple[str, float]:
        """The derived choice of a decision and its probability. Joint candidates: the kernel or the
        activation of the most probable pair (what derive picks), with that kernel's or activation's
        marginal probability."""
        pairs = self.alphas.get(block, {}).get(JOINT_DECISION)
        if pairs and decision in ("kernel", "activation"):
            k, a = block_choice({JOINT_DECISION: pairs})
            label = str(k) if decision == "kernel" else a
            return label, self.block_probs(block)[decision].get(label, 0.0)
        probs = self.block_probs(block).get(decision, {})
        if not probs:
            return "-", 0.0
        return decision_argmax(probs)

    def status(self, block: int) -> str:
        """A mark per decision (kernel then activation, or the joint op): ✓ settled, ! unstable
        (lost its lead or margin after settling), · moving, = frozen (a progressive search's earlier stage)."""
        marks = ""
        for d in self.candidates or ("kernel", "activation"):
            if d in self.frozen.get(str(block), {}):
                marks += "="
            elif (block, d) in self.unstable:
                marks += "!"
            elif self.settled.get(str(block), {}).get(d, False):
                marks += "✓"
            else:
                marks += "·"
        return marks
