"""One pydantic model tree for every setting.

Unknown keys are errors (``extra="forbid"``) so that a typo in a config is caught
in the first second, not after ten hours of searching.  Defaults are the paper's
CIFAR-10 settings; :func:`core.config.load.quickstart` is the embedded default the CLI
runs with no arguments (a small ResNet-50 on scikit-learn's digits, a few minutes on a CPU).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.errors import PresnetError, as_field_error
from core.space import (
    ACTIVATIONS,
    KERNELS,
    PAPER_ACTIVATIONS,
    PAPER_KERNELS,
    PROGRESSIVE,
    PROGRESSIVE_DEFAULT,
    RESNET50_DEPTHS,
    CandidateMode,
    Scope,
    SearchSpace,
    Stem,
    scope_block_ids,
    validate_activations,
    validate_block_ids,
    validate_depths,
    validate_kernels,
    validate_progressive,
    validate_scope,
)
from core.space.geometry import BlockGeometry, prunable, space_geometry

# The run's vocabulary beside the space's (core.space): each list once, read with typing.get_args.
Dataset = Literal["cifar10", "cifar100", "imagefolder", "digits", "synthetic"]
Amp = Literal["auto", "bf16", "fp16", "off"]
ChannelsLast = Literal["auto", "on", "off"]
Compile = Literal["auto", "on", "off"]
#: the device kinds (``cuda:N`` names one GPU of the cuda kind)
DEVICE_KINDS: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _vocabulary(rule: Callable[[Any], object], value: object) -> object:
    """Apply one of core.space's rules to a list or comma-separated text; anything else is left to
    pydantic's type check (so ``kernels: 3`` reads "Input should be a valid list")."""
    if not isinstance(value, str | list | tuple):
        return value
    with as_field_error():
        out = rule(value)
    return list(out) if isinstance(out, tuple) else out


class SpaceConfig(_Strict):
    scope: str | list[int] = Field("s", description="search scope: s, m, l, f, or a list of block ids (1 = deepest)")
    kernels: list[int] = Field(list(PAPER_KERNELS), description=f"candidate kernel sizes, from {list(KERNELS)}")
    activations: list[str] = Field(
        list(PAPER_ACTIVATIONS), description=f"candidate activations, from {list(ACTIVATIONS)}"
    )
    candidates: CandidateMode = Field(
        "factorized",
        description="factorized: kernel and activation are two decisions per block; "
        "joint: one decision `op` over every <k>x<k>/<activation> pair",
    )
    void_kernels: Literal["warn", "prune", "error"] = Field(
        "warn",
        description="a kernel choice that is void at the input size (the map is too small to tell the kernels "
        "apart): warn, prune (keep the smallest kernel of each equivalent group there), or error",
    )

    @field_validator("scope", mode="before")
    @classmethod
    def _scope(cls, v: Any) -> object:
        return _vocabulary(validate_scope, v)

    @field_validator("kernels", mode="before")
    @classmethod
    def _kernels(cls, v: Any) -> object:
        return _vocabulary(validate_kernels, v)

    @field_validator("activations", mode="before")
    @classmethod
    def _activations(cls, v: Any) -> object:
        return _vocabulary(validate_activations, v)


class NetworkConfig(_Strict):
    stem: Stem = Field(
        "imagenet",
        description="imagenet: torchvision's 7x7/2 + max-pool (the paper's 23.53M); cifar: 3x3/1 conv, no max-pool",
    )
    width_mult: float = Field(1.0, gt=0, le=4, description="channel width multiplier (1.0 = ResNet-50)")
    depths: list[int] = Field(list(RESNET50_DEPTHS), description="bottlenecks per stage ([3, 4, 6, 3] = ResNet-50)")
    sync_bn: bool = Field(
        False,
        description="distributed runs: BatchNorm statistics over the global batch (SyncBatchNorm, CUDA only); "
        "default: per-process statistics",
    )

    @field_validator("depths", mode="before")
    @classmethod
    def _depths(cls, v: Any) -> object:
        return _vocabulary(validate_depths, v)


class DataConfig(_Strict):
    dataset: Dataset = Field(
        "cifar10",
        description="cifar10/cifar100 (torchvision), imagefolder (train/ and test/ class folders), "
        "digits (bundled), synthetic",
    )
    data_dir: Path = Field(Path("data"), description="where the dataset lives (relative to the config file)")
    download: bool = Field(False, description="let torchvision download CIFAR if it is missing (needs network)")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="share of the training data held out to train the alphas")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="digits/synthetic only: share carved out as the test set")
    image_size: int = Field(32, ge=8, le=512, description="side of the network's input images")
    augment: Literal["crop_resize", "pad_crop", "none"] = Field(
        "crop_resize", description="crop_resize: random crop + resize (the paper); pad_crop: pad 4 + random crop"
    )
    crop_scale_min: float = Field(
        0.35, gt=0, le=1, description="smallest crop area for crop_resize, as a share of the image"
    )
    flip: bool = Field(True, description="random horizontal flip with p = 0.5")
    batch_size: int = Field(
        64,
        ge=2,
        le=8192,
        description="batch size for both the training and the validation split, per process "
        "(distributed runs: global batch = batch_size x world size)",
    )
    pipeline: Literal["auto", "device", "stream"] = Field(
        "auto", description="device: decode once, augment on the device; stream: DataLoader (imagefolder only)"
    )
    workers: int = Field(2, ge=0, le=64, description="DataLoader workers for the stream pipeline")
    limit_train: int | None = Field(
        None, ge=10, description="use only this many training images (stratified), for quick trials"
    )
    synthetic_size: int = Field(512, ge=20, description="synthetic: number of images")
    synthetic_classes: int = Field(10, ge=2, description="synthetic: number of classes")


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


