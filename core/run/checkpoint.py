"""Checkpoints: written atomically, read with ``weights_only=True``, checked before use.

A checkpoint carries a fingerprint of the network and search space it belongs
to, so that resuming with another space is refused with an explanation instead
of a shape error deep inside ``load_state_dict``.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict

from core.errors import PresnetError
from core.faults import fault_point
from core.io import atomic_write

FORMAT = 1
#: What a checkpoint belongs to (the network and space, or the architecture), as JSON-like data.
Fingerprint = dict[str, Any]


class CheckpointHeader(BaseModel):
    """What the search's and the retrain's checkpoints both say besides their tensors: where the loop
    stood, what it belongs to, how far the event file reached.  Read before any state is loaded
    (a resume checks the world size and repairs the event file from it); the loops add their own keys."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: Literal["search", "retrain"]
    fingerprint: Fingerprint  #: the network and space (search) or architecture (retrain) it belongs to
    epoch_done: int
    step: int  #: steps of the next epoch already taken (a checkpoint mid-epoch)
    global_step: int
    elapsed: float  #: seconds of training so far
    events_offset: int  #: the event file's length when it was written: a resume cuts the file back there
    finished: bool = False  #: the phase ran to its end, nothing is left to redo
    world_size: int = 1

    @classmethod
    def of(cls, payload: Mapping[str, Any]) -> CheckpointHeader:
        return cls.model_validate(dict(payload))


def save_checkpoint(path: Path, payload: Mapping[str, Any]) -> None:
    payload = {"format": FORMAT, **payload}
    buf = io.BytesIO()
    torch.save(payload, buf)
    data = buf.getvalue()
    label = f"{payload.get('kind')}-{payload.get('epoch_done')}" + ("-final" if payload.get("finished") else "")

    def write(f: Any) -> None:
        half = len(data) // 2
        f.write(data[:half])
        f.flush()
        fault_point("checkpoint", label)  # test-only: a kill in mid-write (core.faults)
        f.write(data[half:])

    # its folder too: a run directory copied without its empty checkpoints/ or weights/ (git, some sync
    # tools) still resumes to the end; where the folder cannot be made, atomic_write says so in one line
    folder = Path(path).parent
    if not folder.is_dir():
        with contextlib.suppress(OSError):
            folder.mkdir(parents=True)
    atomic_write(Path(path), write)


def load_checkpoint(path: Path, kind: str, fingerprint: Fingerprint | None = None) -> dict[str, Any]:
    """Load and validate; any problem is a :class:`PresnetError` and the file is left as it is."""
    path = Path(path)
    if not path.is_file():
        raise PresnetError("checkpoint not found", where=str(path), hint="the run has no checkpoint to resume from")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, OSError) as err:
        raise PresnetError(
            f"checkpoint is truncated or corrupt ({err.__class__.__name__})",
            where=str(path),
            hint="the run directory was left untouched; restore the file or start a new run",
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("kind") != kind:
        raise PresnetError(
            f"not a presnet {kind} checkpoint",
            where=str(path),
            hint="pass the run directory the checkpoint was written in",
        )
    if fingerprint is not None:
        check_fingerprint(payload, fingerprint, path)
    return payload


def check_fingerprint(payload: Mapping[str, Any], fingerprint: Fingerprint, path: Path) -> None:
    """Refuse a checkpoint of another network or search space, naming what differs."""
    theirs = payload.get("fingerprint") or {}
    if theirs == fingerprint:
        return
    diff = sorted(k for k in set(fingerprint) | set(theirs) if theirs.get(k) != fingerprint.get(k))
    raise PresnetError(
        f"checkpoint belongs to another search space or network (differs in: {', '.join(diff)})",
        where=str(path),
        hint="resume with the config the run was started with (its config.yaml)",
    )
