"""A run's state folded from its events (:mod:`core.run.state`): the one reducer the TUI's model,
the headless view and derive share; front ends fold with it, core defines it."""

from __future__ import annotations

from core.run.state import RunState, fold, reduce

__all__ = ["RunState", "fold", "reduce"]
