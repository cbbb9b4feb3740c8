"""Where a dataset's files are: checked before torch loads, so that a wrong ``--data-dir`` is one line
in under a second (the decoding itself, :mod:`core.train.data`, needs torch)."""

from __future__ import annotations

from pathlib import Path

from core.config import DataConfig
from core.errors import PresnetError


def check_data_dir(cfg: DataConfig) -> None:
    """Refuse a data folder the dataset cannot be read from (the bundled and synthetic sets need none)."""
    if cfg.dataset == "imagefolder":
        check_image_folder(cfg.data_dir)
    elif cfg.dataset in ("cifar10", "cifar100"):
        cifar_folder(cfg, cfg.dataset)


def cifar_folder(cfg: DataConfig, name: str) -> Path:
    """The folder torchvision's CIFAR reader expects under ``data_dir``; missing without ``--download``: refused."""
    folder = Path(cfg.data_dir).expanduser() / ("cifar-10-batches-py" if name == "cifar10" else "cifar-100-python")
    if not cfg.download and not folder.is_dir():
        raise PresnetError(
            f"{name} not found (looked for {folder})",
            where="data.data_dir",
            hint="pass --download (needs network) or point --data-dir at the folder holding it",
        )
    return folder


def check_image_folder(root: Path) -> tuple[Path, Path]:
    """The train/ and test/ folders of an imagefolder dataset, with matching classes."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise PresnetError(
            "data_dir does not exist",
            where=f"data.data_dir ({root})",
            hint="point --data-dir at a folder with train/<class>/ and test/<class>/",
        )
    train, test = root / "train", root / "test"
    for part in (train, test):
        if not part.is_dir():
            raise PresnetError(
                f"missing {part.name}/ folder",
                where=f"data.data_dir ({root})",
                hint="an imagefolder dataset needs train/<class>/* and test/<class>/*",
            )
    classes = {p: sorted(d.name for d in p.iterdir() if d.is_dir()) for p in (train, test)}
    if not classes[train]:
        raise PresnetError("no class folders", where=str(train), hint="put each class's images in train/<class>/")
    if classes[train] != classes[test]:
        only = sorted(set(classes[train]) ^ set(classes[test]))
        raise PresnetError(
            f"train and test classes differ ({', '.join(only)})",
            where=str(root),
            hint="give train/ and test/ the same class folders",
        )
    return train, test
