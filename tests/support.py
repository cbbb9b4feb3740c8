"""Helpers shared by the tests (not a test file): the CLI in process, and the CLI as a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from presnet_tui.cli import app

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "presnet_tui.cli"]
cli = CliRunner()


def invoke(*args: object):
    """``presnet ARGS`` in this process (exceptions propagate: a traceback fails the test)."""
    return cli.invoke(app, [str(a) for a in args], catch_exceptions=False)


def child_env(fault: str | None = None) -> dict[str, str]:
    """The environment of a ``presnet`` child: this checkout first, one thread, no stray fault point."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120", "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env.pop("PRESNET_FAULT", None)
    if fault:
        env["PRESNET_FAULT"] = fault  # core.faults: the child kills itself there
    return env


def spawn(args: list[object], fault: str | None = None, **kw) -> subprocess.Popen:
    """``presnet ARGS`` as a child process (stdout dropped, stderr piped unless ``kw`` says otherwise)."""
    kw.setdefault("stdout", subprocess.DEVNULL)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([*CLI, *map(str, args)], env=child_env(fault), **kw)
