"""``presnet tui`` (also installed as ``presnet-tui``): the Textual app."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from presnet_tui.commands.common import (
    app,
    fail,
    user_errors,
)


@app.command()
def tui(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config to load")] = None,
    attach: Annotated[
        Path | None, typer.Option("--attach", help="watch a headless run directory, or a sweep's runs")
    ] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="resume a run directory's search")] = None,
) -> None:
    """Set up a ProxylessNAS search on ResNet-50, watch the alphas, stop, retrain (the Textual app)."""
    from presnet_tui.terminal import has_terminal

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
    from presnet_tui.app import PresnetApp  # torch loads inside the app, after its first paint

    with user_errors():
        if attach is not None:
            Sweep.open(attach) if is_sweep(attach) else RunDir.open(attach)  # a clear error before the app starts
            PresnetApp(attach=attach).run()
            return
        if resume is not None:
            from core.api.runs import continue_run

            PresnetApp(job=continue_run(resume, retrain_after_search=False).prepare()).run()
            return
        PresnetApp(config=load_config(config) if config else None).run()


def tui_main() -> None:
    """``presnet-tui``: an alias of ``presnet tui``."""
    app(["tui", *sys.argv[1:]], prog_name="presnet")
