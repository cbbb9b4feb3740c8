"""``presnet sweep``: scopes x seeds (+ baselines, + random architectures) as ordinary runs, on local
workers or Ray; rerun to resume.  Parses its arguments and renders; :mod:`core.api.sweeps` does the rest."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from core.errors import PresnetError

if TYPE_CHECKING:  # the heavy modules (torch) load inside the commands that need them: `--help` stays instant
    from core.api.sweeps import SweepPlan

from core.space import scope_key
from presnet_tui.cli.commands.common import (
    DataDirOpt,
    DatasetOpt,
    DeviceOpt,
    DownloadOpt,
    EpochsOpt,
    RetrainEpochsOpt,
    app,
    console,
    user_errors,
)

#: How each run process is started: this front end's own command line (``presnet``).
ENTRY = [sys.executable, "-m", "presnet_tui.cli"]


def parse_scopes(value: str) -> list[str]:
    """``s,m,l,f`` -> ["s", "m", "l", "f"]; block ids make a scope of their own, scopes split by
    ``;``: ``10-13`` or ``s;10-13`` -> ["s", "10,11,12,13"]. Each scope once."""
    if not value.strip(",; "):
        raise PresnetError("no scope given", where="--scopes", hint="e.g. --scopes s,m,l,f or --scopes 's;10-13'")
    if ";" in value or any(c.isdigit() for c in value):
        parts = [v for v in value.split(";") if v.strip()]
    else:
        parts = [v for v in value.split(",") if v.strip()]
    try:
        scopes = [scope_key(p) for p in parts]
    except PresnetError as err:
        raise PresnetError(err.message, where="--scopes", hint=err.hint) from None
    if len(set(scopes)) != len(scopes):
        raise PresnetError("a scope is listed twice", where="--scopes", hint="list each scope once")
    return scopes


def parse_seeds(value: str) -> list[int]:
    """``0,1,2`` (or ``0-2``) -> [0, 1, 2]; non-negative integers, each once."""
    seeds: list[int] = []
    try:
        for part in (p.strip() for p in value.split(",") if p.strip()):
            if "-" in part.strip("-"):
                lo, hi = (int(x) for x in part.split("-", 1))
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise PresnetError(
            f"cannot read {value!r} as seeds", where="--seeds", hint="comma-separated integers, e.g. 0,1,2"
        ) from None
    if not seeds:
        raise PresnetError("no seed given", where="--seeds", hint="e.g. --seeds 0,1,2")
    if any(s < 0 for s in seeds):
        raise PresnetError("seeds must be 0 or more", where="--seeds", hint="e.g. --seeds 0,1,2")
    if len(set(seeds)) != len(seeds):
        raise PresnetError("a seed is listed twice", where="--seeds", hint="list each seed once")
    return seeds


ScopesOpt = Annotated[
    str | None,
    typer.Option(
        help="scopes to search, e.g. s,m,l,f or 's;10-13' (block ids: scopes split by ';'; default: the configs')"
    ),
]
ConfigsOpt = Annotated[
    list[Path] | None,
    typer.Option("--config", "-c", help="YAML config; repeat it, one per scope, to give each scope its own"),
]


@app.command()
def sweep(
    scopes: ScopesOpt = None,
    seeds: Annotated[str | None, typer.Option(help="seeds, e.g. 0,1,2 (or 0-2; default 0)")] = None,
    config: ConfigsOpt = None,
    baseline: Annotated[bool, typer.Option("--baseline", help="add a plain ResNet-50 run per seed")] = False,
    random: Annotated[
        int, typer.Option("--random", help="K architectures drawn at random from each scope's space, per seed")
    ] = 0,
    workers: Annotated[int | None, typer.Option(help="runs at once on this machine (default 1)")] = None,
    ray: Annotated[
        bool, typer.Option("--ray", help="place each run as a Ray task (a local Ray without an address)")
    ] = False,
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="an existing Ray cluster (`presnet sweep ... --ray ADDRESS`)")
    ] = None,
    cpus_per_run: Annotated[
        int, typer.Option("--cpus-per-run", help="Ray on the CPU: cores (and threads) per run")
    ] = 1,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="sweep directory (default: runs/sweep-...)")] = None,
    epochs: EpochsOpt = None,
    retrain_epochs: RetrainEpochsOpt = None,
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    download: DownloadOpt = None,
    image_size: Annotated[int | None, typer.Option("--image-size", help="side of the input images")] = None,
    device: DeviceOpt = None,
    exhaustive: Annotated[
        bool, typer.Option("--exhaustive", help="retrain every architecture of the space (no search): its ground truth")
    ] = False,
    repeats: Annotated[
        int | None, typer.Option("--repeats", help="--exhaustive: retrain seeds per architecture (seeds 0..R-1)")
    ] = None,
    cap: Annotated[int, typer.Option("--cap", help="--exhaustive: the most architectures a space may hold")] = 64,
) -> None:
    """Scopes x seeds (+ a baseline per seed, + K random architectures) as ordinary runs; rerun to resume.
    ``--exhaustive --repeats R``: every architecture of the space, R seeds each."""
    from core.api.config import ConfigOverrides, resolve_config
    from core.api.sweeps import SweepRequest, plan_sweep

    with user_errors():
        overrides = {"epochs": epochs, "retrain_epochs": retrain_epochs, "dataset": dataset, "data_dir": data_dir}
        overrides |= {"download": download, "device": device, "image_size": image_size}
        files: list[Path | None] = list(config) if config else [None]
        request = SweepRequest(
            configs=[resolve_config(f, ConfigOverrides.of(overrides)) for f in files],
            sources=[str(f) for f in files],
            scopes=parse_scopes(scopes) if scopes is not None else None,
            seeds=_seeds(seeds, repeats, exhaustive),
            baseline=baseline,
            random=random,
            out=out,
            workers=workers,
            ray=ray,
            ray_address=ray_address,
            cpus_per_run=cpus_per_run,
            exhaustive=exhaustive,
            cap=cap,
        )
        code = _run_sweep(plan_sweep(request))
    raise typer.Exit(code)


def _seeds(seeds: str | None, repeats: int | None, exhaustive: bool) -> list[int]:
    """The sweep's seeds: ``--seeds``, or for ``--exhaustive`` ``--repeats R`` (seeds 0..R-1, default 2)."""
    if repeats is not None and not exhaustive:
        raise PresnetError("--repeats counts an exhaustive sweep's seeds", where="--repeats", hint="add --exhaustive")
    if repeats is not None and seeds is not None:
        raise PresnetError(
            "give --repeats or --seeds, not both", where="--repeats", hint="--repeats R is --seeds 0-(R-1)"
        )
    if repeats is not None and repeats < 1:
        raise PresnetError(
            f"{repeats} repeats", where="--repeats", hint="give 1 or more (2 or more for a variance split)"
        )
    if seeds is not None:
        return parse_seeds(seeds)
    return list(range(repeats if repeats is not None else 2 if exhaustive else 1))


