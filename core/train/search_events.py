"""The events a search's parts give it to emit: the margin rule's verdicts and a progressive search's
stage boundaries.  The search loop (:mod:`core.train.search_loop`) decides when and emits them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch

from core.run.events import (
    AlphaSnapshot,
    Converged,
    SpaceWarning,
    StageEnd,
    StageStart,
    Unstable,
)
from core.space.network import BlockChoice, SearchNet
from core.train.budget import LOW_LR_SHARE, low_lr_line
from core.train.convergence import ConvergenceTracker, Verdict
from core.train.progressive import StageController


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
