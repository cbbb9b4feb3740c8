"""The plain ``DataLoader`` path, for image folders too large to decode into memory: torchvision
transforms in worker processes, the split and order seeded as the device path's are."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch

from core.config import DataConfig
from core.train.batches import EpochBatches, LoaderBase, Loaders, LoaderState
from core.train.data import (
    RetrainSplit,
    calib_indices,
    channel_stats,
    retrain_cut,
    stratified_split,
)
from core.train.datadir import check_image_folder
from core.train.seeds import stream


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
        self._it: Iterator[tuple[torch.Tensor, torch.Tensor]] | None = None

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

    def _iterator(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
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

    def state_dict(self) -> LoaderState:
        return {"perm": self.perm, "pos": self.pos, "started": self.started, "generator": self.generator.get_state()}

    def load_state_dict(self, state: LoaderState) -> None:
        self.perm, self.pos, self.started = state["perm"], int(state["pos"]), bool(state["started"])
        self.generator.set_state(state["generator"])
        self._it = None


def _random_transform(t: Any) -> bool:
    """A torchvision transform that draws random numbers (crops and flips)."""
    return type(t).__name__.startswith("Random")


class _Transformed(torch.utils.data.Dataset[tuple[torch.Tensor, int]]):
    def __init__(self, base: Any, transform: Any) -> None:
        self.base, self.transform = base, transform

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img, label = self.base[i]
        return self.transform(img), label


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


def stream_loaders(
    cfg: DataConfig,
    seed: int,
    device: torch.device,
    channels_last: bool,
    retrain: RetrainSplit | None,
    shard: tuple[int, int],
) -> Loaders:
    """Loaders that read an image folder through DataLoader workers (:func:`core.train.pipeline.make_loaders`'s
    other path, for sets too large to decode into memory)."""
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
