"""Where a config comes from: a YAML file or the embedded quickstart, validated into one
:class:`~core.config.models.Config`; every problem a one-line ``field.path: message``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from core.config.models import Config
from core.config.overrides import check_key, merge
from core.errors import PresnetError, did_you_mean
from core.io import read_user_text


def quickstart() -> Config:
    """The embedded default: a real search + retrain on digits in a few CPU minutes.

    Its blocks are stage 2's (ids 10-13): at 32 px with torchvision's stem their middle
    convs see 8x8 and 4x4 maps, where 3x3 and 5x5 differ; stage 4 (scope s) sees 2x2 and
    1x1 maps there, where the kernel choice is void (see :mod:`core.space.geometry`).
    """
    return Config.model_validate(
        {
            "space": {"scope": [10, 11, 12, 13]},
            "network": {"width_mult": 0.25},
            "data": {"dataset": "digits", "val_fraction": 0.25, "batch_size": 64, "augment": "pad_crop", "flip": False},
            "search": {  # departures from the paper's arch_lr and estimator: see sample_configs/quickstart.yaml
                "epochs": 24,
                "warmup_epochs": 6,
                "arch_lr": 0.03,
                "estimator": "all_paths",
                "alphas_every": 2,
                "patience": 3,
                "auto_stop": True,
                "curvature": {"steps": 10},  # the probe at 16-step epochs: see sample_configs/quickstart.yaml
                "probe_budget": 1.0,  # both probes every epoch, drawn: see sample_configs/quickstart.yaml
            },
            "retrain": {"epochs": 40},
            "run": {"threads": 1},  # see sample_configs/quickstart.yaml
        }
    )


def format_validation_error(err: ValidationError, source: str | None = None) -> list[str]:
    """Every problem as ``field.path: message`` (one line each)."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if not loc:  # a cross-field check names its field itself: "section.key: message"
            loc, _, msg = msg.partition(": ") if ": " in msg else ("(config)", "", msg)
        if e["type"] == "extra_forbidden":
            msg = f"unknown key ({_nearest_key(loc)}`presnet config show` lists the valid ones)"
        elif e["type"] == "literal_error" and isinstance(e.get("input"), str):
            near = did_you_mean(e["input"], re.findall(r"'([^']*)'", str(e.get("ctx", {}).get("expected", ""))))
            msg += f" (did you mean {near!r}?)" if near else ""
        prefix = f"{source}: " if source else ""
        lines.append(f"{prefix}{loc}: {msg}")
    return lines


def _nearest_key(dotted: str) -> str:
    """``did you mean 'search'? `` for a mistyped key, or nothing."""
    try:
        check_key(dotted)
    except PresnetError as err:
        hint = err.hint or ""
        return hint[: hint.index("?") + 2] if hint.startswith("did you mean") else ""
    return ""


class ConfigError(PresnetError):
    """Invalid configuration; ``problems`` holds one ``field.path: message`` line each."""

    def __init__(self, problems: list[str]) -> None:
        self._problems = problems
        super().__init__("; ".join(problems))

    @property
    def problems(self) -> list[str]:
        return self._problems


def validate(data: dict[str, Any], source: str | None = None) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None


def load_yaml(path: Path) -> dict[str, Any]:
    """Read a config file; every failure is a one-line :class:`PresnetError`."""
    path = Path(path)
    if not path.exists():
        raise PresnetError("config file not found", where=str(path), hint="check the path")
    if path.is_dir():
        raise PresnetError("is a directory, not a config file", where=str(path), hint="pass a .yaml file")
    try:
        text = read_user_text(path, "config file")
    except OSError as err:
        raise PresnetError(f"cannot read: {err.strerror}", where=str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise PresnetError(
            f"{line}YAML syntax error: {problem}", where=str(path), hint="fix the YAML syntax at that line"
        ) from None
    if data is None:
        raise PresnetError(
            "config file is empty", where=str(path), hint="write at least one section, e.g. `space: {scope: s}`"
        )
    if not isinstance(data, dict):
        raise PresnetError(
            "config must be a mapping of sections",
            where=str(path),
            hint="top-level keys: space, network, data, search, retrain, run",
        )
    return data


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    for section, key in (("data", "data_dir"), ("run", "out"), ("run", "runs_dir")):
        value = data.get(section, {}).get(key) if isinstance(data.get(section), dict) else None
        if isinstance(value, str) and not Path(value).expanduser().is_absolute():
            data[section][key] = str((base / Path(value).expanduser()).resolve())


def load_config(path: Path | None = None, overrides: Mapping[str, object] | None = None) -> Config:
    """File (or the quickstart when none) + overrides as ``{"section.key": value}`` (see
    :mod:`core.config.overrides`; a None value is YAML's null, so only given settings belong there).

    Relative paths in a file resolve against the file's folder; overrides resolve
    against the current directory, like any command-line path.
    """
    if path is None:
        data = quickstart().model_dump(mode="json")
        source = None
    else:
        data = load_yaml(Path(path))
        _resolve_paths(data, Path(path).resolve().parent)
        source = str(path)
    return validate(merge(data, overrides or {}), source)


def apply_overrides(config: Config, overrides: Mapping[str, object]) -> Config:
    """``config`` with ``{"section.key": value}`` overrides set (None included: "no value"), validated
    afresh: the setup screen's form over the config it was opened with."""
    return validate(merge(config.model_dump(mode="json"), overrides))


def dump_yaml(config: Config) -> str:
    return str(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
