"""Starting a run from the TUI: a detached worker (core.api.handle) running this checkout's CLI headless.

The app never runs the engine itself: the worker is ``presnet search`` (a new search), ``presnet resume
--search-only`` (a search continued) or ``presnet resume --arch`` (the retrain of a chosen architecture),
each in its own session, so that the run outlives the terminal, the SSH connection or the browser tab.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from core.api.handle import RunHandle
from core.api.runs import new_run_path
from core.config import Config, dump_yaml

if TYPE_CHECKING:
    from core.api.arch import Architecture


def worker_command(*args: str) -> list[str]:
    """``presnet ARGS`` as this interpreter runs this checkout's CLI (the worker imports what the app does)."""
    return [sys.executable, "-m", "presnet_tui.cli", *args]


def _scratch(directory: Path, suffix: str, text: str) -> Path:
    """A file for the worker to read at its start (beside the run, not in it: the worker is its one writer)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".presnet-start-", suffix=suffix, dir=directory)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return Path(name)


def start_search(config: Config, paused: bool = False, retrain: bool = False) -> RunHandle:
    """A new run, started detached: search only (``presnet tui``: the user retrains with ``r``), or
    search then retrain (``presnet run`` with the TUI: the worker goes on to the retrain by itself)."""
    path = new_run_path(config)
    cfg = _scratch(path.parent, ".yaml", dump_yaml(config))
    what = ["run", "--headless"] if retrain else ["search"]
    try:
        return RunHandle.start(worker_command(*what, "--config", str(cfg), "--out", str(path)), path, paused=paused)
    finally:
        cfg.unlink(missing_ok=True)


def continue_search(run_dir: Path) -> RunHandle:
    """A stopped or crashed search continued from its checkpoint, detached (``presnet tui --resume``)."""
    return RunHandle.start(worker_command("resume", str(run_dir), "--search-only"), run_dir)


def start_retrain(run_dir: Path, arch: Architecture, epochs: int) -> RunHandle:
    """The retrain of ``arch`` for ``epochs`` in the run that found it, detached (the search screen's ``r``)."""
    file = _scratch(Path(run_dir).parent, ".json", arch.model_dump_json())
    try:
        command = worker_command("resume", str(run_dir), "--arch", str(file), "--retrain-epochs", str(epochs))
        return RunHandle.start(command, run_dir, history=False)
    finally:
        file.unlink(missing_ok=True)


def leaving_lines(paths: list[Path], live: set[Path]) -> list[str]:
    """What the shell shows once the app is gone: each run and how to find it again -- only the commands
    that apply (a finished run has nothing to stop or resume; a detached one nothing to resume yet)."""
    from core.api.rundirs import RunDir
    from core.api.steer import finished

    lines = []
    for path in paths:
        done = None if path in live else finished(RunDir(Path(path)))
        state = "runs on (detached)" if path in live else f"finished (its {done} is done)" if done else "not running"
        lines += [f"run {path}: {state}", f"  attach:  presnet tui --attach {path}"]
        if done:
            lines.append(f"  result:  presnet compare {path}")
            continue
        lines.append(
            f"  stop:    presnet stop {path}" if path in live else f"  resume:  presnet resume {path} --headless"
        )
    return lines
