"""Settings given beside a config as ``section.key`` paths: the command line's ``--set KEY=VALUE``,
its named flags and the setup screen's fields all end here, in one merge.

A key is checked against the model tree before pydantic sees the value, so a typo is one line
naming the nearest valid key (``serach`` -> ``search``); the value is then validated by the same
pydantic model as a config file's, so the CLI and a file cannot disagree about what is valid.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import BaseModel

from core.config.models import Config
from core.errors import PresnetError, did_you_mean

SET_EXAMPLE = "--set search.arch_lr=0.01"


def _section_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (``CostConfig | None`` holds CostConfig), or None for a plain value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [m for m in map(_section_model, typing.get_args(annotation)) if m is not None]
        return models[0] if len(models) == 1 else None
    return None


def check_key(dotted: str, where: str = "--set") -> None:
    """``dotted`` names a setting of :class:`Config` (``search.arch_lr``, ``search.cost.target``), or
    a one-line refusal naming the first wrong part and the nearest valid name."""
    model: type[BaseModel] | None = Config
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        path = ".".join(parts[: i + 1])
        if model is None:
            parent = ".".join(parts[:i])
            raise PresnetError(f"{parent} is a value, not a section", where=where, hint=f"set {parent}=VALUE")
        if part not in model.model_fields:
            near = did_you_mean(part, model.model_fields)
            parent = ".".join(parts[:i])
            suggestion = f"did you mean {'.'.join([parent, near]) if parent else near!r}? " if near else ""
            raise PresnetError(
                f"unknown key {path!r}",
                where=where,
                hint=f"{suggestion}(`presnet config show` lists every key)",
            )
        model = _section_model(model.model_fields[part].annotation)
    if model is not None and len(parts) == 1:
        raise PresnetError(
            f"{dotted} is a section, not a value", where=where, hint=f"set one of its keys, e.g. {dotted}.KEY=VALUE"
        )


def parse_value(raw: str) -> object:
    """One value as YAML reads it (``0.01``, ``true``, ``[3, 5]``, ``null``), except YAML 1.1's
    yes/no/on/off, kept as words (``run.amp=off`` means the word off, not False)."""
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        return raw
    if isinstance(value, bool) and raw.strip().lower() not in ("true", "false"):
        return raw.strip()
    return value


def parse_set(item: str) -> tuple[str, object]:
    """``KEY=VALUE`` (one ``--set``) as its checked key and its value."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise PresnetError(f"{item!r} is not KEY=VALUE", where="--set", hint=f"e.g. {SET_EXAMPLE}")
    check_key(key)
    return key, parse_value(raw)


def merge(data: dict[str, Any], overrides: Mapping[str, object]) -> dict[str, Any]:
    """``data`` (a config as plain data) with each ``a.b.c`` override set in place, and returned.

    A section the data lacks, or holds as null (``search.cost``), is created.
    """
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = data
        for part in parents:
            if node.get(part) is None:
                node[part] = {}
            if not isinstance(node[part], dict):
                raise PresnetError(f"{part}: must be a mapping", where=dotted, hint="write it as `key: value` lines")
            node = node[part]
        node[leaf] = value
    return data
