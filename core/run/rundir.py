"""The run directory: everything a run leaves, and how to find it again.

runs/<timestamp>-<scope>/
  config.yaml      the resolved config          control.json   stop/pause requests
  events.jsonl     the event history            arch.json      the derived architecture
  checkpoints/     search.pt, retrain.pt        summary.json   the result
  weights/         the retrain's last.pt (final state_dict with its architecture; core.load_model)
  run.lock         held by the one process writing the run (core.run.lock)
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from core.config import Config, dump_yaml, load_yaml, validate
from core.errors import PresnetError
from core.io import atomic_write_text
from core.run.events import AnyEvent, EpochEnd, SearchStarted, read_events
from core.run.lock import LOCK_FILE, RunLock, acquire, live_error
from core.run.summary import RunSummary, read_summary, updated, write_summary
from core.space import scope_name

#: the retrain's weight file inside :attr:`RunDir.weights`: its final weights (none is chosen on test data)
LAST_WEIGHTS = "last.pt"


def _mkdir(path: Path, exist_ok: bool) -> bool:
    """Make ``path`` (and its parents); False if it exists and ``exist_ok`` is not set."""
    try:
        path.mkdir(parents=True, exist_ok=exist_ok)
    except FileExistsError:
        return False
    except OSError as err:
        raise PresnetError(
            f"cannot create run directory: {err.strerror}", where=str(path), hint="check the path and write permission"
        ) from None
    return True


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock: RunLock | None = None
        self._writer: object | None = None

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
    def progress_file(self) -> Path:
        """The newest progress event (core.run.progress), for a watcher in another process."""
        return self.path / "progress.json"

    @property
    def worker_log(self) -> Path:
        """A detached worker's stdout and stderr (core.run.handle)."""
        return self.path / "worker.log"

    @property
    def arch_file(self) -> Path:
        return self.path / "arch.json"

    @property
    def retrain_arch_file(self) -> Path:
        """The architecture the retrain trains: arch.json, or the file summary.json names for a
        retrain of another architecture than the search's (``retrain_arch``)."""
        name = self.summary().retrain_arch
        return self.path / name if name else self.arch_file

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

    @property
    def error_log(self) -> Path:
        """A bug's traceback (the run's error event points here)."""
        return self.path / "error.log"

    @classmethod
    def create(cls, config: Config, label: str | None = None) -> RunDir:
        """A fresh run directory (default name ``<timestamp>-<label or scope>``); refuses to reuse a run.

        The directory's lock is taken before anything is written in it, so two writers
        racing for the same ``--out`` cannot both start: the second is refused at once.
        """
        if config.run.out is not None:
            path = Path(config.run.out)
            if path.exists() and not path.is_dir():
                raise PresnetError(
                    "exists and is not a directory", where=f"run.out ({path})", hint="choose another --out"
                )
            _mkdir(path, exist_ok=True)
        else:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            name = f"{stamp}-{label or scope_name(config.space.scope)}"
            path = Path(config.run.runs_dir) / name
            n = 1
            while not _mkdir(path, exist_ok=False):  # another run took this name this very second
                n += 1
                path = Path(config.run.runs_dir) / f"{name}-{n}"
        run = cls(path)
        run.take_lock()
        try:
            if run.config_file.exists() or run.events_file.exists():
                raise PresnetError(
                    "already holds a run",
                    where=f"run.out ({path})",
                    hint=f"resume it with `presnet resume {path}` or choose another --out",
                )
            _mkdir(run.checkpoints, exist_ok=True)
            _mkdir(run.weights, exist_ok=True)
            atomic_write_text(run.config_file, dump_yaml(config))
        except BaseException:
            run.release_lock(refused=True)
            raise
        return run

    # ownership (core.run.lock): one writer at a time
    def take_lock(self, writer: object | None = None) -> None:
        """Become this directory's only writer, or raise :class:`~core.run.lock.RunIsLive` at once.

        ``writer`` (a job) also keeps a second job of this process out while the first holds it."""
        if self._lock is None or not self._lock.held:
            self._lock = acquire(self.path)
        elif writer is not None and self._writer not in (None, writer):
            raise live_error(self.path)
        if writer is not None:
            self._writer = writer

    def release_lock(self, refused: bool = False) -> None:
        """Let the directory go; ``refused``: nothing was written, so the lock file gets its last
        owner's record back (a refused writer leaves the run as it found it)."""
        self._writer = None
        if self._lock is not None:
            if refused:
                self._lock.release_refused()
            else:
                self._lock.release()
            self._lock = None

    def discard_if_unused(self) -> None:
        """Remove a directory that :meth:`create` made and nothing ran in (input errors found
        before the start), so that the same ``--out`` can be used once the input is fixed.
        Only the lock's holder may do this; the lock file goes last, while still held."""
        if self._lock is None:
            return
        made = {p.name for p in (self.config_file, self.summary_file, self.checkpoints, self.weights)} | {LOCK_FILE}
        entries = {p.name for p in self.path.iterdir()} if self.path.is_dir() else set()
        if not entries <= made or any(any(d.iterdir()) for d in (self.checkpoints, self.weights) if d.is_dir()):
            return
        for path in (self.config_file, self.summary_file, self.path / LOCK_FILE):
            path.unlink(missing_ok=True)
        self.release_lock()
        try:  # best effort: the input error that brought us here is what the user must see
            for d in (self.checkpoints, self.weights):
                if d.is_dir():
                    d.rmdir()
            self.path.rmdir()
        except OSError:  # something else appeared in it meanwhile: leave the directory as it is
            return

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

    def summary(self) -> RunSummary:
        """The run's ``summary.json`` (empty before its search or retrain has ended)."""
        return read_summary(self.summary_file)

    def update_summary(self, **sections: Any) -> RunSummary:
        """Replace whole sections of ``summary.json`` (one writer per run directory: this run's job)."""
        summary = updated(self.summary(), **sections)
        write_summary(self.summary_file, summary, ",".join(sections))
        return summary
