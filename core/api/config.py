"""Configs as front ends build them: a file (or the quickstart) plus typed overrides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from core.config import Config, load_config


@dataclass(frozen=True)
class ConfigOverrides:
    """Settings given beside a config file (the CLI's options, a form); None leaves the file's value.

    ``scope``, ``kernels`` and ``activations`` are kept as the user wrote them ("s", "1,2,5",
    "3,5"): :mod:`core.config` reads them through :mod:`core.space`'s one rule for each.
    """

    scope: str | None = None
    kernels: str | None = None
    activations: str | None = None
    epochs: int | None = None
    stop_at_epoch: int | None = None
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

    @classmethod
    def pick(cls, values: Mapping[str, object]) -> ConfigOverrides:
        """The overrides among ``values`` (a command's parameters): the keys named like a field."""
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})  # type: ignore[arg-type]

    def dotted(self) -> dict[str, Any]:
        """As ``section.key`` overrides for :func:`core.config.load_config`."""
        dotted: dict[str, Any] = {
            "space.scope": self.scope,
            "space.kernels": self.kernels,
            "space.activations": self.activations,
            "search.epochs": self.epochs,
            "search.stop_at_epoch": self.stop_at_epoch,
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
            dotted |= {"search.progressive": self.progressive, "space.scope": self.scope or "progressive"}
        return dotted


def resolve_config(path: Path | None, overrides: ConfigOverrides | None = None) -> Config:
    """The config file at ``path`` (None: the embedded quickstart) with ``overrides`` applied and validated."""
    return load_config(path, (overrides or ConfigOverrides()).dotted())
