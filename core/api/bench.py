"""``presnet bench``'s measurement: search cost against its physical limit, memory against a
DARTS-style step (:mod:`core.perf.bench` measures; the front end renders)."""

from __future__ import annotations

from core.perf.bench import BenchSettings
from core.perf.bench import run as run_bench

__all__ = ["BenchSettings", "run_bench"]
