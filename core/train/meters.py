"""What a loop measures: the epoch's loss and top-1 sums, the first non-finite loss, a whole-loader
evaluation, and BatchNorm's statistics recomputed before one.

None of them syncs with the host inside a step: the sums and the divergence flag stay on the device
until the epoch ends (:class:`core.train.loop.Loop`'s discipline).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict

import torch
from torch import nn

from core.errors import PresnetError
from core.train.device import Precision
from core.train.step import forward_loss


class Diverged(PresnetError):
    """The loss or the alphas became non-finite: the search or retrain stops with reason ``error``."""


class MeterState(TypedDict):
    """A :class:`Meter`'s sums in a checkpoint (plain numbers: every rank's are gathered into rank 0's)."""

    loss: float
    correct: int
    n: int


class Meter:
    """Loss and top-1 sums kept on the device, read once per epoch."""

    def __init__(self, device: torch.device) -> None:
        self.loss = torch.zeros((), device=device)
        self.correct = torch.zeros((), device=device, dtype=torch.long)
        self.n = 0

    def add(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        self.loss += loss.detach().float() * y.shape[0]
        self.correct += (logits.detach().argmax(dim=1) == y).sum()
        self.n += int(y.shape[0])

    def reset(self) -> None:
        """A new epoch's sums."""
        self.loss.zero_()
        self.correct.zero_()
        self.n = 0

    def result(self) -> tuple[float | None, float | None]:
        if self.n == 0:
            return None, None
        return float(self.loss) / self.n, float(self.correct) / self.n

    def state_dict(self) -> MeterState:
        return {"loss": float(self.loss), "correct": int(self.correct), "n": self.n}

    def load_state_dict(self, s: MeterState) -> None:
        self.loss.fill_(s["loss"])
        self.correct.fill_(s["correct"])
        self.n = int(s["n"])


class DivergenceWatch:
    """Remembers the first step whose loss was not finite, without syncing each step."""

    def __init__(self, device: torch.device) -> None:
        self.first_bad = torch.full((), -1, device=device, dtype=torch.long)

    def observe(self, loss: torch.Tensor, step: int) -> None:
        bad = ~torch.isfinite(loss.detach())
        self.first_bad = torch.where(bad & (self.first_bad < 0), step, self.first_bad)

    def check(self, where: str) -> None:
        step = int(self.first_bad)
        if step >= 0:
            raise Diverged(
                f"loss became non-finite at global step {step}",
                where=where,
                hint="lower the learning rate; the last good checkpoint is kept",
            )


@torch.no_grad()
def evaluate(
    model: nn.Module, loader: Iterable[tuple[torch.Tensor, torch.Tensor]], prec: Precision
) -> tuple[float, float]:
    """Loss and top-1 of ``model`` in eval mode over a whole loader."""
    was_training = model.training
    model.eval()
    meter = Meter(prec.device)
    for x, y in loader:
        meter.add(*forward_loss(model, x, y, prec), y)
    model.train(was_training)
    loss, top1 = meter.result()
    return float(loss or 0.0), float(top1 or 0.0)


@torch.no_grad()
def recalibrate_bn(model: nn.Module, calib: Iterable[tuple[torch.Tensor, torch.Tensor]] | None) -> None:
    """Recompute BatchNorm's running statistics with the current weights on fixed training batches.

    Eval-mode BatchNorm normalises with running averages that lag weights still moving at a
    retrain's learning rate: after one epoch they belong to a network long gone, and the test loss
    can be 10^7 (BENCHMARKS.md, "Retrain on validation"). ``torch.optim.swa_utils.update_bn`` resets
    them and takes the plain average over the batches (the SPOS / precise-BN recipe). None: off.
    """
    if calib is None:
        return
    from torch.optim.swa_utils import update_bn

    update_bn(calib, model)
