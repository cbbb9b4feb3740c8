"""Datasets decoded to uint8 tensors, and the seeded stratified search split.

Every dataset presnet knows fits in memory once decoded (CIFAR-10 is 150 MB), so
the default path decodes it once and hands :mod:`core.train.pipeline` plain tensors; the
streaming path for large image folders lives in :mod:`core.train.pipeline` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from core.config import DataConfig
from core.errors import PresnetError
from core.train.datadir import check_image_folder, cifar_folder
from core.train.seeds import DATASET_SEED, stream


@dataclass
class ImageSet:
    """Decoded images (N, 3, H, W) uint8 and labels (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index: torch.Tensor) -> ImageSet:
        return ImageSet(self.images[index], self.labels[index])


@dataclass
class SearchData:
    """The three sets of a search: weights, alphas, final evaluation (never seen by the search)."""

    train: ImageSet
    val: ImageSet
    test: ImageSet
    classes: list[str]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def full_train(self) -> ImageSet:
        """train + val: what the retrain uses."""
        return ImageSet(
            torch.cat([self.train.images, self.val.images]), torch.cat([self.train.labels, self.val.labels])
        )


def stratified_split(labels: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded split keeping each class's share: returns (kept, held_out) sorted indices."""
    gen = torch.Generator().manual_seed(seed)
    kept, held = [], []
    for cls in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == cls).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_held = int(round(len(idx) * fraction))
        n_held = min(max(n_held, 1), len(idx) - 1) if len(idx) > 1 else 0
        held.append(idx[:n_held])
        kept.append(idx[n_held:])
    return torch.cat(kept).sort().values, torch.cat(held).sort().values


@dataclass(frozen=True)
class RetrainSplit:
    """How a retrain cuts train + val: ``val_fraction`` held out (seeded, stratified) to validate each
    epoch, and ``calib_batches`` fixed batches of the rest for BatchNorm's statistics (0: none)."""

    val_fraction: float
    calib_batches: int


def calib_indices(n: int, batches: int, batch_size: int, seed: int) -> torch.Tensor:
    """Positions (into a set of ``n``) of the fixed calibration images: a seeded draw, the same at
    every evaluation, so that recalibrated statistics depend on the weights only.  Full batches
    only (at most as many as the set holds): training-mode BatchNorm on a 1-image batch of 1x1 maps fails."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(stream(seed, "bn_calib")))
    return order[: min(batches, n // batch_size) * batch_size].sort().values


def retrain_cut(labels: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The retrain's (train, val) positions in train + val: seeded, stratified, fixed per seed."""
    return stratified_split(labels, fraction, stream(seed, "split_retrain_val"))


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Per-channel mean/std in [0, 1] units, in chunks so CIFAR-size sets need no float copy."""
    total = torch.zeros(3, dtype=torch.float64)
    total_sq = torch.zeros(3, dtype=torch.float64)
    count = 0
    for chunk in torch.split(images, 4096):
        x = chunk.double() / 255.0
        total += x.sum(dim=(0, 2, 3))
        total_sq += (x * x).sum(dim=(0, 2, 3))
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = (total_sq / count - mean * mean).clamp_min(1e-12).sqrt()
    return tuple(mean.tolist()), tuple(std.clamp_min(1e-3).tolist())


def _to_size(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = F.interpolate(images.float(), size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return out.round().clamp(0, 255).to(torch.uint8)


def _cifar(cfg: DataConfig, name: str) -> tuple[ImageSet, ImageSet, list[str]]:
    from torchvision import datasets

    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    root = Path(cfg.data_dir).expanduser()
    cifar_folder(cfg, name)
    try:
        train = cls(str(root), train=True, download=cfg.download)
        test = cls(str(root), train=False, download=cfg.download)
    except RuntimeError as err:
        raise PresnetError(
            f"{name} in {root} is unusable: {err}",
            where="data.data_dir",
            hint="delete the folder and rerun with --download",
        ) from None
    except OSError as err:
        raise PresnetError(
            f"could not fetch {name}: {err}",
            where="data.download",
            hint="check the network, or download it by hand into data_dir",
        ) from None

    def to_set(ds: Any) -> ImageSet:
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
        return ImageSet(_to_size(images, cfg.image_size), torch.tensor(ds.targets, dtype=torch.long))

    return to_set(train), to_set(test), list(train.classes)


def _read_folder(root: Path, size: int) -> tuple[ImageSet, list[str]]:
    from PIL import Image, UnidentifiedImageError
    from torchvision.datasets import ImageFolder
    from torchvision.transforms.functional import pil_to_tensor

    try:
        ds = ImageFolder(str(root))
    except FileNotFoundError as err:
        raise PresnetError(
            f"no usable image classes: {err}", where=str(root), hint="lay images out as <class>/<image>.jpg"
        ) from None
    images = []
    for path, _ in ds.samples:
        try:
            with Image.open(path) as im:
                img = im.convert("RGB")
        except (UnidentifiedImageError, OSError) as err:
            raise PresnetError(
                f"cannot read image: {err.__class__.__name__}", where=path, hint="remove or replace the file"
            ) from None
        if img.size != (size, size):
            img = img.resize((size, size), Image.Resampling.BILINEAR)
        images.append(pil_to_tensor(img))
    labels = torch.tensor([t for _, t in ds.samples], dtype=torch.long)
    return ImageSet(torch.stack(images), labels), list(ds.classes)


def _imagefolder(cfg: DataConfig) -> tuple[ImageSet, ImageSet, list[str]]:
    train_dir, test_dir = check_image_folder(cfg.data_dir)
    train, classes = _read_folder(train_dir, cfg.image_size)
    test, _ = _read_folder(test_dir, cfg.image_size)
    return train, test, classes


def _digits(cfg: DataConfig, seed: int) -> tuple[ImageSet, ImageSet, list[str]]:
    """scikit-learn's bundled 8x8 digits, upscaled to RGB; the test set is a seeded stratified cut."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy(d.images).float().mul(255.0 / 16.0).unsqueeze(1)
    x = F.interpolate(x, size=(cfg.image_size, cfg.image_size), mode="bilinear", align_corners=False)
    images = x.round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    full = ImageSet(images, torch.from_numpy(d.target).long())
    train_idx, test_idx = stratified_split(full.labels, cfg.test_fraction, stream(DATASET_SEED, "split_test"))
    return full.subset(train_idx), full.subset(test_idx), [str(i) for i in range(10)]


