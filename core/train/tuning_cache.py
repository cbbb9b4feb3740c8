"""``auto``'s measured choices, kept per machine and workload, so that a seed gives one result here.

Two memory formats (or precisions) compute the same function in a different order, so the same seed's
search goes elsewhere under each: the quickstart, seed 0, measured channels_last "on" (0.71x) on the
idle 2-core machine and "off" (a 1.00x tie read as 0.83x) under load 4, and the two runs differed from
the first epoch on, one converging at epoch 17, the other running all 24.  A choice made afresh by
every run would make a seed's result depend on the machine's load at its start.

So the first measurement of a workload on a machine is kept (``tuning.json`` in the user's cache
directory: ``$PRESNET_CACHE_DIR``, else ``$XDG_CACHE_HOME/presnet``, else ``~/.cache/presnet``) and
later runs of the same workload reuse it: same machine, same seed, same result, and no measuring
time.  The key is what makes a measurement valid: the device (its model name, cores and torch's
threads), torch's version, the network's parameter shapes, the architecture step measured, the
batch and image size, and the options that were open.  Deleting the file measures again; an
unreadable file is measured over.  ``presnet bench`` always measures (it is the measurement).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import torch
from pydantic import BaseModel, ValidationError

from core.errors import PresnetError
from core.io import atomic_write_text
from core.run.tuning import Tuning
from core.train.device import device_name

ENV = "PRESNET_CACHE_DIR"
FILE = "tuning.json"


class CachedTuning(BaseModel):
    """One workload's measurement: what was chosen, when, on what."""

    tuning: Tuning
    measured_at: str  #: UTC, ISO 8601
    workload: dict[str, object]  #: the key's ingredients, readable (the key is their hash)


def cache_path() -> Path:
    """Where the kept measurements live (the environment decides; nothing is created by asking)."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV]) / FILE
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "presnet" / FILE


def workload(model: torch.nn.Module, device: torch.device, shape: dict[str, object]) -> dict[str, object]:
    """The ingredients of a key: the hardware and torch, the network's parameter shapes (hashed), and
    ``shape`` (batch, image size, architecture step, the options tried)."""
    params = hashlib.sha256(repr([(n, tuple(p.shape)) for n, p in model.named_parameters()]).encode()).hexdigest()[:16]
    return {
        "device": device_name(device),
        "threads": torch.get_num_threads() if device.type == "cpu" else None,
        "torch": torch.__version__,
        "network": f"{type(model).__name__}:{params}",
        **shape,
    }


def key(ingredients: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(ingredients, sort_keys=True, default=str).encode()).hexdigest()


def _read(path: Path) -> dict[str, CachedTuning]:
    try:
        raw = json.loads(path.read_text())
        return {k: CachedTuning.model_validate(v) for k, v in raw.items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, ValidationError, AttributeError):
        return {}  # a cache, not a record: an unreadable one is measured over


def lookup(ingredients: dict[str, object]) -> CachedTuning | None:
    """The kept measurement of this workload on this machine, if any."""
    return _read(cache_path()).get(key(ingredients))


def store(ingredients: dict[str, object], tuning: Tuning) -> Path | None:
    """Keep ``tuning`` for this workload (temp file, then rename); None where the cache cannot be written
    (a read-only home): the run goes on, measuring again next time."""
    path = cache_path()
    entries = _read(path)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    entries[key(ingredients)] = CachedTuning(tuning=tuning, measured_at=stamp, workload=ingredients)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({k: v.model_dump(mode="json") for k, v in entries.items()}, indent=1))
    except (OSError, PresnetError):  # atomic_write_text says PresnetError for a write it could not make
        return None
    return path
