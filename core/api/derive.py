"""The argmax architecture of any past search epoch, from a run directory or from the snapshots
a front end already holds (the TUI keeps every epoch's alphas: no file is read on its UI thread)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.config import Config, validate
from core.errors import PresnetError
from core.run.events import EpochEnd, StageEnd
from core.run.rundir import RunDir
from core.run.state import RunState, fold
from core.space.arch import Architecture, from_choices, merged_choices, snapshot_to_choices
from core.train.convergence import Confidence, confidence, no_alphas_reason, replay, with_confidence

if TYPE_CHECKING:  # the network module loads torch: a refused derive (no run, no such epoch) never needs it
    from core.space.network import BlockChoice


@dataclass(frozen=True)
class SearchSnapshots:
    """What derive needs of a search: its config, its number of classes, each ended epoch's
    ``epoch_end`` (alphas and phase: the stop criterion is replayed over them for the confidence),
    and the architecture steps taken by each epoch's end."""

    config: Config
    num_classes: int | None  #: None: no search_started event was seen
    history: Mapping[int, EpochEnd]
    arch_steps: Mapping[int, int]  #: epoch -> architecture steps taken by then (from ``alphas`` events)
    source: str = ""  #: where they came from (a run directory), recorded in the architecture
    events_file: str = ""
    no_history: tuple[str, str] | None = None  #: (message, hint) when there is no epoch to derive from
    stage_ends: Sequence[StageEnd] = ()  #: a progressive search's stage ends: the choices frozen by each


def snapshots_of_state(state: RunState, source: str = "", config: Config | None = None) -> SearchSnapshots:
    """What derive needs, from a run's folded state (the TUI's, or a run directory's events)."""
    return SearchSnapshots(
        config=config or validate(state.search_config),
        num_classes=state.num_classes,
        history=dict(sorted(state.epoch_ends.items())),
        arch_steps=dict(state.arch_steps),
        source=source,
        stage_ends=list(state.stage_ends),
    )


def snapshots_of_run(run: RunDir) -> SearchSnapshots:
    """A run directory's epoch history (one read of its event file, folded by the one reducer)."""
    events = run.events()
    config = run.config()
    snaps = snapshots_of_state(fold(events), str(run.path), config)
    no_history = no_alphas_reason(events, config.search.warmup_epochs)
    return dataclasses.replace(snaps, events_file=str(run.events_file), no_history=no_history)


def confidence_at(snaps: SearchSnapshots, epoch: int) -> Confidence:
    """Each decision's confidence at ``epoch``: the stop criterion replayed over the epochs up to it."""
    s = snaps.config.search
    history = [snaps.history[k] for k in sorted(snaps.history) if k <= epoch]
    steps = max((n for k, n in snaps.arch_steps.items() if k <= epoch), default=0)
    if not steps and any(h.phase == "search" for h in history):
        steps = 1  # alphas_every longer than the search so far: at least one step was taken
    judged = replay(history, s.patience, s.margin, s.threshold, snaps.stage_ends)
    return confidence(history[-1].alphas, judged.tracker, steps, judged.frozen)


def derive(source: RunDir | SearchSnapshots, epoch: int | None = None) -> Architecture:
    """The argmax architecture of epoch ``epoch``'s alpha snapshot (default: the last ended epoch),
    carrying each decision's confidence at that epoch in its ``source``."""
    snaps = snapshots_of_run(source) if isinstance(source, RunDir) else source
    if not snaps.history:
        no_epoch = ("the run has no finished search epoch yet", "wait for the first epoch to end")
        message, hint = snaps.no_history or no_epoch
        raise PresnetError(message, where=snaps.source or "derive", hint=hint)
    ended = sorted(snaps.history)
    chosen = ended[-1] if epoch is None else epoch
    if chosen not in snaps.history:
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
    from core.space.network import net_spec

    spec = net_spec(snaps.config, snaps.num_classes)
    arch = from_choices(_choices_at(snaps, chosen), spec, source={"run": snaps.source, "epoch": chosen})
    return with_confidence(arch, confidence_at(snaps, chosen))


def _choices_at(snaps: SearchSnapshots, epoch: int) -> dict[int, BlockChoice]:
    """Each block's choices at ``epoch``: the argmax of its alphas; in a progressive search, the
    choices frozen by then as well (their alphas have left the snapshot)."""
    alphas, space = snaps.history[epoch].alphas, snaps.config.search_space()
    if snaps.config.search.progressive is None:
        return snapshot_to_choices(alphas, space)
    frozen: dict[int, dict[str, str]] = {}
    for e in snaps.stage_ends:
        if e.epoch <= epoch:
            for block, decisions in e.frozen.items():
                frozen.setdefault(int(block), {}).update(decisions)
    return merged_choices(alphas, frozen, space)
