"""``presnet``: the command line (Typer), one app whose commands live in :mod:`presnet_tui.cli.commands`.

Every command turns a :class:`~core.errors.PresnetError` into one line on stderr and exit code 2;
a run that fails exits 1; success exits 0.
"""

from __future__ import annotations

import os
import sys

from presnet_tui.cli.commands import app
from presnet_tui.cli.commands.common import FastExit
from presnet_tui.cli.commands.sweep import ray_address_argv
from presnet_tui.cli.commands.tui import tui_main

__all__ = ["app", "main", "tui_main"]


def main() -> None:
    sys.argv = ray_address_argv(sys.argv)
    try:
        app()
    except SystemExit as done:
        if not FastExit.wanted:
            raise
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
