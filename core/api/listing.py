"""The runs under a folder and the state of each: what ``presnet ls`` and the TUI's setup screen show.

A run's state is read, never guessed from a window: the lock (core.run.lock) says whether a process
writes it now, ``summary.json`` whether it finished, and the event file's last event how it ended
otherwise -- ``suspended`` (Ctrl+C, a preemption signal, the TUI's stop: resumable) or nothing at all
(killed, out of power: *crashed*, resumable too from its last checkpoint).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from core.errors import PresnetError
from core.run.events import AnyEvent, EpochEnd, Error, Suspended, parse_lines
from core.run.lock import is_held, read_owner
from core.run.rundir import RunDir
from core.run.state import fold
from core.run.summary import RunSummary

#: A run directory's state as `presnet runs` lists it (a sweep's per-run status is core.scale.sweep.RunStatus).
ListedState = Literal["live", "finished", "stopped", "failed", "crashed"]


@dataclass(frozen=True)
class RunRecord:
    """One run directory as a listing shows it."""

    path: str
    state: ListedState
    phase: Literal["search", "retrain", "none"]
    epoch: int  #: epochs done in that phase
    epochs: int  #: epochs that phase was set to run (0 when unknown)
    scope: str
    settled: int | None  #: decisions the stop criterion holds settled (the last epoch's), of ...
    decisions: int | None
    test_top1: float | None  #: the retrain's, once done
    pid: int | None  #: the writer (live), or the last one
    host: str | None
    note: str = ""  #: why it is stopped, failed or crashed

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def list_runs(folder: Path) -> list[RunRecord]:
    """Every run directory directly under ``folder`` (newest name last); a folder that is none is refused."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PresnetError(
            "no such folder" if not folder.exists() else "not a folder",
            where=str(folder),
            hint="pass the folder your runs are in (default: runs)",
        )
    return [read_record(p) for p in sorted(folder.iterdir()) if RunDir(p).config_file.is_file()]


def live_runs(folder: Path) -> list[RunRecord]:
    """The runs under ``folder`` that a process writes now (the setup screen offers to attach); none
    when the folder does not exist yet."""
    if not Path(folder).is_dir():
        return []
    return [r for r in list_runs(folder) if r.state == "live"]


def _events(run: RunDir) -> list[AnyEvent]:
    """The run's events, skipping a torn or damaged line (a listing must not fail on one run)."""
    try:
        with open(run.events_file, "rb") as f:
            return parse_lines(f)[0]
    except FileNotFoundError:
        return []


def read_record(path: Path) -> RunRecord:
    """One run's record (reads its lock, summary, config and event file; writes nothing)."""
    run = RunDir(Path(path))
    summary = run.summary()
    events = _events(run)
    owner = read_owner(run.path)
    phase, epoch, epochs = _position(events)
    settled, decisions = _decisions(summary, events)
    state, note = _state(run, summary, events)
    retrain = summary.retrain
    return RunRecord(
        path=str(run.path),
        state=state,
        phase=phase,
        epoch=epoch,
        epochs=epochs,
        scope=_scope(run, summary),
        settled=settled,
        decisions=decisions,
        test_top1=retrain.test_top1 if retrain is not None else None,
        pid=owner.pid if owner else None,
        host=owner.host if owner else None,
        note=note,
    )


def _state(run: RunDir, summary: RunSummary, events: list[AnyEvent]) -> tuple[ListedState, str]:
    if is_held(run.path):
        return "live", ""
    from core.api.steer import finished

    if finished(run) is not None:
        return "finished", ""
    last = events[-1] if events else None
    if isinstance(last, Suspended):
        return "stopped", f"by {last.by} in {last.phase} epoch {last.epoch}, step {last.step}"
    if isinstance(last, Error):
        return "failed", last.message
    return "crashed", "ended without a closing event (killed?); resumable from its last checkpoint"


def _position(events: list[AnyEvent]) -> tuple[Literal["search", "retrain", "none"], int, int]:
    """The phase the run was last in, and its epochs done / set, from the one reducer (core.run.state)."""
    s = fold(events)
    if s.phase == "retrain":
        done = s.retrain_done.epochs if s.retrain_done is not None else s.retrain_epoch
        return "retrain", done, s.retrain_epochs
    if not s.epochs:  # no search_started yet
        return "none", 0, 0
    return "search", s.epochs_done, s.epochs


def _decisions(summary: RunSummary, events: list[AnyEvent]) -> tuple[int | None, int | None]:
    search = summary.search
    if search is not None and search.settled is not None and search.decisions_total is not None:
        return search.settled, search.decisions_total
    ends = [e for e in events if isinstance(e, EpochEnd) and e.settled]
    if not ends:
        return None, None
    flags = [v for decisions in ends[-1].settled.values() for v in decisions.values()]
    return sum(flags), len(flags)


def _scope(run: RunDir, summary: RunSummary) -> str:
    from core.space import scope_name

    if summary.search is not None and summary.search.scope is not None:
        return scope_name(summary.search.scope)
    try:
        return scope_name(run.config().space.scope)
    except PresnetError:
        return "?"
