"""A run directory as front ends open it (config, events, summary, control file), named here so
that front ends need not reach into :mod:`core.run`; light: no torch."""

from __future__ import annotations

from core.run.rundir import RunDir

__all__ = ["RunDir"]
