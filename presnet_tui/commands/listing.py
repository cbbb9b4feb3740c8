"""``presnet ls``: the runs under a folder and the state of each (core.api.listing does the reading)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from presnet_tui.commands.common import app, console, user_errors


@app.command("ls")
def ls(
    folder: Annotated[Path, typer.Argument(help="the folder the runs are in")] = Path("runs"),
    as_json: Annotated[bool, typer.Option("--json", help="one JSON list, for scripts")] = False,
) -> None:
    """The runs under FOLDER: live, finished, stopped (resumable), failed or crashed; phase, epoch, result."""
    from rich.table import Table

    from core.api.listing import list_runs

    with user_errors():
        records = list_runs(folder)
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in records], indent=2))
        return
    if not records:
        console.print(f"no runs under {folder}", highlight=False)
        return
    table = Table(box=None, header_style="bold")
    for column in ("run", "state", "phase", "epoch", "scope", "settled", "test top-1", "pid@host"):
        table.add_column(column, no_wrap=column != "run")
    for r in records:
        epoch = f"{r.epoch}/{r.epochs}" if r.epochs else str(r.epoch)
        settled = f"{r.settled}/{r.decisions}" if r.decisions else "-"
        top1 = f"{r.test_top1:.2%}" if r.test_top1 is not None else "-"
        who = f"{r.pid}@{r.host}" if r.pid is not None and r.state == "live" else "-"
        table.add_row(Path(r.path).name, r.state, r.phase, epoch, r.scope, settled, top1, who)
    console.print(table)
    notes = [r for r in records if r.note]
    for r in notes:
        console.print(f"{Path(r.path).name}: {r.note}", highlight=False, soft_wrap=True, markup=False)
