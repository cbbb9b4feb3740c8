"""Input checks a sweep's runs would otherwise each fail on, done once before any run starts."""

from __future__ import annotations

from pathlib import Path

from core.config import Config
from core.errors import PresnetError


def preflight(base: Config, *, local: bool) -> None:
    """Input checks the runs would otherwise each fail on, done once before any run starts.

    ``local``: the runs train on this machine, so its device must exist (a Ray cluster's
    driver need not have the GPUs its workers have).
    """
    from core.train.datadir import check_image_folder
    from core.train.device import resolve_device

    if local:
        resolve_device(base.run.device)
    data = base.data
    if data.dataset in ("cifar10", "cifar100") and data.download:
        from core.train.data import load_train_test

        load_train_test(data, base.run.seed)  # fetch once here, not once per run at the same time
    elif data.dataset == "imagefolder":
        check_image_folder(data.data_dir)
    elif data.dataset in ("cifar10", "cifar100") and not data.download:
        folder = Path(data.data_dir) / ("cifar-10-batches-py" if data.dataset == "cifar10" else "cifar-100-python")
        if not folder.is_dir():
            raise PresnetError(
                f"{data.dataset} not found (looked for {folder})",
                where="data.data_dir",
                hint="pass --download (fetched once, before any run; needs network) or point --data-dir at it",
            )
