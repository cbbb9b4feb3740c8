"""The argmax architecture of any past search epoch, from a run directory or from the snapshots
a front end already holds (the TUI keeps every epoch's alphas: no file is read on its UI thread)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.config import Config
from core.errors import PresnetError
from core.run.events import AlphaSnapshot, SearchStarted
from core.run.rundir import RunDir
from core.space.arch import Architecture, from_choices, snapshot_to_choices
from core.space.network import net_spec


@dataclass(frozen=True)
class SearchSnapshots:
    """What derive needs of a search: its config, its number of classes, each ended epoch's alphas."""

    config: Config
    num_classes: int | None  #: None: no search_started event was seen
    epochs: Mapping[int, AlphaSnapshot]
    source: str = ""  #: where they came from (a run directory), recorded in the architecture
    events_file: str = ""


def snapshots_of_run(run: RunDir) -> SearchSnapshots:
    """A run directory's epoch history (one read of its event file)."""
    events = run.events()
    return SearchSnapshots(
        config=run.config(),
        num_classes=next((e.num_classes for e in events if isinstance(e, SearchStarted)), None),
        epochs={h.epoch: h.alphas for h in run.epoch_history(events)},
        source=str(run.path),
        events_file=str(run.events_file),
    )


def derive(source: RunDir | SearchSnapshots, epoch: int | None = None) -> Architecture:
    """The argmax architecture of epoch ``epoch``'s alpha snapshot (default: the last ended epoch)."""
    snaps = snapshots_of_run(source) if isinstance(source, RunDir) else source
    if not snaps.epochs:
        raise PresnetError(
            "the run has no finished search epoch yet",
            where=snaps.source or "derive",
            hint="wait for the first epoch to end",
        )
    ended = sorted(snaps.epochs)
    chosen = ended[-1] if epoch is None else epoch
    if chosen not in snaps.epochs:
        raise PresnetError(
            f"no epoch {epoch} in the history (epochs {ended[0]}..{ended[-1]})",
            where="--epoch",
            hint="pick an epoch that has ended",
        )
    if snaps.num_classes is None:
        raise PresnetError(
            "the event file has no search_started event",
            where=snaps.events_file or "derive",
            hint="derive needs a run directory written by a search",
        )
    spec = net_spec(snaps.config, snaps.num_classes)
    return from_choices(
        snapshot_to_choices(snaps.epochs[chosen], snaps.config.search_space()),
        spec,
        source={"run": snaps.source, "epoch": chosen},
    )
