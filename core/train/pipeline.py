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
from collections.abc import Iterator
from typing import Any, Protocol, TypedDict

import torch
import torch.nn.functional as F

from core.config import DataConfig
from core.errors import PresnetError
from core.train.augment import crop_thetas, warp
from core.train.data import (
    ImageSet,
    RetrainSplit,
    SearchData,
    calib_indices,
    channel_stats,
    check_image_folder,
    load_search_data,
    retrain_cut,
    stratified_split,
)
from core.train.seeds import stream


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
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


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

    def state_dict(self) -> dict[str, Any]:
        return {
            "perm": None if self.perm is None else self.perm.cpu(),
            "pos": self.pos,
            "started": self.started,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.perm = None if state["perm"] is None else state["perm"].to(self.device)
        self.pos = int(state["pos"])
        self.started = bool(state["started"])
        self.generator.set_state(state["generator"])


class StreamLoader(EpochBatches):
    """torchvision transforms in DataLoader workers, for image folders too large for memory.

    Resuming restores the epoch's order and position; the random crops of the
    remaining batches are drawn afresh (workers keep their own generators).
    """

    def __init__(  # noqa: PLR0913, PLR0917 -- a loader's whole setting; make_loaders passes LoaderBase
        self,
        dataset: Any,
        indices: torch.Tensor,
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
        from torchvision import transforms as T

        train = augment
        steps = []
        if train and cfg.augment == "crop_resize":
            steps.append(T.RandomResizedCrop(cfg.image_size, scale=(cfg.crop_scale_min, 1.0)))
        else:
            steps.append(T.Resize((cfg.image_size, cfg.image_size)))
            if train and cfg.augment == "pad_crop":
                steps.append(T.RandomCrop(cfg.image_size, padding=4))
        if train and cfg.flip and cfg.augment != "none":
            steps.append(T.RandomHorizontalFlip())
        steps += [T.ToTensor(), T.Normalize(mean, std)]
        self.transform = T.Compose(steps)
        self.dataset = dataset
        self.indices = indices
        self.cfg = cfg
        self.device = device
        self.shuffle = shuffle
        self.channels_last = channels_last
        self.generator = torch.Generator().manual_seed(seed)
        self.rank, self.world = shard if shuffle else (0, 1)  # as DeviceLoader: a slice of each global batch
        n = len(indices)
        self.steps_per_epoch = n // (cfg.batch_size * self.world) if shuffle else math.ceil(n / cfg.batch_size)
        self.perm: torch.Tensor | None = None
        self.pos = 0
        self._it: Iterator | None = None

    def start_epoch(self) -> None:
        order = (
            torch.randperm(len(self.indices), generator=self.generator)
            if self.shuffle
            else torch.arange(len(self.indices))
        )
        self.perm = self.indices[order]
        self.pos = 0
        self.started = True
        self._it = None

    def count(self) -> int:
        return len(self.indices)

    def fixed(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The images at ``positions`` (of this loader's indices), decoded here with the resize and
        normalisation of a validation set: no random transform, no worker, no generator."""
        from torchvision import transforms as T

        plain = T.Compose([t for t in self.transform.transforms if not _random_transform(t)])
        pairs = [self.dataset[int(i)] for i in self.indices[positions].tolist()]
        x = torch.stack([plain(img) for img, _ in pairs]).to(self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, torch.tensor([label for _, label in pairs], device=self.device)

    def _iterator(self) -> Iterator:
        from torch.utils.data import DataLoader, Subset

        assert self.perm is not None
        b = self.cfg.batch_size
        if self.world > 1:
            span = self.perm[self.pos * b * self.world : self.steps_per_epoch * b * self.world]
            rest = span.view(-1, self.world, b)[:, self.rank].reshape(-1).tolist()
        else:
            rest = self.perm[self.pos * b :].tolist()
        ds = _Transformed(Subset(self.dataset, rest), self.transform)
        return iter(
            DataLoader(
                ds,
                batch_size=self.cfg.batch_size,
                shuffle=False,
                drop_last=self.shuffle,
                num_workers=self.cfg.workers,
                pin_memory=self.device.type == "cuda",
            )
        )

    def next(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        if self.pos >= self.steps_per_epoch:
            return None
        if self._it is None:
            self._it = self._iterator()
        x, y = next(self._it)
        self.pos += 1
        x = x.to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y.to(self.device, non_blocking=True)

    def state_dict(self) -> dict[str, Any]:
        return {"perm": self.perm, "pos": self.pos, "started": self.started, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.perm, self.pos, self.started = state["perm"], int(state["pos"]), bool(state["started"])
        self.generator.set_state(state["generator"])
        self._it = None


def _random_transform(t: Any) -> bool:
    """A torchvision transform that draws random numbers (crops and flips)."""
    return type(t).__name__.startswith("Random")


class _Transformed(torch.utils.data.Dataset):
    def __init__(self, base: Any, transform: Any) -> None:
        self.base, self.transform = base, transform

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img, label = self.base[i]
        return self.transform(img), label


#: Decoded sets above this size stream from disk instead (pipeline: auto).
IN_MEMORY_LIMIT_BYTES = 4 << 30


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
        return _stream_loaders(cfg, seed, device, channels_last, retrain, shard)
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


def stream_split(cfg: DataConfig, seed: int) -> tuple[Any, Any, torch.Tensor, torch.Tensor]:
    """An image folder's datasets and its seeded train/val indices, without decoding an image."""
    from torchvision.datasets import ImageFolder

    train_dir, test_dir = check_image_folder(cfg.data_dir)
    train_ds, test_ds = ImageFolder(str(train_dir)), ImageFolder(str(test_dir))
    labels = torch.tensor(train_ds.targets)
    if cfg.limit_train is not None and cfg.limit_train < len(labels):
        keep, _ = stratified_split(labels, 1 - cfg.limit_train / len(labels), stream(seed, "split_limit"))
    else:
        keep = torch.arange(len(labels))
    tr, va = stratified_split(labels[keep], cfg.val_fraction, stream(seed, "split_val"))
    return train_ds, test_ds, keep[tr], keep[va]


def _stream_loaders(
    cfg: DataConfig,
    seed: int,
    device: torch.device,
    channels_last: bool,
    retrain: RetrainSplit | None,
    shard: tuple[int, int],
) -> Loaders:
    train_ds, test_ds, train_idx, val_idx = stream_split(cfg, seed)
    sample = train_idx[
        torch.randperm(len(train_idx), generator=torch.Generator().manual_seed(stream(seed, "stats_sample")))[:512]
    ]
    mean, std = channel_stats(_decode(train_ds, sample, cfg.image_size))
    common = LoaderBase(cfg=cfg, mean=mean, std=std, device=device, channels_last=channels_last)
    test = StreamLoader(
        test_ds, torch.arange(len(test_ds)), seed=stream(seed, "loader_test"), shuffle=False, augment=False, **common
    )
    if retrain is not None:
        full = torch.cat([train_idx, val_idx]).sort().values
        keep, held = retrain_cut(torch.tensor(train_ds.targets)[full], retrain.val_fraction, seed)
        part = full[keep]
        calib = None
        if retrain.calib_batches > 0:
            pick = part[calib_indices(len(part), retrain.calib_batches, cfg.batch_size, seed)]
            calib = StreamLoader(train_ds, pick, seed=stream(seed, "bn_calib"), shuffle=False, augment=False, **common)
        return Loaders(
            StreamLoader(
                train_ds,
                part,
                seed=stream(seed, "loader_full_train"),
                shuffle=True,
                augment=True,
                shard=shard,
                **common,
            ),
            StreamLoader(
                train_ds, full[held], seed=stream(seed, "loader_retrain_val"), shuffle=False, augment=False, **common
            ),
            test,
            train_ds.classes,
            calib,
        )
    return Loaders(
        StreamLoader(
            train_ds, train_idx, seed=stream(seed, "loader_train"), shuffle=True, augment=True, shard=shard, **common
        ),
        StreamLoader(
            train_ds, val_idx, seed=stream(seed, "loader_val"), shuffle=True, augment=False, shard=shard, **common
        ),
        test,
        train_ds.classes,
    )


def _decode(ds: Any, index: torch.Tensor, size: int) -> torch.Tensor:
    """A few images of a folder dataset as a uint8 batch (for the normalisation statistics)."""
    from torchvision.transforms.functional import pil_to_tensor

    return torch.stack(
        [pil_to_tensor(ds.loader(ds.samples[i][0]).convert("RGB").resize((size, size))) for i in index.tolist()]
    )
