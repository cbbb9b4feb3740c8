"""``presnet sweep``: scopes x seeds as ordinary runs, on local workers or Ray; rerun to resume."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from core.errors import PresnetError

if TYPE_CHECKING:  # the heavy modules (torch) load inside the commands that need them: `--help` stays instant
    pass

from presnet_tui.commands.common import (
    ConfigOpt,
    DataDirOpt,
    DatasetOpt,
    DeviceOpt,
    DownloadOpt,
    EpochsOpt,
    RetrainEpochsOpt,
    app,
    console,
    resolve_config,
    user_errors,
)


@app.command()
def sweep(
    scopes: Annotated[str | None, typer.Option(help="scopes to search, e.g. s,m,l,f (required)")] = None,
    seeds: Annotated[str, typer.Option(help="seeds, e.g. 0,1,2 (or 0-2)")] = "0",
    config: ConfigOpt = None,
    baseline: Annotated[bool, typer.Option("--baseline", help="add a plain ResNet-50 run per seed")] = False,
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
) -> None:
    """Scopes x seeds (+ a baseline per seed) as ordinary runs, N at once or on Ray; rerun to resume."""
    from core.config import validate
    from core.scale.placement import gpus_for, import_ray
    from core.scale.sweep import Sweep, default_sweep_dir, parse_scopes, parse_seeds, preflight

    with user_errors():
        use_ray = ray or ray_address is not None
        if use_ray and workers is not None:
            raise PresnetError(
                "--workers and --ray both given", where="--workers", hint="Ray places the runs itself: drop --workers"
            )
        if workers is not None and workers < 1:
            raise PresnetError("must be 1 or more", where="--workers", hint="e.g. --workers 2")
        if cpus_per_run < 1:
            raise PresnetError("must be 1 or more", where="--cpus-per-run", hint="e.g. --cpus-per-run 4")
        if scopes is None:
            raise PresnetError("no scopes given", where="--scopes", hint="e.g. --scopes s,m,l,f")
        n_workers = workers or 1
        scope_list, seed_list = parse_scopes(scopes), parse_seeds(seeds)
        base = resolve_config(
            config,
            epochs=epochs,
            retrain_epochs=retrain_epochs,
            dataset=dataset,
            data_dir=data_dir,
            download=download,
            device=device,
        )
        if image_size is not None:
            data = base.model_dump(mode="json")
            data["data"]["image_size"] = image_size
            base = validate(data, "--image-size")
        if use_ray:
            import_ray()
        preflight(base, local=not use_ray)
        gpus = 0 if use_ray else gpus_for(base.run.device)
        if gpus and n_workers > 1 and ":" in base.run.device:
            raise PresnetError(
                f"--device {base.run.device} with {n_workers} workers",
                where="--device",
                hint="each worker is pinned to its own GPU: use --device cuda (or auto)",
            )
        path = out or default_sweep_dir(base, scope_list, seed_list, baseline)
        sw = Sweep.create_or_open(path, scope_list, seed_list, baseline, base)
        with sw.lock():
            code = _run_sweep(sw, n_workers, gpus, use_ray, ray_address, cpus_per_run)
    raise typer.Exit(code)


def _run_sweep(sw: Any, workers: int, gpus: int, use_ray: bool, address: str | None, cpus_per_run: int) -> int:
    from core.scale.placement import cpu_threads_per_worker, run_local, run_ray
    from presnet_tui.sweepview import SweepView, status_table

    statuses = sw.statuses()
    done = sum(s.state == "done" for s in statuses)
    where = (
        f"Ray ({address or 'local'})" if use_ray else f"{workers} worker(s)" + (f" on {gpus} GPU(s)" if gpus else "")
    )
    console.print(f"sweep {sw.path}: {len(statuses)} runs, {done} done already; {where}", highlight=False)
    view = SweepView(console, statuses)
    with view.progress:
        if use_ray:
            gpu = sw.base_config().run.device != "cpu"
            result = run_ray(sw, address=address, gpu=gpu, cpus_per_run=cpus_per_run, on_poll=view.update)
        else:
            threads = None if gpus else cpu_threads_per_worker(workers)
            result = run_local(sw, workers, gpus=gpus, threads=threads, on_poll=view.update)
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
