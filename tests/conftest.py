from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.config import Config

REPO = Path(__file__).resolve().parents[1]
SHARED_SUBSET = Path(os.environ.get("PRESNET_CIFAR_SUBSET", REPO.parent / "shared" / "data" / "cifar10-subset"))


def tiny_config(tmp_path: Path, **sections) -> Config:
    """A ResNet-50-shaped network small enough for a CPU test: width 1/8, depths [1, 1, 2, 1]."""
    data = {
        "space": {"scope": "m"},
        "network": {"width_mult": 0.125, "depths": [1, 1, 2, 1]},
        "data": {"dataset": "digits", "batch_size": 32, "val_fraction": 0.25, "augment": "pad_crop", "flip": False},
        "search": {"epochs": 3, "warmup_epochs": 1, "arch_lr": 0.05, "alphas_every": 2},
        "retrain": {"epochs": 2},
        "run": {"device": "cpu", "out": str(tmp_path / "run")},
    }
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return Config.model_validate(data)


@pytest.fixture
def tiny(tmp_path: Path):
    return lambda **sections: tiny_config(tmp_path, **sections)


@pytest.fixture(scope="session")
def cifar_subset() -> Path:
    if not (SHARED_SUBSET / "train").is_dir():
        pytest.skip(f"shared CIFAR-10 subset not found at {SHARED_SUBSET}")
    return SHARED_SUBSET
