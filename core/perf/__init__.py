"""Measurements, returned as data (front ends render them): the search's cost and memory against
their limits (:mod:`.bench`), and the GPU validation suite (:mod:`.gpu_suite`).

Public API (imported lazily): :class:`BenchSettings`, :func:`run` (:mod:`.bench`);
:func:`run_suite` (:mod:`.gpu_suite`).
"""

from __future__ import annotations

from core.lazy import lazy_api

_API = {"BenchSettings": "bench", "run": "bench", "run_suite": "gpu_suite"}
__getattr__, __all__ = lazy_api(__name__, _API)
