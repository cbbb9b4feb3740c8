"""What every settings model shares: unknown keys refused, assignments validated, and core.space's
rules applied to a list or comma-separated text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from core.errors import as_field_error


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def vocabulary(rule: Callable[[Any], object], value: object) -> object:
    """Apply one of core.space's rules to a list or comma-separated text; anything else is left to
    pydantic's type check (so ``kernels: 3`` reads "Input should be a valid list")."""
    if not isinstance(value, str | list | tuple):
        return value
    with as_field_error():
        out = rule(value)
    return list(out) if isinstance(out, tuple) else out
