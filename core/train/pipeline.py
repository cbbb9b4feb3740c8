"""Batches for the search and the retrain.

The fast path (:class:`DeviceLoader`) keeps the decoded uint8 set on the training
device and augments whole batches there: one ``affine_grid`` + ``grid_sample``
call does every sample's random crop, resize and flip at once, so a GPU never
waits for a CPU worker.  Its position (permutation, cursor, generator state) is
explicit so a checkpoint can resume mid-epoch with the very same batches.
:class:`StreamLoader` is the plain ``DataLoader`` path for image folders too large
to decode into memory.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from core.config import DataConfig
from core.errors import PresnetError
from core.train.augment import crop_thetas, warp
from core.train.batches import EpochBatches, LoaderBase, Loaders, LoaderState
from core.train.data import (
    ImageSet,
    RetrainSplit,
    SearchData,
    calib_indices,
    load_search_data,
    retrain_cut,
)
from core.train.datadir import check_image_folder
from core.train.seeds import stream
from core.train.stream import stream_loaders


class DeviceLoader(EpochBatches):
    """Shuffled (or ordered) batches of an in-memory set, augmented on its device."""

    def __init__(  # noqa: PLR0913, PLR0917 -- a loader's whole setting; make_loaders passes LoaderBase
        self,
        data: ImageSet,
        cfg: DataConfig,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        device: torch.device,
        seed: int,
        shuffle: bool,
        augment: bool,
        channels_last: bool = False,
        shard: tuple[int, int] = (0, 1),
    ) -> None:
        self.cfg = cfg
        self.device = device
        # (rank, world size): a shuffled set's global batch is batch_size x world size; this rank
        # reads its slice of each, and draws the augmentation of the whole global batch (the same
        # generator on every rank), so that N ranks see exactly what one process with N x the batch would.
        self.rank, self.world = shard if shuffle else (0, 1)
        self.images = data.images.to(device)
        self.labels = data.labels.to(device)
        self.shuffle = shuffle
        self.augment = augment and cfg.augment != "none"
        self.batch_size = cfg.batch_size
        self.channels_last = channels_last
        self.size = cfg.image_size
        self.scale = torch.tensor(std, device=device).view(1, 3, 1, 1) * 255.0
        self.shift = torch.tensor(mean, device=device).view(1, 3, 1, 1) * 255.0
        self.generator = torch.Generator(device=device).manual_seed(seed)
        n = len(data)
        # Shuffled sets drop the ragged last batch (BatchNorm on a 1-image batch fails).
        self.steps_per_epoch = n // (self.batch_size * self.world) if shuffle else math.ceil(n / self.batch_size)
        self.perm: torch.Tensor | None = None
        self.pos = 0
        self.started = False

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def count(self) -> int:
        return len(self)

    def fixed(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The images at ``positions`` as one batch, touching neither the epoch's order nor the
        generator: only an unaugmented set (the validation split) can be read so."""
        if self.augment:
            raise ValueError("fixed batches come from an unaugmented set (its transform draws no random numbers)")
        idx = positions.to(self.device)
        return self.transform(self.images[idx]), self.labels[idx]

    def start_epoch(self) -> None:
        n = len(self)
        self.perm = torch.randperm(n, generator=self.generator, device=self.device) if self.shuffle else None
        self.pos = 0
        self.started = True

    def next(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The next batch, or None at the end of the epoch."""
        if self.pos >= self.steps_per_epoch:
            return None
        lo = (self.pos * self.world + self.rank) * self.batch_size
        hi = min(lo + self.batch_size, len(self))
        self.pos += 1
        if self.perm is not None:
            idx = self.perm[lo:hi]
            x, y = self.images[idx], self.labels[idx]
        else:
            x, y = self.images[lo:hi], self.labels[lo:hi]
        return self.transform(x), y

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 batch -> augmented (when training), normalised float batch."""
        x = x.float()
        if self.augment:
            n = x.shape[0]
            theta = crop_thetas(n * self.world, self.cfg, x.shape[2], x.shape[3], self.generator, self.device)
            x = warp(x, theta[self.rank * n : (self.rank + 1) * n] if self.world > 1 else theta, self.size)
        elif x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        x = (x - self.shift) / self.scale
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def state_dict(self) -> LoaderState:
        return {
            "perm": None if self.perm is None else self.perm.cpu(),
            "pos": self.pos,
            "started": self.started,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: LoaderState) -> None:
        self.perm = None if state["perm"] is None else state["perm"].to(self.device)
        self.pos = int(state["pos"])
        self.started = bool(state["started"])
        self.generator.set_state(state["generator"])


#: Decoded sets above this size stream from disk instead (pipeline: auto).
IN_MEMORY_LIMIT_BYTES = 4 << 30


def use_stream(cfg: DataConfig) -> bool:
    if cfg.pipeline == "device":
        return False
    if cfg.pipeline == "stream":
        if cfg.dataset != "imagefolder":
            raise PresnetError(
                f"the stream pipeline reads image folders, not {cfg.dataset}",
                where="data.pipeline",
                hint="use pipeline: device (the set fits in memory)",
            )
        return True
    if cfg.dataset != "imagefolder":
        return False
    from torchvision.datasets import ImageFolder

    train_dir, _ = check_image_folder(cfg.data_dir)
    n = len(ImageFolder(str(train_dir)).samples)
    return n * 3 * cfg.image_size**2 > IN_MEMORY_LIMIT_BYTES


def make_loaders(
    cfg: DataConfig,
    seed: int,
    device: torch.device,
    channels_last: bool,
    retrain: RetrainSplit | None,
    data: SearchData | None = None,
    shard: tuple[int, int] = (0, 1),
) -> Loaders:
    """Loaders for a search (train/val/test) or a retrain (train/val cut from train + val, test) on
    ``device``.

    ``shard`` = (rank, world size): the shuffled splits give this rank its slice of each global
    batch; validation, calibration and test sets are read whole by every rank.
    """
    if use_stream(cfg):
        return stream_loaders(cfg, seed, device, channels_last, retrain, shard)
    data = data or load_search_data(cfg, seed)
    common = LoaderBase(cfg=cfg, mean=data.mean, std=data.std, device=device, channels_last=channels_last)
    test = DeviceLoader(data.test, seed=stream(seed, "loader_test"), shuffle=False, augment=False, **common)
    if retrain is not None:
        full = data.full_train()
        keep, held = retrain_cut(full.labels, retrain.val_fraction, seed)
        part = full.subset(keep)
        train = DeviceLoader(
            part, seed=stream(seed, "loader_full_train"), shuffle=True, augment=True, shard=shard, **common
        )
        val = DeviceLoader(
            full.subset(held), seed=stream(seed, "loader_retrain_val"), shuffle=False, augment=False, **common
        )
        calib = None
        if retrain.calib_batches > 0:
            pick = calib_indices(len(part), retrain.calib_batches, cfg.batch_size, seed)
            calib = DeviceLoader(
                part.subset(pick), seed=stream(seed, "bn_calib"), shuffle=False, augment=False, **common
            )
        return Loaders(train, val, test, data.classes, calib)
    train = DeviceLoader(
        data.train, seed=stream(seed, "loader_train"), shuffle=True, augment=True, shard=shard, **common
    )
    val = DeviceLoader(data.val, seed=stream(seed, "loader_val"), shuffle=True, augment=False, shard=shard, **common)
    return Loaders(train, val, test, data.classes)
