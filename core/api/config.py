"""Configs as front ends build them: a file (or the quickstart) plus the settings given beside it.

The CLI's options, its ``--set KEY=VALUE`` items and the setup screen's fields are one
:class:`ConfigOverrides` of the settings declared in :mod:`core.config.settings`; it becomes
``section.key`` paths for the one merge of :mod:`core.config.overrides`, validated by the same
pydantic model as a file.  :func:`resolve_config` is the one way a front end reads a config.
"""

from __future__ import annotations

from pathlib import Path

from core.config import Config, ConfigOverrides, apply_overrides, load_config
from core.errors import PresnetError
from core.train.datadir import check_data_dir

__all__ = ["ConfigOverrides", "check_data", "override_config", "resolve_config"]


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
    if overrides is not None and overrides.get("data_dir") is not None and dataset in ("digits", "synthetic"):
        raise PresnetError(
            f"the {dataset} dataset reads no data folder, so --data-dir would be ignored",
            where="--data-dir",
            hint="add --dataset imagefolder (train/<class>/, test/<class>/) or --dataset cifar10, or drop --data-dir",
        )
    check_data_dir(config.data)
