"""The run directory: everything a run leaves, and how to find it again.

runs/<timestamp>-<scope>/
  config.yaml      the resolved config          control.json   stop/pause requests
  events.jsonl     the event history            arch.json      the derived architecture
  checkpoints/     search.pt, retrain.pt        summary.json   the result
  weights/         retrain last.pt and best.pt (plain state_dicts)
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from core.config import Config, dump_yaml, load_yaml, validate
from core.errors import PresnetError
from core.events import AnyEvent, EpochEnd, SearchStarted, read_events
from core.io import atomic_write_text
from core.space import scope_name


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # layout
    @property
    def config_file(self) -> Path:
        return self.path / "config.yaml"

    @property
    def events_file(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def control_file(self) -> Path:
        return self.path / "control.json"

    @property
    def arch_file(self) -> Path:
        return self.path / "arch.json"

    @property
    def summary_file(self) -> Path:
        return self.path / "summary.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def search_ckpt(self) -> Path:
        return self.checkpoints / "search.pt"

    @property
    def retrain_ckpt(self) -> Path:
        return self.checkpoints / "retrain.pt"

    @property
    def weights(self) -> Path:
        return self.path / "weights"

    @classmethod
    def create(cls, config: Config, label: str | None = None) -> RunDir:
        """A fresh run directory (default name ``<timestamp>-<label or scope>``); refuses to reuse a run."""
        if config.run.out is not None:
            path = Path(config.run.out)
        else:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            name = f"{stamp}-{label or scope_name(config.space.scope)}"
            path = Path(config.run.runs_dir) / name
            n = 1
            while path.exists():
                n += 1
                path = Path(config.run.runs_dir) / f"{name}-{n}"
        if (path / "config.yaml").exists() or (path / "events.jsonl").exists():
            raise PresnetError(
                "already holds a run",
                where=f"run.out ({path})",
                hint=f"resume it with `presnet resume {path}` or choose another --out",
            )
        if path.exists() and not path.is_dir():
            raise PresnetError("exists and is not a directory", where=f"run.out ({path})", hint="choose another --out")
        try:
            (path / "checkpoints").mkdir(parents=True, exist_ok=True)
            (path / "weights").mkdir(exist_ok=True)
        except OSError as err:
            raise PresnetError(
                f"cannot create run directory: {err.strerror}",
                where=str(path),
                hint="check the path and write permission",
            ) from None
        run = cls(path)
        atomic_write_text(run.config_file, dump_yaml(config))
        return run

    def discard_if_unused(self) -> None:
        """Remove a directory that :meth:`create` made and nothing ran in (input errors found
        before the start), so that the same ``--out`` can be used once the input is fixed."""
        made = {"config.yaml", "summary.json", "checkpoints", "weights"}
        entries = {p.name for p in self.path.iterdir()} if self.path.is_dir() else set()
        if not entries <= made or any(any(d.iterdir()) for d in (self.checkpoints, self.weights) if d.is_dir()):
            return
        for name in ("config.yaml", "summary.json"):
            (self.path / name).unlink(missing_ok=True)
        for d in (self.checkpoints, self.weights):
            if d.is_dir():
                d.rmdir()
        self.path.rmdir()

    @classmethod
    def open(cls, path: Path) -> RunDir:
        """An existing run directory, or a clear error saying why it is not one."""
        path = Path(path)
        if not path.exists():
            raise PresnetError(
                "no such directory", where=str(path), hint="pass a run directory, e.g. runs/<timestamp>-s"
            )
        if not path.is_dir() or not (path / "config.yaml").is_file():
            raise PresnetError(
                "not a presnet run directory (no config.yaml)",
                where=str(path),
                hint="pass a directory made by `presnet run`/`presnet search`",
            )
        return cls(path)

    def config(self) -> Config:
        return validate(load_yaml(self.config_file), str(self.config_file))

    def events(self) -> list[AnyEvent]:
        return read_events(self.events_file) if self.events_file.exists() else []

    def epoch_history(self, events: list[AnyEvent] | None = None) -> list[EpochEnd]:
        """The epoch_end events, deduplicated by epoch (the last write wins).

        ``events``: the run's events when the caller has read them already (the file can be large).
        """
        by_epoch: dict[int, EpochEnd] = {}
        for e in self.events() if events is None else events:
            if isinstance(e, EpochEnd):
                by_epoch[e.epoch] = e
            elif isinstance(e, SearchStarted) and e.resumed:
                for ep in [k for k in by_epoch if k >= e.start_epoch]:
                    del by_epoch[ep]
        return [by_epoch[k] for k in sorted(by_epoch)]

    def summary(self) -> dict[str, Any]:
        if not self.summary_file.exists():
            return {}
        try:
            return json.loads(self.summary_file.read_text())
        except json.JSONDecodeError as err:
            raise PresnetError(f"summary.json is malformed: {err.msg}", where=str(self.summary_file)) from None

    def update_summary(self, **sections: Any) -> dict[str, Any]:
        data = self.summary()
        data.update(sections)
        atomic_write_text(self.summary_file, json.dumps(data, indent=2) + "\n")
        return data