def _run_sweep(plan: SweepPlan) -> int:
    from core.api.sweeps import run_sweep
    from presnet_tui.shared.sweepview import SweepView, status_table

    sw = plan.sweep
    sizes = sw.manifest.space_sizes
    budgets = (
        ", ".join(f"{s}: {n} architectures x {len(sw.manifest.seeds)} seeds" for s, n in sizes.items())
        if sizes
        else ", ".join(f"{s}: {e} search epochs" for s, e in plan.search_epochs.items())
    )
    console.print(
        f"sweep {sw.path}: {plan.runs} runs, {plan.done} done already; {plan.placement.describe()}; {budgets}",
        highlight=False,
    )
    view = SweepView(console, sw.statuses())
    with view.progress:
        result = run_sweep(plan, ENTRY, on_poll=view.update)
    console.print(status_table(result.statuses, f"sweep {sw.path}"))
    if result.interrupted:
        console.print("interrupted: run the same command again to resume the sweep")
        return 130
    if not result.ok:
        console.print("[red]some runs failed[/] (logs in the sweep's logs/); run the same command again to retry them")
        return 1
    console.print(f"all runs done: [bold]presnet compare {sw.path}[/]")
    return 0


def ray_address_argv(argv: list[str]) -> list[str]:
    """``presnet sweep ... --ray ADDRESS`` -> ``--ray --ray-address ADDRESS`` (Typer options take a
    value always or never; ``--ray`` alone means a local Ray)."""
    if len(argv) < 2 or argv[1] != "sweep" or "--ray" not in argv:
        return argv
    i = argv.index("--ray")
    if i + 1 < len(argv) and not argv[i + 1].startswith("-"):
        return [*argv[: i + 1], "--ray-address", *argv[i + 1 :]]
    return argv
