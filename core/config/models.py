"""One pydantic model tree for every setting.

Unknown keys are errors (``extra="forbid"``) so that a typo in a config is caught
in the first second, not after ten hours of searching.  Defaults are the paper's
CIFAR-10 settings; :func:`core.config.load.quickstart` is the embedded default the CLI
runs with no arguments (a small ResNet-50 on scikit-learn's digits, a few minutes on a CPU).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from core.config.base import Strict as _Strict
from core.config.base import vocabulary as _vocabulary
from core.config.search import CostConfig as CostConfig
from core.config.search import CurvatureConfig as CurvatureConfig
from core.config.search import PerturbationConfig as PerturbationConfig
from core.config.search import SearchConfig as SearchConfig
from core.config.search import StopRule as StopRule
from core.config.search import check_stop_at as check_stop_at
from core.config.search import no_search_problem as no_search_problem
from core.errors import PresnetError
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
        "auto",
        description="channels_last memory format (auto: the faster, timed once per machine and workload, then kept)",
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
