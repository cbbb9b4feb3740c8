"""A sweep's runs: one planned run (its name, kind, scope, seed) and how it stands, read from the
run's own directory (summary, the last events): pending, running, incomplete, failed or done.
Never kept only in memory: a rerun of the sweep reads the same states back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from core.errors import PresnetError
from core.run.event_tail import tail_events
from core.run.events import EpochEnd, Error, RetrainEpochEnd, RetrainStarted
from core.run.rundir import RunDir
from core.run.summary import RunSummary, read_summary
from core.space import scope_label

RunKind = Literal["search", "baseline", "random", "space"]
RunState = Literal["pending", "running", "incomplete", "failed", "done"]


class PlannedRun(BaseModel):
    name: str
    kind: RunKind
    scope: str | None
    seed: int
    index: int | None = None  #: random runs: which draw of (scope, seed); space runs: which architecture


def plan(
    scopes: Sequence[str], seeds: Sequence[int], baseline: bool, random: int = 0, sizes: dict[str, int] | None = None
) -> list[PlannedRun]:
    """Runs in the order they start: seed by seed, so a partial sweep has whole rows to compare.
    ``sizes`` (exhaustive): each scope's every architecture at every seed, and nothing else."""
    if sizes:
        named = [
            (f"{scope_label(s)}-arch{i:0{len(str(sizes[s] - 1))}d}-seed{n}", s, n, i)
            for n in seeds
            for s in scopes
            for i in range(sizes[s])
        ]
        return [PlannedRun(name=name, kind="space", scope=s, seed=n, index=i) for name, s, n, i in named]
    runs: list[PlannedRun] = []
    for seed in seeds:
        runs += [PlannedRun(name=f"{scope_label(s)}-seed{seed}", kind="search", scope=s, seed=seed) for s in scopes]
        runs += [
            PlannedRun(name=f"{scope_label(s)}-seed{seed}-random{i}", kind="random", scope=s, seed=seed, index=i)
            for s in scopes
            for i in range(random)
        ]
        if baseline:
            runs.append(PlannedRun(name=f"baseline-seed{seed}", kind="baseline", scope=None, seed=seed))
    return runs


@dataclass
class RunStatus:
    """One run as the sweep's display shows it: read from its directory, or from its process."""

    name: str
    kind: RunKind
    scope: str | None
    seed: int
    path: Path
    state: RunState
    phase: str | None = None  # search | retrain
    epoch: int | None = None
    epochs: int | None = None
    top1: float | None = None  # search: last val top-1; retrain: last test top-1
    message: str | None = None


def read_status(run: PlannedRun, run_dir: Path) -> RunStatus:
    """A run's state from its directory: pending (never started), done (its retrain wrote the
    summary), failed (its last event is an error), else incomplete."""
    status = RunStatus(run.name, run.kind, run.scope, run.seed, run_dir, "pending")
    rundir = RunDir(run_dir)
    if not rundir.config_file.is_file():
        return status
    summary = _summary_or_none(rundir.summary_file)
    last = None
    for e in tail_events(rundir.events_file):
        last = e
        if isinstance(e, EpochEnd):
            status.phase, status.epoch, status.epochs, status.top1 = "search", e.epoch, e.epochs, e.val_top1
        elif isinstance(e, RetrainEpochEnd):
            top1 = e.val_top1 if e.val_top1 is not None else e.test_top1  # older event files: test each epoch
            status.phase, status.epoch, status.epochs, status.top1 = "retrain", e.epoch, e.epochs, top1
        elif isinstance(e, RetrainStarted):
            status.phase, status.epoch, status.epochs, status.top1 = "retrain", 0, e.epochs, None
    retrain = summary.retrain
    if retrain is not None and retrain.test_top1 is not None:
        status.state, status.top1 = "done", retrain.test_top1
    elif isinstance(last, Error):
        status.state, status.message = "failed", last.message
    else:
        status.state = "incomplete"
    return status


def _summary_or_none(path: Path) -> RunSummary:
    """A status poll must not fail on a summary being replaced or broken: it reads as none yet."""
    try:
        return read_summary(path)
    except (OSError, PresnetError):
        return RunSummary()
