"""Commands that read finished runs: ``plot`` (the paper's Fig. 3; a sweep's Table I figure)
and ``compare`` (Table I as a table, JSON, CSV or Markdown)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from core.errors import PresnetError

if TYPE_CHECKING:  # the heavy modules (torch) load inside the commands that need them: `--help` stays instant
    from core.run.rundir import RunDir

from presnet_tui.commands.common import (
    app,
    console,
    use_colour,
    user_errors,
)


@app.command()
def plot(
    run_dir: Annotated[Path, typer.Argument(help="run directory (or a sweep directory, with --save F.png)")],
    block: Annotated[list[int] | None, typer.Option("--block", "-b", help="block id (repeatable)")] = None,
    save: Annotated[
        Path | None, typer.Option(help="write the figure to this file: .png/.svg/.pdf (matplotlib) or .txt/.html")
    ] = None,
    width: Annotated[int, typer.Option(help="figure width in characters")] = 120,
) -> None:
    """Alpha trajectories per block, kernel and activation (the paper's Fig. 3); a sweep: top-1 per scope."""
    import plotext as plt

    from core.run.rundir import RunDir
    from core.scale.sweep import is_sweep
    from presnet_tui.figures import IMAGE_SUFFIXES
    from presnet_tui.plots import figure, trajectory_from_events

    image = save is not None and save.suffix.lower() in IMAGE_SUFFIXES
    with user_errors():
        if is_sweep(run_dir):
            if not image:
                raise PresnetError(
                    "a sweep is drawn as an image file", where="--save", hint="e.g. --save table1.png (or .svg/.pdf)"
                )
            _plot_sweep(run_dir, save)
            return
        rundir = RunDir.open(run_dir)
        traj = trajectory_from_events(rundir.events())
        if not traj.x:
            raise PresnetError("no alpha history yet", where=str(run_dir), hint="wait for the first search epoch")
        blocks = [str(b) for b in block] if block else traj.blocks()
        unknown = [b for b in blocks if b not in traj.series]
        if unknown:
            raise PresnetError(
                f"block {unknown[0]} was not searched in this run",
                where="--block",
                hint=f"searched blocks: {', '.join(traj.blocks())}",
            )
        if image:
            _plot_fig3(rundir, traj, blocks, save)
            return
        figure(plt, traj, blocks, width)
        if save is not None:
            import contextlib
            import io

            plt.build()
            with contextlib.redirect_stdout(io.StringIO()):  # plotext announces the save itself
                plt.save_fig(str(save), keep_colors=save.suffix == ".html")
            console.print(f"saved {save}")
        else:
            text = plt.build()
            sys.stdout.write((text if use_colour(sys.stdout) else plt.uncolorize(text)) + "\n")


def _plot_fig3(rundir: RunDir, traj: Any, blocks: list[str], save: Path) -> None:
    from core.run.events import SearchStopped, StageStart
    from presnet_tui.figures import fig3

    events = rundir.events()
    stops = [e.epoch for e in events if isinstance(e, SearchStopped)]
    stages = [(e.epoch - 1.0, f"stage {e.stage}") for e in events if isinstance(e, StageStart) and e.stage > 1]
    title = f"{rundir.path.name}: alphas over epochs"
    fig3(traj, blocks, save, stop_epoch=stops[-1] if stops else None, title=title, stages=stages)
    console.print(f"saved {save}")


def _plot_sweep(sweep_dir: Path, save: Path) -> None:
    from core.scale.table import collect, table_rows
    from presnet_tui.figures import table1

    table1(table_rows(collect([sweep_dir])), save, title=f"{Path(sweep_dir).name}: test top-1 per scope")
    console.print(f"saved {save}")


@app.command()
def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help="sweep directories and/or run directories")],
    as_json: Annotated[bool, typer.Option("--json", help="rows as JSON")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="rows as CSV")] = False,
    as_markdown: Annotated[bool, typer.Option("--markdown", help="a Markdown table (for papers)")] = False,
) -> None:
    """The paper's Table I: per scope n runs, params, FLOPs, top-1 mean ± std over seeds, search time, baseline."""
    from rich.table import Table

    from core.scale.table import collect, table_rows

    with user_errors():
        if sum((as_json, as_csv, as_markdown)) > 1:
            raise PresnetError("choose one output format", where="--json/--csv/--markdown", hint="give one of them")
        rows = table_rows(collect(run_dirs))
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    elif as_csv:
        sys.stdout.write(_rows_csv(rows))
    elif as_markdown:
        sys.stdout.write(_rows_markdown(rows))
    else:
        table = Table(title="Performance comparison (Table I)")
        for col in _TABLE_HEADER:
            table.add_column(col, no_wrap=True)
        for cells in _row_cells(rows):
            table.add_row(*cells)
        console.print(table)


_TABLE_HEADER = ["model", "scope", "n", "params", "FLOPs", "top-1 (%)", "search time", "seeds agree"]


def _row_cells(rows: list[dict[str, Any]]) -> list[list[str]]:
    """Table I's cells as text: top-1 as mean ± std in %, agreement as blocks all seeds agree on."""
    out = []
    for r in rows:
        top1 = "-" if r["top1_mean"] is None else f"{100 * r['top1_mean']:.2f} ± {100 * (r['top1_std'] or 0):.2f}"
        search = "-" if r["search_s_mean"] is None else f"{r['search_s_mean']:.0f} s"
        params = "-" if r["params_mean"] is None else f"{r['params_mean'] / 1e6:.2f}M"
        flops = "-" if r["flops_mean"] is None else f"{r['flops_mean'] / 1e9:.3f}G @{r['image_size'] or '?'}px"
        agree = "-" if not r["blocks"] else f"{r['blocks_agreeing']}/{r['blocks']} blocks"
        out.append([r["model"], r["scope"], str(r["n"]), params, flops, top1, search, agree])
    return out


def _rows_markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(_TABLE_HEADER) + " |", "|" + "---|" * len(_TABLE_HEADER)]
    lines += ["| " + " | ".join(cells) + " |" for cells in _row_cells(rows)]
    return "\n".join(lines) + "\n"


def _rows_csv(rows: list[dict[str, Any]]) -> str:
    import csv
    import io

    fields = [
        "scope",
        "model",
        "n",
        "params_mean",
        "flops_mean",
        "image_size",
        "top1_mean",
        "top1_std",
        "search_s_mean",
        "blocks_agreeing",
        "blocks",
    ]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
