"""The argmax architecture of any past search epoch, from a run directory or from the snapshots
a front end already holds (the TUI keeps every epoch's alphas: no file is read on its UI thread)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.config import Config, validate
from core.errors import PresnetError
from core.run.events import AlphaSnapshot, EpochEnd, StageEnd
from core.run.readout import PerturbationReadout
from core.run.readout import latest_readout as latest_readout  # re-exported: the TUI's model asks it too
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


def readout_at(snaps: SearchSnapshots, epoch: int) -> tuple[int, PerturbationReadout] | None:
    """The latest perturbation readout at or before ``epoch`` (the probe's budget may have skipped some)."""
    return latest_readout({e: end.perturbation for e, end in snaps.history.items()}, epoch)


def derive(source: RunDir | SearchSnapshots, epoch: int | None = None, select: str | None = None) -> Architecture:
    """The architecture of epoch ``epoch`` (default: the last ended epoch), carrying each decision's
    confidence at that epoch in its ``source``.  ``select`` (default: the config's ``search.select``):
    ``alpha`` takes each decision's argmax; ``perturbation`` the candidate with the best pinned accuracy
    in the latest perturbation readout at or before the epoch (decisions it does not hold: the argmax)."""
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
    alphas = snaps.history[chosen].alphas
    record: dict[str, object] = {"run": snaps.source, "epoch": chosen}
    if (select or snaps.config.search.select) == "perturbation":
        read = readout_at(snaps, chosen)
        if read is None:
            raise PresnetError(
                f"no perturbation readout at or before epoch {chosen}",
                where="--select",
                hint="derive a later epoch, or use --select alpha (the run measured none: search.perturbation)",
            )
        alphas = read[1].as_snapshot(alphas)
        record |= {"select": "perturbation", "readout_epoch": read[0]}
    arch = from_choices(_choices_at(snaps, chosen, alphas), spec, source=record)
    return with_confidence(arch, confidence_at(snaps, chosen))


def selection_line(source: RunDir | SearchSnapshots, arch: Architecture) -> str | None:
    """Where the two selections disagree at ``arch``'s epoch (derive's closing line); None: no readout."""
    snaps = snapshots_of_run(source) if isinstance(source, RunDir) else source
    epoch = (arch.source or {}).get("epoch")
    read = readout_at(snaps, int(epoch)) if epoch is not None else None
    if read is None:
        return None
    line = read[1].disagreement_line()
    return line if read[0] == epoch else f"{line} (readout of epoch {read[0]})"


def _choices_at(snaps: SearchSnapshots, epoch: int, alphas: AlphaSnapshot) -> dict[int, BlockChoice]:
    """Each block's choices at ``epoch``: the argmax of ``alphas``; in a progressive search, the
    choices frozen by then as well (their alphas have left the snapshot)."""
    space = snaps.config.search_space()
    if snaps.config.search.progressive is None:
        return snapshot_to_choices(alphas, space)
    frozen: dict[int, dict[str, str]] = {}
    for e in snaps.stage_ends:
        if e.epoch <= epoch:
            for block, decisions in e.frozen.items():
                frozen.setdefault(int(block), {}).update(decisions)
    return merged_choices(alphas, frozen, space)