def _synthetic(cfg: DataConfig, seed: int) -> tuple[ImageSet, ImageSet, list[str]]:
    gen = torch.Generator().manual_seed(stream(DATASET_SEED, "dataset"))  # the same images whatever the run seed
    n, s = cfg.synthetic_size, cfg.image_size
    images = torch.randint(0, 256, (n, 3, s, s), dtype=torch.uint8, generator=gen)
    labels = torch.arange(n) % cfg.synthetic_classes
    full = ImageSet(images, labels)
    train_idx, test_idx = stratified_split(labels, cfg.test_fraction, stream(DATASET_SEED, "split_test"))
    return full.subset(train_idx), full.subset(test_idx), [str(i) for i in range(cfg.synthetic_classes)]


def load_train_test(cfg: DataConfig, seed: int) -> tuple[ImageSet, ImageSet, list[str]]:
    """The dataset's training and test sets, decoded."""
    if cfg.dataset in ("cifar10", "cifar100"):
        return _cifar(cfg, cfg.dataset)
    if cfg.dataset == "imagefolder":
        return _imagefolder(cfg)
    if cfg.dataset == "digits":
        return _digits(cfg, seed)
    return _synthetic(cfg, seed)


def load_search_data(cfg: DataConfig, seed: int) -> SearchData:
    """Train/val (seeded, stratified, carved from the training set) and test."""
    train_full, test, classes = load_train_test(cfg, seed)
    if cfg.limit_train is not None and cfg.limit_train < len(train_full):
        keep, _ = stratified_split(
            train_full.labels, 1 - cfg.limit_train / len(train_full), stream(seed, "split_limit")
        )
        train_full = train_full.subset(keep)
    train_idx, val_idx = stratified_split(train_full.labels, cfg.val_fraction, stream(seed, "split_val"))
    train, val = train_full.subset(train_idx), train_full.subset(val_idx)
    if len(train) < 1 or len(val) < 1:  # batch sizes against each split: core.train.preflight, per phase
        raise PresnetError(
            f"{len(train_full)} training images cannot be split into train and validation",
            where="data",
            hint="use more training data",
        )
    mean, std = channel_stats(train.images)
    return SearchData(train, val, test, classes, mean, std)
