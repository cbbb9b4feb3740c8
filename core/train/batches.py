"""What every batch source is: its protocol, its checkpointed position, the settings all loaders share,
and the set of sources one job reads (:mod:`core.train.pipeline` builds them; :mod:`core.train.stream`
is the DataLoader path)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, TypedDict

import torch

from core.config import DataConfig


class LoaderState(TypedDict):
    """A loader's place in its epoch order (a checkpoint's): the same batches follow on resume."""

    perm: torch.Tensor | None
    pos: int
    started: bool
    generator: torch.Tensor


class BatchSource(Protocol):
    """What the training loops need from a loader."""

    steps_per_epoch: int
    channels_last: bool  #: the batches' memory format (set again once :mod:`core.train.autotune` chose it)

    def start_epoch(self) -> None: ...
    def begin_epoch(self) -> None: ...
    def next(self) -> tuple[torch.Tensor, torch.Tensor] | None: ...
    def cycle(self) -> tuple[torch.Tensor, torch.Tensor]: ...
    def count(self) -> int: ...
    def fixed(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...
    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...
    def state_dict(self) -> LoaderState: ...
    def load_state_dict(self, state: LoaderState) -> None: ...


class EpochBatches:
    """Epoch iteration shared by the loaders: ``start_epoch`` + ``next`` until None."""

    started = False
    steps_per_epoch: int
    pos: int

    def start_epoch(self) -> None:
        raise NotImplementedError

    def next(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        raise NotImplementedError

    def begin_epoch(self) -> None:
        """Start the next epoch, unless this one is started and unread: a checkpoint taken before an
        epoch's first step (a signal met at the boundary) holds that epoch's order; drawing again on
        resume would take another from the advanced generator (issue 40)."""
        if not (self.started and self.pos == 0):
            self.start_epoch()

    def cycle(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Next batch, starting a new epoch when this one is used up (the alphas' loader)."""
        if not self.started or self.pos >= self.steps_per_epoch:
            self.start_epoch()
        batch = self.next()
        assert batch is not None
        return batch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self.start_epoch()
        while (batch := self.next()) is not None:
            yield batch


class LoaderBase(TypedDict):
    """What every loader of one job shares (``make_loaders`` passes it to each)."""

    cfg: DataConfig
    mean: tuple[float, ...]
    std: tuple[float, ...]
    device: torch.device
    channels_last: bool


class Loaders:
    """The batch sources of one job: search (train, val, test) or retrain (train and val cut from
    train + val, test, and ``calib``: the fixed unaugmented training batches BatchNorm's statistics
    are recomputed on before each evaluation; None when ``retrain.bn_recalib_batches`` is 0)."""

    def __init__(
        self,
        train: BatchSource,
        val: BatchSource | None,
        test: BatchSource,
        classes: list[str],
        calib: BatchSource | None = None,
    ) -> None:
        self.train, self.val, self.test, self.classes, self.calib = train, val, test, classes, calib

    @property
    def num_classes(self) -> int:
        return len(self.classes)
