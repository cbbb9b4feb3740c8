"""``presnet tui`` (also installed as ``presnet-tui``): the Textual app."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from presnet_tui.cli.commands.common import (
    FastExit,
    app,
    console,
    fail,
    user_errors,
)

if TYPE_CHECKING:
    from presnet_tui.app.app import PresnetApp


@app.command()
def tui(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config to load")] = None,
    attach: Annotated[
        Path | None, typer.Option("--attach", help="watch a headless run directory, or a sweep's runs")
    ] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="resume a run directory's search")] = None,
) -> None:
    """Set up a ProxylessNAS search on ResNet-50, watch the alphas, stop, retrain (the Textual app)."""
    from presnet_tui.cli.terminal import has_terminal

    if not has_terminal():
        fail(
            [
                "presnet-tui needs a terminal on stdin and stdout — use `presnet run --headless` or "
                "`presnet resume RUN --headless` here"
            ]
        )
    from core.api.rundirs import RunDir
    from core.api.sweeps import Sweep, is_sweep
    from core.config import load_config
    from presnet_tui.app.app import PresnetApp  # no torch: every run is a worker process the app attaches to

    with user_errors():
        if attach is not None:
            Sweep.open(attach) if is_sweep(attach) else RunDir.open(attach)  # a clear error before the app starts
            leave(PresnetApp(attach=attach))
            return
        if resume is not None:
            from core.api.steer import check_resumable

            check_resumable(RunDir.open(resume))  # a live or finished run is refused before the app starts
            leave(PresnetApp(resume=resume))
            return
        leave(PresnetApp(config=load_config(config) if config else None))


def leave(app: PresnetApp) -> None:
    """Run the app; once it is gone, say in the shell where each run is and how to find it again.

    Then the process leaves at once (:class:`FastExit`): a thread may still be importing torch for the
    setup screen's network count (seconds on a loaded machine), and a normal interpreter exit would
    wait for it.  Nothing is lost: every run is another process."""
    from rich.markup import escape

    for line in app.run() or []:
        console.print(escape(line), highlight=False, soft_wrap=True)
    FastExit.wanted = True
    if app.return_code:
        raise typer.Exit(app.return_code)


def tui_main() -> None:
    """``presnet-tui``: an alias of ``presnet tui``."""
    app(["tui", *sys.argv[1:]], prog_name="presnet")
