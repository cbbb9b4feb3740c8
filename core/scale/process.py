"""A sweep run's process: its own session and process group (a Ctrl+C at the terminal reaches the
sweep alone), its output in its log, and on Linux killed with the sweep process that started it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the run process gets SIGKILL when the sweep process dies, so a killed sweep never
    leaves a writer behind that a rerun would race (the run then resumes from its checkpoint)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


def popen_run(cmd: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start one run's process, its output appended to ``log`` (after the command line it runs)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as f:
        f.write(f"\n$ {' '.join(cmd)}\n".encode())
        f.flush()
        return subprocess.Popen(
            cmd,
            stdout=f,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            # Its own process group: a Ctrl+C at the terminal reaches the sweep alone, which passes
            # exactly one SIGINT on (a second one would cut a run's checkpoint short).
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
