"""The events a search emits, built from its state: its start, each epoch's end, the margin rule's
verdicts, a progressive search's stage boundaries.  The search loop (:mod:`core.train.search_loop`)
decides when; these say what (the typed events of :mod:`core.run.events`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from core.run.events import (
    AlphaSnapshot,
    Converged,
    EpochEnd,
    SearchStarted,
    SpaceWarning,
    StageEnd,
    StageStart,
    Unstable,
)
from core.space import block_stage
from core.space.network import BlockChoice, SearchNet, count_params
from core.train.budget import LOW_LR_SHARE, low_lr_line
from core.train.convergence import ConvergenceTracker, Verdict
from core.train.curvature import entropies
from core.train.probe_set import EpochProbes
from core.train.progressive import StageController

if TYPE_CHECKING:
    from core.train.search_loop import SearchEngine


def search_started_event(engine: SearchEngine, resumed: bool) -> SearchStarted:
    """What a front end joining the search needs: the space, the network's size, where the search stands."""
    space, net, config = engine.space, engine.net, engine.config
    return SearchStarted(
        config=config.model_dump(mode="json"),
        block_ids=list(space.block_ids),
        stages={str(b): block_stage(b, space.depths) for b in space.block_ids},
        candidates={d: list(space.labels(d)) for d in space.decisions},
        params=count_params(net) - sum(p.numel() for p in net.arch_parameters()),
        num_classes=engine.spec.num_classes,
        steps_per_epoch=engine.loaders.train.steps_per_epoch,
        epochs=config.search.epochs,
        start_epoch=engine.epoch_done + 1,
        resumed=resumed,
        device=str(engine.device),
        world_size=engine.coll.world_size,
        global_batch_size=config.data.batch_size * engine.coll.world_size,
        progressive=engine.stages.where() if engine.stages else None,
        tuning=engine.tuning,
    )


def epoch_end_event(
    engine: SearchEngine,
    epoch: int,
    phase: str,
    snapshot: AlphaSnapshot,
    change: dict[str, dict[str, float]],
    probed: EpochProbes,
) -> EpochEnd:
    """An epoch's record: its losses and accuracies, the alphas, their change and settling, the probes."""
    train_loss, train_top1 = engine.train_meter.result()
    val_loss, val_top1 = engine.val_meter.result()
    cost = engine.strategy.cost
    return EpochEnd(
        epoch=epoch,
        epochs=engine.config.search.epochs,
        phase=phase,
        train_loss=train_loss or 0.0,
        train_top1=train_top1 or 0.0,
        val_loss=val_loss,
        val_top1=val_top1,
        lr=engine.w_opt.param_groups[0]["lr"],
        elapsed_s=round(engine.elapsed, 3),
        alphas=snapshot,
        expected_cost=cost.expected_value(engine.net.alphas()) if cost else None,
        cost_metric=cost.costs.metric if cost else None,
        alpha_change=change,
        settled=engine.stop.tracker.settled_map(),
        curvature=probed.curvature,
        perturbation=probed.perturbation,
        entropy=entropies(snapshot) if phase == "search" else {},
    )


def verdict_events(epoch: int, verdict: Verdict, choices: Mapping[int, BlockChoice]) -> Iterator[Unstable | Converged]:
    """The margin rule's news: decisions that lost their settling, and the epoch every decision settled."""
    for block, decision, was, now, why in verdict.unstable:
        yield Unstable(epoch=epoch, block=block, decision=decision, was=was, now=now, reason=why)
    if verdict.converged_now:
        architecture = {str(b): {"kernel": str(c.kernel), "activation": c.activation} for b, c in choices.items()}
        yield Converged(epoch=epoch, architecture=architecture)


@dataclass(frozen=True)
class StageNews:
    """One event of a stage boundary, and whether the network changed with it (frozen or added blocks)."""

    event: StageEnd | StageStart | SpaceWarning
    changes_network: bool = False


def stage_events(  # noqa: PLR0913 -- the boundary's inputs, each used once
    stages: StageController,
    epoch: int,
    snapshot: AlphaSnapshot,
    tracker: ConvergenceTracker,
    net: SearchNet,
    last_epoch: bool,
    w_opt: torch.optim.Optimizer,
) -> Iterator[StageNews]:
    """A stage's end, if this epoch ends it, as the stage controller yields it (it changes ``net`` between
    its events), and after a new stage's start the warning that the schedule's learning rate ran out."""
    base = stages.config.search.lr
    for event in stages.end_epoch(epoch, snapshot, tracker, net, last_epoch):
        yield StageNews(event, isinstance(event, StageStart) or bool(getattr(event, "frozen", None)))
        lr = w_opt.param_groups[0]["lr"]
        if isinstance(event, StageStart) and lr < LOW_LR_SHARE * base:  # the schedule ran out
            yield StageNews(
                SpaceWarning(message=low_lr_line(event.stage, event.epoch, lr, base), where="search.epochs")
            )
