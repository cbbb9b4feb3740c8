"""``presnet ls``: the runs under a folder and the state of each (core.api.listing does the reading)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from presnet_tui.cli.commands.common import app, console, user_errors

if TYPE_CHECKING:
    from core.api.listing import RunRecord


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
    rows = [_row(r) for r in records]
    columns = ["run", "state", "phase", "epoch", "scope", "settled", "top-1", "pid@host"]
    drop = set()
    if all(row[0].endswith(row[4]) for row in rows):  # default names end with the scope: said once is enough
        drop.add(4)
    for row in rows:
        row[4] = row[4].removeprefix("custom-")  # block ids speak for themselves: 10-11-12-13
    if not any(r.state == "live" for r in records):  # the holder's pid and host: only while one is live
        drop.add(7)
    columns = [c for i, c in enumerate(columns) if i not in drop]
    rows = [[v for i, v in enumerate(row) if i not in drop] for row in rows]
    # every column but the name at its width (and two spaces between): the name gets the rest, its middle
    # elided when it must be, so that the name to type after `presnet tui --attach` stays recognisable
    others = sum(max(len(c), *(len(row[i]) for row in rows)) + 2 for i, c in enumerate(columns) if i)
    room = max(console.width - others - 1, 16)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in columns:
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(middle_elided(row[0], room), *row[1:])
    console.print(table)
    notes = [r for r in records if r.note]
    for r in notes:
        console.print(f"{Path(r.path).name}: {r.note}", highlight=False, soft_wrap=True, markup=False)


def _row(r: RunRecord) -> list[str]:
    epoch = f"{r.epoch}/{r.epochs}" if r.epochs else str(r.epoch)
    settled = f"{r.settled}/{r.decisions}" if r.decisions else "-"
    top1 = f"{r.test_top1:.2%}" if r.test_top1 is not None else "-"
    who = f"{r.pid}@{r.host}" if r.pid is not None and r.state == "live" else "-"
    return [Path(r.path).name, r.state, r.phase, epoch, r.scope, settled, top1, who]


def middle_elided(text: str, width: int) -> str:
    """``text`` whole if it fits ``width``, else its start and end around one ``…`` (a run's timestamp
    and its scope both stay readable: ``20260102-0304…-12-13``)."""
    if len(text) <= width:
        return text
    tail = (width - 1) // 3  # more of the start: the timestamp tells runs of one scope apart
    return text[: width - 1 - tail] + "…" + text[len(text) - tail :]
