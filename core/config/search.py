"""The ``search`` section: the ProxylessNAS search's settings, its stop rules, probes and cost term,
and the rules that read them (the per-stage warm-up, a search that would take no architecture step).
Re-exported by :mod:`core.config.models` and :mod:`core.config`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from core.config.base import Strict as _Strict
from core.config.base import vocabulary as _vocabulary
from core.errors import PresnetError
from core.space import validate_progressive


class CostConfig(_Strict):
    """Cost-aware search (beyond the paper): the architecture loss gains a term in the expected cost."""

    metric: Literal["flops", "params", "latency"] = Field("flops", description="what to pay for")
    target: float = Field(
        ..., gt=0, description="reference cost: FLOPs, params, or microseconds (latency) of one image"
    )
    weight: float | None = Field(
        None, gt=0, description="add: lambda (default 0.2); mul_log: exponent beta (default 0.6)"
    )
    form: Literal["add", "mul_log"] = Field(
        "add", description="add: CE + W*(E-target)/target; mul_log: CE*(log E/log target)^W (ProxylessNAS)"
    )
    table: Path | None = Field(None, description="latency: the `presnet latency` table (JSON) to read costs from")

    @model_validator(mode="after")
    def _table(self) -> CostConfig:
        if self.metric == "latency" and self.table is None:
            raise ValueError("latency needs a table file (table: FILE); measure one with `presnet latency -o FILE`")
        if self.form == "mul_log" and self.target <= 1:
            raise ValueError("mul_log needs a target above 1 (its log must be positive)")
        return self


class CurvatureConfig(_Strict):
    """The largest (algebraic) eigenvalue of the relaxed validation loss's Hessian w.r.t. the alphas, once
    an epoch, and the curvature stop rule's parameters (Zela et al. 2020, "Understanding and Robustifying DARTS")."""

    enabled: bool = Field(True, description="measure the curvature after each search epoch (core.train.curvature)")
    every: int = Field(1, ge=1, description="measure every N search epochs (the rule counts evaluations)")
    images: int = Field(64, ge=2, description="validation images of the fixed, seeded subset it is measured on")
    steps: int = Field(20, ge=1, description="Lanczos steps (Hessian-vector products); exact when >= the alphas")
    window: int = Field(5, ge=1, description="stop rule: moving average over this many evaluations (R-DARTS: 5)")
    factor: float = Field(1.3, gt=1, description="stop rule: stop when the average grew by more than this (1.3)")
    delta: int = Field(4, ge=1, description="stop rule: ...over this many evaluations; roll back as far (4)")
    start: int = Field(
        10, ge=1, description="stop rule: only once the rollback is at least this many search epochs past the warm-up"
    )


class PerturbationConfig(_Strict):
    """The perturbation readout (core.train.perturbation): each decision pinned to each candidate, the
    supernet's validation accuracy on a fixed, seeded subset (Wang et al. 2021, DARTS-PT's criterion)."""

    enabled: bool = Field(True, description="measure the readout after search epochs (within search.probe_budget)")
    every: int = Field(1, ge=1, description="at most every N search epochs")
    images: int = Field(64, ge=2, description="validation images of the fixed, seeded subset it is measured on")


StopRule = Literal["margin", "curvature", "none"]