class RetrainConfig(_Strict):
    epochs: int = Field(100, ge=1, description="retraining epochs from scratch")
    lr: float = Field(0.05, gt=0, description="SGD learning rate")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum")
    nesterov: bool = Field(True, description="Nesterov momentum")
    weight_decay: float = Field(4e-5, ge=0, description="weight decay")
    val_fraction: float = Field(
        0.1,
        gt=0,
        lt=1,
        description="share of train + val held out (seeded, stratified) to validate each epoch; "
        "the test set is measured once, at the end",
    )
    bn_recalib_batches: int = Field(
        20,
        ge=0,
        description="fixed unaugmented training batches BatchNorm's running statistics are recomputed on "
        "(torch.optim.swa_utils.update_bn) before each evaluation; 0: off",
    )


class RunConfig(_Strict):
    device: str = Field("auto", description="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps")
    seed: int = Field(0, ge=0, description="seed for the split, the data order and the sampled paths")
    out: Path | None = Field(None, description="run directory (default: runs_dir/<timestamp>-<scope>)")
    runs_dir: Path = Field(Path("runs"), description="parent of default run directories")
    amp: Amp = Field(
        "auto",
        description="mixed precision (auto on CUDA: fp32 or bf16, fp16 where bf16 is unsupported, the faster "
        "measured; off elsewhere)",
    )
    channels_last: ChannelsLast = Field(
        "auto", description="channels_last memory format (auto: the faster of the two, timed at the start of each loop)"
    )
    compile: Compile = Field(
        "auto",
        description="torch.compile of the retrain's training step (auto: only when the run is long enough "
        "to repay the compile, measured; a failure runs eager)",
    )
    cudnn_benchmark: bool = Field(True, description="let cuDNN pick the fastest kernels")
    threads: int | None = Field(None, ge=1, description="CPU threads for torch (default: torch's choice)")
    tensorboard: bool = Field(False, description="also write TensorBoard event files into the run directory")

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        v = v.strip().lower()
        base = v.split(":")[0]
        if base not in ("auto", "cpu", "cuda", "mps") or (":" in v and not v.split(":")[1].isdigit()):
            raise ValueError(f"unknown device {v!r}; use auto, cpu, cuda, cuda:N or mps")
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


class Config(_Strict):
    space: SpaceConfig = Field(default_factory=SpaceConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    retrain: RetrainConfig = Field(default_factory=RetrainConfig)
    run: RunConfig = Field(default_factory=RunConfig)

    @model_validator(mode="after")
    def _cross(self) -> Config:
        if isinstance(self.space.scope, list):
            try:
                validate_block_ids(self.space.scope, self.network.depths)
            except PresnetError as err:
                raise ValueError(f"space.scope: {err.detail()}") from None
        if self.search.stop_at_epoch is not None and self.search.stop_at_epoch > self.search.epochs:
            raise ValueError("search.stop_at_epoch: is after search.epochs; raise epochs or lower stop_at_epoch")
        self._check_progressive()
        problem = no_search_problem(self.search)
        if problem is not None:
            raise ValueError(problem)
        return self

    def _check_progressive(self) -> None:
        """A progressive search's settings agree with each other and with the network, or are refused here."""
        s = self.search
        if s.progressive is None and self.space.scope == PROGRESSIVE:
            s.progressive = list(PROGRESSIVE_DEFAULT)
        if s.progressive is None:  # stage settings are left to a progressive run (one sweep config serves both)
            return
        if "scope" in self.space.model_fields_set and self.space.scope != PROGRESSIVE:
            raise ValueError(
                f"space.scope: {self.space.scope} conflicts with search.progressive; "
                "set scope: progressive (or leave scope out)"
            )
        self.space.scope = PROGRESSIVE
        try:
            validate_progressive(s.progressive, self.network.depths)
        except PresnetError as err:
            raise ValueError(f"search.progressive: {err.message}; {err.hint}") from None
        if isinstance(s.stage_epochs, list) and len(s.stage_epochs) != len(s.progressive):
            raise ValueError(
                f"search.stage_epochs: lists {len(s.stage_epochs)} budgets for {len(s.progressive)} stages; "
                "give one number or one per stage"
            )
        if s.cost is not None:
            raise ValueError("search.cost: a cost-aware progressive search is not supported; drop one of them")
        if self.network.sync_bn:
            raise ValueError("network.sync_bn: not supported with search.progressive; drop one of them")

    def progressive_stages(self) -> list[list[int]] | None:
        """The block ids of each stage of a progressive search (None for a direct search)."""
        if self.search.progressive is None:
            return None
        stages: list[Scope] = list(self.search.progressive)
        return [scope_block_ids(scope, self.network.depths) for scope in stages]

    def stage_budget(self, stage: int) -> int | None:
        """Epoch budget of stage ``stage`` (1-based), or None when it has none."""
        b = self.search.stage_epochs
        return b[stage - 1] if isinstance(b, list) else b

    def search_space(self) -> SearchSpace:
        """The space searched; a progressive search's is its last (widest) stage's."""
        stages = self.progressive_stages()
        space = SearchSpace.build(
            stages[-1] if stages else self.space.scope,
            self.space.kernels,
            self.space.activations,
            self.network.depths,
            joint=self.space.candidates == "joint",
        )
        if self.space.void_kernels != "prune":
            return space
        return dataclasses.replace(space, pruned=prunable(space, self.data.image_size, self.network.stem))

    def geometry(self) -> list[BlockGeometry]:
        """The search blocks' geometry (its scope, kernels, stem and data.image_size)."""
        return space_geometry(self.search_space(), self.data.image_size, self.network.stem)
