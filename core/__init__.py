"""presnet's engine: search space, ProxylessNAS, data, search and retrain loops, events.

No UI code lives here (and none of textual, typer or rich is imported): front ends build a
:class:`core.job.Job`, run it on a :class:`core.runner.Runner`, read the typed events of
:mod:`core.events` and steer it through :class:`core.control.Control`.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    """``core.load_model`` without importing torch when ``core`` itself is imported."""
    if name == "load_model":
        from core.export import load_model

        return load_model
    raise AttributeError(f"module 'core' has no attribute {name!r}")


__all__ = ["load_model"]
