"""``presnet``: the command line (Typer), one app whose commands live in :mod:`presnet_tui.commands`.

Every command turns a :class:`~core.errors.PresnetError` into one line on stderr and exit code 2;
a run that fails exits 1; success exits 0.
"""

from __future__ import annotations

import sys

from presnet_tui.commands import app
from presnet_tui.commands.sweep import ray_address_argv
from presnet_tui.commands.tui import tui_main

__all__ = ["app", "main", "tui_main"]


def main() -> None:
    sys.argv = ray_address_argv(sys.argv)
    app()


if __name__ == "__main__":
    main()
