"""Lazy public APIs for ``core``'s subpackages (PEP 562).

A subpackage's ``__init__`` names its public API without importing it: ``import core.run`` must
not pull in torch for a front end that only reads events, and ``presnet --help`` stays instant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_api(package: str, api: Mapping[str, str]) -> tuple[Callable[[str], Any], list[str]]:
    """``(__getattr__, __all__)`` for ``package``: each name of ``api`` is loaded from its module on first use."""

    def __getattr__(name: str) -> Any:
        if name in api:
            return getattr(import_module(f"{package}.{api[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__, sorted(api)