class SearchConfig(_Strict):
    epochs: int = Field(150, ge=1, description="planned search epochs (the cosine schedule spans them)")
    warmup_epochs: int = Field(10, ge=0, description="epochs of weight steps only, paths sampled uniformly")
    lr: float = Field(0.05, gt=0, description="weights: SGD learning rate")
    momentum: float = Field(0.9, ge=0, lt=1, description="weights: SGD momentum")
    nesterov: bool = Field(True, description="weights: Nesterov momentum")
    weight_decay: float = Field(4e-5, ge=0, description="weights: weight decay")
    arch_lr: float = Field(1e-3, gt=0, description="alphas: Adam learning rate")
    arch_betas: tuple[float, float] = Field((0.0, 0.999), description="alphas: Adam betas")
    arch_weight_decay: float = Field(0.0, ge=0, description="alphas: weight decay")
    arch_every: int = Field(1, ge=1, description="one architecture step every N weight steps")
    estimator: Literal["two_path", "all_paths"] = Field(
        "two_path",
        description="the alphas' gradient estimator, both ProxylessNAS binary-gate estimators with one sampled "
        "active path: two_path (the paper's) maps the gate gradients of two sampled paths to their alphas; "
        "all_paths (ProxylessNAS's 'full' estimator) runs every candidate for the gate gradients, an estimate "
        "that still depends on the active path, whose expectation is close to the DARTS-relaxation gradient, "
        "not an exact gradient of the expected loss",
    )
    alphas_every: int = Field(10, ge=1, description="emit an alphas event every N architecture steps")
    stop_at_epoch: int | None = Field(None, ge=1, description="stop after this epoch (keeps the schedule of `epochs`)")
    patience: int = Field(10, ge=1, description="stop criterion: epochs a decision's argmax must hold to be settled")
    margin: float = Field(
        0.1,
        ge=0,
        le=1,
        description="stop criterion: least probability gap between a settled argmax and the runner-up",
    )
    threshold: float | None = Field(
        None, gt=0, le=1, description="deprecated (kept so old configs load): also require this argmax probability"
    )
    auto_stop: bool = Field(False, description="stop the search when every decision is settled")
    stop_rule: StopRule | None = Field(
        None,
        description="what ends the search early: margin (every decision settled: auto_stop), curvature "
        "(R-DARTS: the Hessian's eigenvalue rose; derives at the rollback epoch) or none (default: from auto_stop)",
    )
    curvature: CurvatureConfig = Field(default_factory=CurvatureConfig)
    perturbation: PerturbationConfig = Field(default_factory=PerturbationConfig)
    probe_budget: float = Field(
        0.05,
        gt=0,
        le=1,
        description="the probes (curvature, perturbation) together take at most this share of the search's time; "
        "a probe that would exceed it runs less often (1: no limit)",
    )
    select: Literal["alpha", "perturbation"] = Field(
        "alpha",
        description="how the architecture takes each decision: alpha (the argmax) or perturbation (the candidate "
        "whose pinning gives the supernet the best validation accuracy; needs search.perturbation.enabled)",
    )
    cost: CostConfig | None = Field(
        None, description="cost-aware search (off by default): metric, target, weight, form"
    )
    progressive: list[str | list[int]] | None = Field(
        None,
        description="progressive search: nested scopes searched deep to shallow, e.g. [s, m, l, f] "
        "(space.scope: progressive alone means s, m, l, f); each stage ends when its decisions are settled "
        "or its stage_epochs are spent, settled decisions freeze, the next stage adds its blocks",
    )
    stage_epochs: int | list[int] | None = Field(
        None, description="progressive: epoch budget of each stage (one number, or one per stage); default: none"
    )
    stage_warmup_epochs: int | None = Field(
        None, ge=0, description="progressive: warm-up epochs of each later stage (default: warmup_epochs)"
    )
    freeze_unsettled: bool = Field(
        False, description="progressive: at a stage's end also freeze unsettled decisions (by argmax)"
    )

    @model_validator(mode="after")
    def _stop_rule(self) -> SearchConfig:
        if self.stop_rule is not None and self.auto_stop and self.stop_rule != "margin":
            raise ValueError(f"search.auto_stop: true means stop_rule: margin, not {self.stop_rule}; drop auto_stop")
        if self.select == "perturbation" and not self.perturbation.enabled:
            raise ValueError("search.select: perturbation needs search.perturbation.enabled: true")
        if self.stop_rule == "curvature" and not self.curvature.enabled:
            raise ValueError("search.stop_rule: curvature needs search.curvature.enabled: true")
        if self.stop_rule in ("curvature", "margin") and self.progressive is not None:
            raise ValueError(
                f"search.stop_rule: {self.stop_rule} does not apply to a progressive search (its stages end it); "
                "drop stop_rule"
            )
        return self

    @property
    def rule(self) -> StopRule:
        """The stop rule in force: ``stop_rule``, or what ``auto_stop`` meant before it existed."""
        return self.stop_rule or ("margin" if self.auto_stop else "none")

    def stage_warmup(self, stage: int = 1) -> int:
        """Warm-up epochs of 1-based ``stage`` (a direct search is stage 1): the first stage has
        ``warmup_epochs``, each later stage of a progressive search ``stage_warmup_epochs`` when set.
        The one place of this rule: the loop, the budget checks and the planner all ask here."""
        return self.warmup_epochs if stage == 1 or self.stage_warmup_epochs is None else self.stage_warmup_epochs

    def in_warmup(self, epoch: int, stage_start: int = 1, stage: int = 1) -> bool:
        """Whether 1-based ``epoch`` trains weights only: it lies in the warm-up of the stage that
        started at ``stage_start`` (epochs ``stage_start`` .. ``stage_start + warm-up - 1``)."""
        return epoch < stage_start + self.stage_warmup(stage)

    @field_validator("progressive", mode="before")
    @classmethod
    def _progressive(cls, v: Any) -> object:
        return None if v is None else _vocabulary(validate_progressive, v)

    @field_validator("stage_epochs")
    @classmethod
    def _stage_epochs(cls, v: int | list[int] | None) -> int | list[int] | None:
        if v is not None and min([v] if isinstance(v, int) else v or [0]) < 1:
            raise ValueError("every stage needs at least 1 epoch")
        return v


def no_search_problem(search: SearchConfig) -> str | None:
    """Why this search would end without one architecture step, or None.

    The warm-up trains weights only; a search that ends inside it derives the tie-break on
    uniform alphas -- the plain network, labelled as searched.  Refused when the config is read,
    so the mistake costs seconds, not the warm-up's hours.
    """
    w = search.warmup_epochs
    if w >= search.epochs:
        return (
            f"search.warmup_epochs: {w} warm-up epochs leave no architecture step in {search.epochs} search epochs; "
            f"raise search.epochs (--epochs) above {w} "
            f"or lower search.warmup_epochs (--warmup-epochs) below {search.epochs}"
        )
    if search.stop_at_epoch is not None and search.in_warmup(search.stop_at_epoch):
        return (
            f"search.stop_at_epoch: a stop after epoch {search.stop_at_epoch} falls inside the {w} warm-up epochs "
            f"(no architecture step); stop after epoch {w + 1} or later, "
            "or lower search.warmup_epochs (--warmup-epochs)"
        )
    return None


def check_stop_at(search: SearchConfig, epoch: int, where: str = "--at-epoch", ended: int = 0) -> None:
    """A stop request (``presnet stop --at-epoch``, the TUI's ``e``: ``where`` names it) at an epoch inside
    the warm-up, or at one that has already ended (``ended``: the epochs done), is refused."""
    if epoch <= ended:
        raise PresnetError(
            f"epoch {epoch} has already ended (epochs done: {ended})",
            where=where,
            hint=f"stop after epoch {ended + 1} or later, or stop now",
        )
    if search.in_warmup(epoch):
        raise PresnetError(
            f"epoch {epoch} is inside the {search.warmup_epochs} warm-up epochs: the search would end "
            "before its first architecture step",
            where=where,
            hint=f"stop after epoch {search.warmup_epochs + 1} or later (or stop now, leaving the run unsearched)",
        )
