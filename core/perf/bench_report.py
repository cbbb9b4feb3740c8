"""The shape of ``presnet bench``'s report (``bench.json``, ``--json``), as typed records.

The report is written as JSON and read back by the front end, also from files older versions wrote:
keys that later versions added (the probes, the progress channel, the tuning) are optional, so
a reader checks for them, and a misspelt key fails the type check instead of a stored report.
The order of the keys on disk is the order :mod:`core.perf.bench` builds them in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict, TypeVar, cast


class PlainBench(TypedDict):
    """(1) the plain ResNet-50 training step."""

    step_s: float
    images_per_s: float
    activation_bytes: int
    total_bytes: int
    params: int


class PipelineTiming(TypedDict):
    """(7) the data pipeline alone."""

    batch_s: float
    images_per_s: float


class PipelineBench(PipelineTiming):
    ratio_to_model: float


class EpochBench(TypedDict):
    """(5) a whole search epoch against a plain epoch over the same images."""

    epoch_images_per_s: float
    epoch_ratio: float


class ProbeBench(TypedDict, total=False):
    """(8) the probes, each one present when enabled (older reports: the curvature probe only)."""

    search_iteration_s: float
    probe_budget: float
    curvature_s: float
    curvature_share_paper: float
    perturbation_s: float
    perturbation_share_paper: float
    probes_share_paper: float


class MemoryBench(TypedDict):
    """(6) memory beyond parameters and optimizer state, and the totals with parameters."""

    weight_bytes: int
    arch_bytes: int
    darts_bytes: int
    weight_ratio_mem: float
    arch_ratio_mem: float
    darts_ratio_mem: float
    supernet_param_bytes: int
    proxyless_total_bytes: int
    darts_total_bytes: int


class ScopeBench(EpochBench, ProbeBench, MemoryBench):
    """(2)-(6), (8) for one search scope."""

    scope: str
    blocks: int
    pinned_ratio: float
    uniform_ratio: float
    two_path_images_per_s: float
    two_path_ratio: float
    all_paths_images_per_s: float
    all_paths_ratio: float


class ProgressBench(TypedDict):
    """(8) the live progress channel's cost per step (:mod:`core.perf.progress_cost`)."""

    quiet_tick_s: float
    emitting_tick_s: float
    spread_emitting_s: list[float]
    writes: int
    step_s: float
    per_step_s: float
    ratio: float


class BenchSettingsUsed(TypedDict):
    """The network and timing settings the figures were taken with."""

    width: float
    depths: list[int]
    stem: str
    candidates: str
    batch_size: int
    image_size: int
    repeats: int
    warmup: int


class _Measured(TypedDict):
    """What every report holds."""

    device: str
    device_name: str
    amp: str
    channels_last: bool
    torch: str
    threads: int
    settings: BenchSettingsUsed
    plain: PlainBench
    pipeline: PipelineBench
    scopes: list[ScopeBench]


class BenchReport(_Measured, total=False):
    """The whole report: device, settings and every measurement (``NotRequired`` is Python 3.11's; the
    keys older reports lack are this class's, ``total=False``)."""

    progress: ProgressBench
    #: what ``auto`` chose (:class:`core.run.events.Tuning`, dumped); readers validate it
    tuning: dict[str, object]


R = TypeVar("R")


def as_record(record: type[R], measured: Mapping[str, object]) -> R:
    """``measured`` (a measurement's plain dict) as ``record``, after checking it names only the record's
    keys and all its required ones: the place where an untyped measurement enters the typed report."""
    keys: frozenset[str] = record.__required_keys__ | record.__optional_keys__  # type: ignore[attr-defined]
    required: frozenset[str] = record.__required_keys__  # type: ignore[attr-defined]
    unknown, missing = set(measured) - keys, required - set(measured)
    if unknown or missing:
        raise ValueError(f"{record.__name__}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
    return cast(R, dict(measured))
