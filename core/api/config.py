"""Configs as front ends build them: a file (or the quickstart) plus typed overrides.

The CLI's options, its ``--set KEY=VALUE`` items and the setup screen's fields are one
:class:`ConfigOverrides`, built with explicit keywords; it becomes ``section.key`` paths for the one
merge of :mod:`core.config.overrides`, validated by the same pydantic model as a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.config import Config, apply_overrides, load_config, parse_set
from core.errors import PresnetError
from core.train.datadir import check_data_dir


@dataclass(frozen=True)
class ConfigOverrides:
    """Settings given beside a config file (the CLI's options, a form); None leaves the file's value.

    ``scope``, ``kernels`` and ``activations`` are kept as the user wrote them ("s", "1,2,5",
    "3,5"): :mod:`core.config` reads them through :mod:`core.space`'s one rule for each.
    ``sets`` are ``KEY=VALUE`` items (``--set search.arch_lr=0.01``), applied after the named fields.
    """

    scope: str | None = None
    kernels: str | None = None
    activations: str | None = None
    epochs: int | None = None
    warmup_epochs: int | None = None
    stop_at_epoch: int | None = None
    arch_lr: float | None = None
    estimator: str | None = None
    patience: int | None = None
    dataset: str | None = None
    data_dir: Path | None = None
    download: bool | None = None
    device: str | None = None
    seed: int | None = None
    out: Path | None = None
    retrain_epochs: int | None = None
    image_size: int | None = None
    candidates: str | None = None
    progressive: str | None = None  #: "s,m,f" (block lists split by ";"): a progressive search's stages
    sets: tuple[str, ...] = ()

    def dotted(self) -> dict[str, object]:
        """As ``section.key`` overrides for :func:`core.config.load_config` (a field left None is absent;
        a ``--set`` key is checked here, so a typo is refused before anything loads)."""
        named: dict[str, object] = {
            "space.scope": self.scope,
            "space.kernels": self.kernels,
            "space.activations": self.activations,
            "search.epochs": self.epochs,
            "search.warmup_epochs": self.warmup_epochs,
            "search.stop_at_epoch": self.stop_at_epoch,
            "search.arch_lr": self.arch_lr,
            "search.estimator": self.estimator,
            "search.patience": self.patience,
            "data.dataset": self.dataset,
            "data.data_dir": str(self.data_dir.resolve()) if self.data_dir else None,
            "data.download": self.download,
            "run.device": self.device,
            "run.seed": self.seed,
            "run.out": str(self.out.resolve()) if self.out else None,
            "retrain.epochs": self.retrain_epochs,
            "data.image_size": self.image_size,
            "space.candidates": self.candidates,
        }
        if self.progressive is not None:  # the scope is the stages' (a conflicting --scope is refused)
            named |= {"search.progressive": self.progressive, "space.scope": self.scope or "progressive"}
        dotted = {key: value for key, value in named.items() if value is not None}
        return dotted | dict(parse_set(item) for item in self.sets)


def resolve_config(path: Path | None, overrides: ConfigOverrides | None = None) -> Config:
    """The config file at ``path`` (None: the embedded quickstart) with ``overrides`` applied and validated."""
    return load_config(path, (overrides or ConfigOverrides()).dotted())


def override_config(config: Config, overrides: ConfigOverrides) -> Config:
    """``config`` (already loaded: the setup screen's) with ``overrides`` applied and validated afresh."""
    return apply_overrides(config, overrides.dotted())


def check_data(config: Config, overrides: ConfigOverrides | None = None) -> None:
    """The data a new run will read is where the config says (before torch loads and before a run
    directory is made: one line in under a second), and a ``--data-dir`` its dataset would ignore is
    refused rather than silently training on the bundled digits."""
    dataset = config.data.dataset
    if overrides is not None and overrides.data_dir is not None and dataset in ("digits", "synthetic"):
        raise PresnetError(
            f"the {dataset} dataset reads no data folder, so --data-dir would be ignored",
            where="--data-dir",
            hint="add --dataset imagefolder (train/<class>/, test/<class>/) or --dataset cifar10, or drop --data-dir",
        )
    check_data_dir(config.data)
