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
    from core.api.rundirs import RunDir

from presnet_tui.cli.commands.common import (
    app,
    console,
    use_colour,
    user_errors,
)


def _searched(rundir: RunDir) -> bool | None:
    """Whether the run's search took an architecture step (None: no search recorded)."""
    search = rundir.summary().search
    return search.searched if search else None


@app.command()
def plot(
    run_dir: Annotated[Path, typer.Argument(help="run directory (or a sweep directory, with --save F.png)")],
    block: Annotated[list[int] | None, typer.Option("--block", "-b", help="block id (repeatable)")] = None,
    save: Annotated[
        Path | None, typer.Option(help="write the figure to this file: .png/.svg/.pdf (matplotlib) or .txt/.html")
    ] = None,
    width: Annotated[
        int | None, typer.Option(min=40, help="figure width in characters (default: the terminal's, at most 120)")
    ] = None,
) -> None:
    """Alpha trajectories per block, kernel and activation (the paper's Fig. 3); a sweep: top-1 per scope."""
    import plotext as plt

    from core.api.rundirs import RunDir
    from core.api.sweeps import is_sweep
    from presnet_tui.cli.views.figures import IMAGE_SUFFIXES
    from presnet_tui.shared.trajectory import figure, trajectory_from_events

    image = save is not None and save.suffix.lower() in IMAGE_SUFFIXES
    with user_errors():
        if is_sweep(run_dir):
            if save is None or not image:
                raise PresnetError(
                    "a sweep is drawn as an image file", where="--save", hint="e.g. --save table1.png (or .svg/.pdf)"
                )
            _plot_sweep(run_dir, save)
            return
        rundir = RunDir.open(run_dir)
        traj = trajectory_from_events(rundir.events())
        # a stop inside the warm-up records the (uniform) alphas of that moment: not a trajectory either
        if not traj.x or _searched(rundir) is False:
            from core.api.confidence import no_alphas_reason

            message, hint = no_alphas_reason(rundir.events(), rundir.config().search.warmup_epochs)
            raise PresnetError(message, where=str(run_dir), hint=hint)
        blocks = [str(b) for b in block] if block else traj.blocks()
        unknown = [b for b in blocks if b not in traj.series]
        if unknown:
            raise PresnetError(
                f"block {unknown[0]} was not searched in this run",
                where="--block",
                hint=f"searched blocks: {', '.join(traj.blocks())}",
            )
        if save is not None and image:
            _plot_fig3(rundir, traj, blocks, save)
            return
        figure(plt, traj, blocks, width or min(console.width, 120), scroll=True)
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
    from core.api.stops import curvature_points, rule_verdicts
    from core.run.events import EpochEnd, SearchStopped, StageStart
    from presnet_tui.cli.views.figures import fig3

    events = rundir.events()
    stops = [e.epoch for e in events if isinstance(e, SearchStopped)]
    stages = [(e.epoch - 1.0, f"stage {e.stage}") for e in events if isinstance(e, StageStart) and e.stage > 1]
    search = rundir.summary().search
    decisions = search.decisions if search else []  # unsettled ones are marked
    title = f"{rundir.path.name}: alphas over epochs"
    ends = [e for e in events if isinstance(e, EpochEnd)]
    v = rule_verdicts(rundir.config(), ends)
    marks = [(v.margin, "margin converged")] if v.margin is not None else []
    if v.curvature is not None:
        marks += [(v.curvature.rollback, "rollback"), (v.curvature.detected, "rise detected")]
    fig3(
        traj,
        blocks,
        save,
        stop_epoch=stops[-1] if stops else None,
        title=title,
        decisions=decisions,
        stages=stages,
        curvature=(curvature_points(ends), marks),
        readouts=[
            (
                e.epoch,
                {
                    b: {
                        d: (r.choice, e.alphas.get(b, {}).get(d, {}).get(r.choice, 0.0), r.agrees)
                        for d, r in ds.items()
                    }
                    for b, ds in e.perturbation.decisions.items()
                },
            )
            for e in ends
            if e.perturbation is not None
        ],
    )
    console.print(f"saved {save}")


def _plot_sweep(sweep_dir: Path, save: Path) -> None:
    from core.api.results import compare
    from presnet_tui.cli.views.figures import table1

    table1(compare([sweep_dir]).rows, save, title=f"{Path(sweep_dir).name}: test top-1 per scope")
    console.print(f"saved {save}")


@app.command()
def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help="sweep directories and/or run directories")],
    as_json: Annotated[bool, typer.Option("--json", help="rows as JSON")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="rows as CSV")] = False,
    as_markdown: Annotated[bool, typer.Option("--markdown", help="a Markdown table (for papers)")] = False,
    wide: Annotated[bool, typer.Option("--wide", help="every column (the default fits 80 columns)")] = False,
    gain: Annotated[
        float | None,
        typer.Option("--gain", help="with an exhaustive sweep: the power of a Table I for this gain, in top-1 points"),
    ] = None,
) -> None:
    """Table I: per scope and kind (search, random, baseline) n, params, top-1 mean ± std and 95 % CI,
    and the searched rows' relative improvement over random (RI, Fieller 95 % CI paired by seed, one-sided p)."""
    from rich.measure import Measurement

    from core.api.results import compare as compare_runs
    from presnet_tui.cli.views import compare as compare_view

    with user_errors():
        if sum((as_json, as_csv, as_markdown)) > 1:
            raise PresnetError("choose one output format", where="--json/--csv/--markdown", hint="give one of them")
        if wide and (as_json or as_csv or as_markdown):
            raise PresnetError("--wide shapes the terminal table only", where="--wide", hint="drop --wide")
        if gain is not None and not 0 < gain < 100:
            raise PresnetError(f"a gain of {gain} points", where="--gain", hint="give top-1 points, e.g. --gain 2")
        result = compare_runs(run_dirs, gain=gain / 100 if gain is not None else None)
    rows = result.rows
    if as_json:
        sys.stdout.write(json.dumps(result.as_dicts(), indent=2) + "\n")
    elif as_csv:
        sys.stdout.write(compare_view.as_csv(rows))
    elif as_markdown:
        sys.stdout.write(compare_view.markdown(rows))
    else:
        table, notes = compare_view.terminal_table(rows, wide=wide)
        width = console.width
        if wide:  # every column at its natural width, wider than the terminal if need be (never cut to "…")
            console.width = max(width, Measurement.get(console, console.options.update_width(10_000), table).maximum)
        console.print(table)
        console.width = width
        for note in notes:
            console.print(note, highlight=False, markup=False)
        if any(r.ri_ci95 is not None for r in rows):
            console.print(
                f"RI: % over mean random top-1; CI: {result.ri_method}; p: one-sided permutation test",
                highlight=False,
            )
        _print_ground_truths(result)


def _print_ground_truths(result: Any) -> None:
    """Each exhaustive sweep's section: the split, every architecture, the searches, the power."""
    from presnet_tui.cli.views import ground_truth as view

    for truth, plans in zip(result.ground_truths, result.power, strict=True):
        console.print()
        for line in view.split_lines(truth):
            console.print(line, highlight=False, markup=False, soft_wrap=True)
        console.print(view.arch_table(truth))
        for table in (view.placement_table(truth), view.tau_table(truth)):
            if table is not None:
                console.print(table)
        for line in view.power_lines(plans):
            console.print(line, highlight=False, markup=False, soft_wrap=True)
