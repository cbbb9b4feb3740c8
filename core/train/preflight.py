"""Checks made before the first training step, so a mistake the config already shows
costs seconds, not the hours of warm-up a GPU run spends before it would surface.

Batch rules, and why (see :mod:`core.train.pipeline`):

- the weights' training split is shuffled and drops its ragged last batch (BatchNorm in
  training mode on a tiny last batch is unsound): it needs one full batch;
- the alphas' validation split is cycled the same way: one full batch too;
- the test split is read in order in eval mode (BatchNorm uses its running statistics),
  so a partial last batch is sound: it only needs one image;
- a retrain trains on train + validation less its own held-out share: one full batch of that.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from core.config import DataConfig
from core.errors import PresnetError
from core.train.data import SearchData, stratified_split
from core.train.device import Precision
from core.train.seeds import stream


@dataclass(frozen=True)
class Splits:
    """Sizes of a job's splits, and the labels of train + val (to suggest a val_fraction)."""

    train: int
    val: int
    test: int
    labels: torch.Tensor


def splits_of(data: SearchData) -> Splits:
    return Splits(len(data.train), len(data.val), len(data.test), torch.cat([data.train.labels, data.val.labels]))


def stream_splits(cfg: DataConfig, seed: int) -> Splits:
    """The same sizes for a streamed image folder, from its file list (nothing decoded)."""
    from core.train.stream import stream_split

    train_ds, test_ds, train_idx, val_idx = stream_split(cfg, seed)
    labels = torch.tensor(train_ds.targets)[torch.cat([train_idx, val_idx])]
    return Splits(len(train_idx), len(val_idx), len(test_ds), labels)


def check_splits(
    splits: Splits, cfg: DataConfig, seed: int, search: bool, world_size: int = 1, retrain_val_fraction: float = 0.0
) -> None:
    """Refuse a split that cannot fill the batches its phase needs, naming the split, its
    size, the batch size and the fix.  Distributed, a step reads one global batch (the
    per-process ``batch_size`` times ``world_size``): that is what each split must fill."""
    b = cfg.batch_size * world_size
    per = f" ({cfg.batch_size} x {world_size} processes)" if world_size > 1 else ""
    if search and splits.train < b:
        raise PresnetError(
            f"the training split has {splits.train} images, fewer than one batch of {b}{per} "
            "(weight steps use full batches only)",
            where="data.batch_size",
            hint=f"lower data.batch_size to {splits.train // world_size} or less, or use more training data",
        )
    if search and splits.val < b:
        fraction = fraction_for(splits.labels, b, seed)
        fixes = []
        if fraction is not None:
            fixes.append(f"raise data.val_fraction to {fraction:g} or more")
        if splits.val >= 2 * world_size:
            fixes.append(f"lower data.batch_size to {splits.val // world_size} or less")
        raise PresnetError(
            f"the validation split has {splits.val} images ({cfg.val_fraction:g} of {len(splits.labels)}), "
            f"fewer than one batch of {b}{per} (architecture steps use full batches only)",
            where="data.val_fraction",
            hint=", or ".join(fixes) if fixes else "use more training data",
        )
    n = splits.train + splits.val
    n_fit = (
        len(stratified_split(splits.labels, retrain_val_fraction, stream(seed, "split_retrain_val"))[0])
        if (retrain_val_fraction > 0 and n > 1)
        else n
    )
    if not search and n_fit < b:
        raise PresnetError(
            f"the retraining set (train + validation, less retrain.val_fraction {retrain_val_fraction:g}) has "
            f"{n_fit} images, fewer than one batch of {b}{per}",
            where="data.batch_size",
            hint=f"lower data.batch_size to {n_fit // world_size} or less, or use more training data",
        )
    if splits.test < 1:
        raise PresnetError(
            "the test split is empty (it may end in a partial batch, but needs one image)",
            where="data",
            hint="add test images (imagefolder: test/<class>/*) or raise data.test_fraction",
        )


def fraction_for(labels: torch.Tensor, batch_size: int, seed: int) -> float | None:
    """The smallest val_fraction (in steps of 0.01) whose seeded split fills a batch on both sides."""
    for percent in range(1, 100):
        train, val = stratified_split(labels, percent / 100, stream(seed, "split_val"))
        if len(val) >= batch_size and len(train) >= batch_size:
            return percent / 100
    return None


def check_precision(prec: Precision) -> None:
    """Run one tiny op under the configured autocast, so an unsupported dtype fails now."""
    if prec.amp_dtype is None:
        return
    try:
        with prec.autocast():
            x = torch.ones(4, 4, device=prec.device)
            float((x @ x).sum())
    except RuntimeError as err:
        name = str(prec.amp_dtype).removeprefix("torch.")
        raise PresnetError(
            f"{name} autocast does not run on {prec.device} ({str(err).splitlines()[0]})",
            where="run.amp",
            hint="use run.amp: auto (or off)",
        ) from None


def check_writable(path: Path) -> None:
    """A run directory this process cannot write would fail at the first checkpoint."""
    if not os.access(path, os.W_OK | os.X_OK):
        raise PresnetError(
            "the run directory is not writable by this user",
            where=str(path),
            hint="fix its permissions, or resume as the user who started it",
        )
