from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from core.config import Config
from core.run.control import Control
from core.run.events import AnyEvent, EventBus
from core.run.rundir import RunDir
from core.train.job import Job
from core.train.runner import Runner

REPO = Path(__file__).resolve().parents[1]
SHARED_SUBSET = Path(os.environ.get("PRESNET_CIFAR_SUBSET", REPO.parent / "shared" / "data" / "cifar10-subset"))


@pytest.fixture(autouse=True)
def _own_tuning_cache(tmp_path_factory, monkeypatch):
    """Each test keeps ``auto``'s measurements (core.train.tuning_cache) in a directory of its own, never
    the user's ~/.cache, and starts with none; its child processes inherit the setting."""
    monkeypatch.setenv("PRESNET_CACHE_DIR", str(tmp_path_factory.mktemp("tuning-cache")))


def tiny_config(tmp_path: Path, **sections) -> Config:
    """A ResNet-50-shaped network small enough for a CPU test: width 1/8, depths [1, 1, 2, 1]."""
    data = {
        "space": {"scope": "m"},
        "network": {"width_mult": 0.125, "depths": [1, 1, 2, 1]},
        "data": {"dataset": "digits", "batch_size": 32, "val_fraction": 0.25, "augment": "pad_crop", "flip": False},
        "search": {"epochs": 3, "warmup_epochs": 1, "arch_lr": 0.05, "alphas_every": 2},
        "retrain": {"epochs": 2},
        # channels_last explicit: a test's numerics must not hang on which format measured faster
        # (auto's own tests: tests/train/test_autotune.py)
        "run": {"device": "cpu", "out": str(tmp_path / "run"), "channels_last": "off"},
    }
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return Config.model_validate(data)


@pytest.fixture
def tiny(tmp_path: Path):
    return lambda **sections: tiny_config(tmp_path, **sections)


#: Random images: the fastest data for tests that exercise the loops, not the learning.
SYNTHETIC_DATA = {"dataset": "synthetic", "synthetic_size": 256, "batch_size": 16}


@pytest.fixture
def synthetic(tiny):
    """``synthetic(epochs=4, **search)``: the tiny network on synthetic images, one retrain epoch."""

    def make(epochs: int = 4, **search) -> Config:
        return tiny(data=SYNTHETIC_DATA, search={"epochs": epochs, "warmup_epochs": 1, **search}, retrain={"epochs": 1})

    return make


def start_job(cfg: Config, on_event=None, **job_kw) -> tuple[Runner, RunDir, list[AnyEvent]]:
    """Start a job on a runner thread; returns the runner, its run directory and every event it emits.

    ``on_event(event, control, run_dir)`` is called in the engine thread (to stop or pause at a chosen moment).
    """
    bus = EventBus()
    seen: list[AnyEvent] = []
    bus.subscribe(seen.append)
    control = Control()
    run = RunDir.create(cfg) if not job_kw.get("resume") else RunDir.open(cfg.run.out)
    if on_event is not None:
        bus.subscribe(lambda e: on_event(e, control, run))
    runner = Runner(Job(cfg, run, bus, control, **job_kw)).start()
    return runner, run, seen


@pytest.fixture
def start():
    """:func:`start_job` as a fixture."""
    return start_job


@pytest.fixture
def tiny_yaml(tmp_path: Path) -> Path:
    """A config file for the CLI: the tiny network, two search epochs on synthetic images, one retrain epoch."""
    cfg = {
        "space": {"scope": "s"},
        "network": {"width_mult": 0.125, "depths": [1, 1, 2, 1]},
        "data": {"dataset": "synthetic", "synthetic_size": 200, "batch_size": 16},
        "search": {"epochs": 2, "warmup_epochs": 1, "alphas_every": 1},
        "retrain": {"epochs": 1},
        "run": {"device": "cpu", "runs_dir": "runs"},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture
def no_run(monkeypatch):
    """For tests of argument handling only: starting a job or the TUI fails the test."""
    import presnet_tui.app.app
    import presnet_tui.cli.commands.runs

    def refuse(*args, **kwargs):
        pytest.fail("a run started in a test of argument handling")

    monkeypatch.setattr(presnet_tui.cli.commands.runs, "_start", refuse)
    monkeypatch.setattr(presnet_tui.app.app.PresnetApp, "run", refuse)


@pytest.fixture(scope="session")
def cifar_subset() -> Path:
    if not (SHARED_SUBSET / "train").is_dir():
        pytest.skip(f"shared CIFAR-10 subset not found at {SHARED_SUBSET}")
    return SHARED_SUBSET
