"""Taking the found model out: export files, a per-candidate latency table, TensorBoard scalars.

Front ends pass settings; building the network, choosing the device and seeding torch happen here.
Torch loads inside the functions that need it, so a refused request is one line in under a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.config import Config
from core.errors import PresnetError
from core.export import ExportResult, export_run, resolve_weights
from core.run.rundir import RunDir
from core.run.tensorboard import TB_DIR, convert_events

if TYPE_CHECKING:  # the module imports torch, which the functions load only when they run
    from core.space.cost import LatencyTable

__all__ = [
    "ExportResult",
    "TensorBoardExport",
    "export_run",
    "latency_of",
    "resolve_weights",
    "save_latency_table",
    "tensorboard_events",
    "weights_used",
]


def save_latency_table(path: Path, table: LatencyTable) -> None:
    """Write a lookup table from :func:`latency_of` (JSON)."""
    from core.space.cost import save_latency_table as save

    save(path, table)


def weights_used(run_dir: Path, weights: str) -> Path:
    """The weights file an export of ``run_dir`` reads (``last`` or a path)."""
    return resolve_weights(RunDir.open(run_dir), weights)


def latency_of(config: Config, image_size: int, batch: int, repeats: int, num_classes: int) -> LatencyTable:
    """Each candidate of each search block timed in place on ``config.run.device``: the lookup table of
    ``search.cost.metric: latency`` (seeded by ``run.seed``, so two tables time the same weights)."""
    import torch

    from core.space.cost import latency_table
    from core.space.network import SearchNet, net_spec
    from core.train.device import resolve_device

    device = resolve_device(config.run.device)
    torch.manual_seed(config.run.seed)
    net = SearchNet(net_spec(config, num_classes), config.search_space()).to(device)
    return latency_table(net, image_size, batch=batch, repeats=repeats)


@dataclass(frozen=True)
class TensorBoardExport:
    events: int
    log_dir: Path


def tensorboard_events(run_dir: Path, out: Path | None = None) -> TensorBoardExport:
    """A run's events.jsonl as TensorBoard event files (default folder: RUN/tensorboard)."""
    rundir = RunDir.open(run_dir)
    if not rundir.events_file.is_file():
        raise PresnetError("the run has no events.jsonl yet", where=str(rundir.path), hint="start the run first")
    log_dir = out or rundir.path / TB_DIR
    return TensorBoardExport(convert_events(rundir.events_file, log_dir), log_dir)
