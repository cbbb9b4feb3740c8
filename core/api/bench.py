"""``presnet bench``'s measurement: search cost against its physical limit, memory against a
DARTS-style step (:mod:`core.perf.bench` measures; the front end renders)."""

from __future__ import annotations

from core.perf.bench import BenchSettings
from core.perf.bench import run as run_bench
from core.perf.bench_report import BenchReport, ProbeBench, ScopeBench

__all__ = ["BenchReport", "BenchSettings", "ProbeBench", "ScopeBench", "run_bench"]
