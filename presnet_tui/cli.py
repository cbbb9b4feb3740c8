"""``presnet``: the command line (Typer).

Every command turns a :class:`~core.errors.PresnetError` into one line on stderr
and exit code 2; a run that fails exits 1; success exits 0.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from core.arch import Architecture, load_arch, save_arch
from core.config import Config, dump_yaml, load_config
from core.control import Control, read_control, write_control
from core.errors import PresnetError
from core.events import EventBus
from core.job import Job, derive_at, resume_job
from core.network import NetSpec, SearchNet, build_plain, count_params
from core.rundir import RunDir
from core.space import ACTIVATIONS, KERNELS, SCOPE_STAGES, SearchSpace, block_positions, block_stage

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Search-space-scoped ProxylessNAS on ResNet-50.",
)
config_app = typer.Typer(no_args_is_help=True, help="Show or check configs.")
app.add_typer(config_app, name="config")

console = Console()
err_console = Console(stderr=True)
EXIT_USAGE = 2


def fail(lines: list[str]) -> NoReturn:
    from rich.markup import escape

    for line in lines:  # escaped: a hint like `pip install -e ".[ray]"` is text, not rich markup
        err_console.print(f"[red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_USAGE)


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except PresnetError as err:
        fail(err.problems)


# -- shared options -------------------------------------------------------------------------
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config (default: the embedded quickstart)")
]
ScopeOpt = Annotated[str | None, typer.Option(help="s, m, l, f, or block ids like 1,2,5")]
KernelsOpt = Annotated[str | None, typer.Option(help=f"candidate kernels, comma-separated, from {list(KERNELS)}")]
ActsOpt = Annotated[str | None, typer.Option(help=f"candidate activations, comma-separated, from {list(ACTIVATIONS)}")]
EpochsOpt = Annotated[int | None, typer.Option(help="search epochs")]
StopAtOpt = Annotated[int | None, typer.Option("--stop-at-epoch", help="stop the search after this epoch")]
DatasetOpt = Annotated[str | None, typer.Option(help="cifar10, cifar100, imagefolder, digits or synthetic")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="dataset folder")]
DownloadOpt = Annotated[bool | None, typer.Option("--download/--no-download", help="download CIFAR if missing")]
DeviceOpt = Annotated[str | None, typer.Option(help="auto, cpu, cuda, cuda:N, mps")]
SeedOpt = Annotated[int | None, typer.Option(help="random seed")]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="run directory to create")]
RetrainEpochsOpt = Annotated[int | None, typer.Option("--retrain-epochs", help="retraining epochs")]


def _csv(value: str | None, cast: type, where: str) -> list | None:
    if value is None:
        return None
    try:
        return [cast(v.strip()) for v in value.split(",") if v.strip()]
    except ValueError:
        raise PresnetError(
            f"cannot read {value!r} as a comma-separated list of {cast.__name__}",
            where=where,
            hint="e.g. --kernels 3,5",
        ) from None


def _scope(value: str | None) -> str | list[int] | None:
    if value is None or value.strip().lower() in SCOPE_STAGES:
        return value.strip().lower() if value else None
    if any(c.isdigit() for c in value):
        return _csv(value, int, "--scope")
    return value


def resolve_config(
    config: Path | None,
    *,
    scope: str | None = None,
    kernels: str | None = None,
    activations: str | None = None,
    epochs: int | None = None,
    stop_at_epoch: int | None = None,
    dataset: str | None = None,
    data_dir: Path | None = None,
    download: bool | None = None,
    device: str | None = None,
    seed: int | None = None,
    out: Path | None = None,
    retrain_epochs: int | None = None,
) -> Config:
    overrides: dict[str, Any] = {
        "space.scope": _scope(scope),
        "space.kernels": _csv(kernels, int, "--kernels"),
        "space.activations": _csv(activations, str, "--activations"),
        "search.epochs": epochs,
        "search.stop_at_epoch": stop_at_epoch,
        "data.dataset": dataset,
        "data.data_dir": str(data_dir.resolve()) if data_dir else None,
        "data.download": download,
        "run.device": device,
        "run.seed": seed,
        "run.out": str(out.resolve()) if out else None,
        "retrain.epochs": retrain_epochs,
    }
    return load_config(config, overrides)


def _start(job: Job, headless: bool) -> None:
    from presnet_tui.headless import run_headless

    job.prepare()
    if headless:
        raise typer.Exit(run_headless(job, console))
    from presnet_tui.app import PresnetApp

    PresnetApp(job=job).run()


# -- commands -------------------------------------------------------------------------------
@app.command()
def run(
    config: ConfigOpt = None,
    headless: Annotated[bool, typer.Option(help="no TUI: progress bars and logs")] = False,
    scope: ScopeOpt = None,
    kernels: KernelsOpt = None,
    activations: ActsOpt = None,
    epochs: EpochsOpt = None,
    stop_at_epoch: StopAtOpt = None,
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    download: DownloadOpt = None,
    device: DeviceOpt = None,
    seed: SeedOpt = None,
    out: OutOpt = None,
    retrain_epochs: RetrainEpochsOpt = None,
) -> None:
    """Search, derive the architecture, retrain it from scratch. No config: the embedded quickstart."""
    with user_errors():
        cfg = resolve_config(
            config,
            scope=scope,
            kernels=kernels,
            activations=activations,
            epochs=epochs,
            stop_at_epoch=stop_at_epoch,
            dataset=dataset,
            data_dir=data_dir,
            download=download,
            device=device,
            seed=seed,
            out=out,
            retrain_epochs=retrain_epochs,
        )
        if not headless:
            from presnet_tui.app import PresnetApp

            PresnetApp(config=cfg).run()
            return
        job = Job(cfg, RunDir.create(cfg), EventBus(), Control())
        _start(job, headless=True)


@app.command()
def search(
    config: ConfigOpt = None,
    scope: ScopeOpt = None,
    kernels: KernelsOpt = None,
    activations: ActsOpt = None,
    epochs: EpochsOpt = None,
    stop_at_epoch: StopAtOpt = None,
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    download: DownloadOpt = None,
    device: DeviceOpt = None,
    seed: SeedOpt = None,
    out: OutOpt = None,
) -> None:
    """Search and derive the architecture (no retrain), headless."""
    with user_errors():
        cfg = resolve_config(
            config,
            scope=scope,
            kernels=kernels,
            activations=activations,
            epochs=epochs,
            stop_at_epoch=stop_at_epoch,
            dataset=dataset,
            data_dir=data_dir,
            download=download,
            device=device,
            seed=seed,
            out=out,
        )
        _start(Job(cfg, RunDir.create(cfg), EventBus(), Control(), retrain=False), headless=True)


@app.command()
def retrain(
    arch_file: Annotated[Path, typer.Argument(help="architecture JSON")],
    config: ConfigOpt = None,
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    download: DownloadOpt = None,
    device: DeviceOpt = None,
    seed: SeedOpt = None,
    out: OutOpt = None,
    retrain_epochs: RetrainEpochsOpt = None,
) -> None:
    """Train an architecture file from scratch and test it, headless."""
    with user_errors():
        arch = load_arch(arch_file)
        cfg = resolve_config(
            config,
            dataset=dataset,
            data_dir=data_dir,
            download=download,
            device=device,
            seed=seed,
            out=out,
            retrain_epochs=retrain_epochs,
        )
        _start(Job(cfg, RunDir.create(cfg), EventBus(), Control(), search=False, arch=arch), headless=True)


@app.command()
def baseline(
    config: ConfigOpt = None,
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    download: DownloadOpt = None,
    device: DeviceOpt = None,
    seed: SeedOpt = None,
    out: OutOpt = None,
    retrain_epochs: RetrainEpochsOpt = None,
) -> None:
    """Retrain the plain ResNet-50 with the config's retrain settings (Table I's baseline row)."""
    with user_errors():
        cfg = resolve_config(
            config,
            dataset=dataset,
            data_dir=data_dir,
            download=download,
            device=device,
            seed=seed,
            out=out,
            retrain_epochs=retrain_epochs,
        )
        n = cfg.network
        arch = Architecture(stem=n.stem, width_mult=n.width_mult, depths=list(n.depths), source={"baseline": True})
        run_dir = RunDir.create(cfg, label="baseline")
        run_dir.update_summary(baseline=True)
        _start(Job(cfg, run_dir, EventBus(), Control(), search=False, arch=arch), headless=True)


@app.command()
def resume(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    headless: Annotated[bool, typer.Option(help="no TUI")] = False,
) -> None:
    """Continue a run after a crash, a kill or Ctrl+C: same alpha history, same event file."""
    with user_errors():
        job = resume_job(RunDir.open(run_dir), retrain_after_search=headless)
        if headless:
            _start(job, headless=True)
            return
        from presnet_tui.app import PresnetApp

        PresnetApp(job=job.prepare()).run()


@app.command()
def stop(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    at_epoch: Annotated[int | None, typer.Option("--at-epoch", min=1, help="stop after this epoch")] = None,
    pause: Annotated[bool, typer.Option("--pause", help="pause instead of stopping")] = False,
    unpause: Annotated[bool, typer.Option("--resume", help="resume a paused run")] = False,
) -> None:
    """Ask a running search (another process) to stop now, after an epoch, or to pause."""
    with user_errors():
        run_ = RunDir.open(run_dir)
        state = read_control(run_.control_file)
        if pause or unpause:
            state.paused = pause
        elif at_epoch is not None:
            state.stop_at_epoch = at_epoch
        else:
            state.stop = True
        write_control(run_.control_file, state)
        what = "pause" if pause else "resume" if unpause else f"stop after epoch {at_epoch}" if at_epoch else "stop now"
        console.print(f"asked {run_.path} to {what}")


@app.command()
def derive(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    epoch: Annotated[int | None, typer.Option(min=1, help="epoch whose alphas to use (default: last)")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write the architecture here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON only")] = False,
) -> None:
    """The argmax architecture of any past epoch of a search."""
    with user_errors():
        arch = derive_at(RunDir.open(run_dir), epoch)
        if out is not None:
            save_arch(out, arch)
        if as_json:
            sys.stdout.write(arch.to_json())
            return
        _arch_table(arch, f"derived at epoch {arch.source['epoch'] if arch.source else '?'}")
        if out is not None:
            console.print(f"written to {out}")


def _arch_table(arch: Architecture, title: str) -> int:
    table = Table(title=title)
    for col in ("block", "stage", "kernel", "activation"):
        table.add_column(col)
    for pos in sorted(block_positions(arch.depths), key=lambda p: p.block_id):
        b = arch.blocks.get(pos.block_id)
        mark = "" if b else " (plain)"
        table.add_row(
            str(pos.block_id),
            str(pos.stage + 1),
            f"{(b.kernel if b else 3)}x{(b.kernel if b else 3)}",
            (b.activation if b else "relu") + mark,
        )
    params = count_params(arch.build())
    console.print(table)
    console.print(f"trainable parameters: {params:,}")
    return params


@app.command()
def inspect(
    arch_file: Annotated[Path | None, typer.Argument(help="architecture JSON")] = None,
    scope: ScopeOpt = None,
    kernels: KernelsOpt = None,
    activations: ActsOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """An architecture file's blocks and size, or a search space's blocks, choices and size."""
    with user_errors():
        if arch_file is not None:
            arch = load_arch(arch_file)
            if as_json:
                data = {"params": count_params(arch.build()), "architecture": arch.model_dump(mode="json")}
                sys.stdout.write(json.dumps(data, indent=2) + "\n")
            else:
                _arch_table(arch, str(arch_file))
            return
        if scope is None:
            raise PresnetError(
                "give an architecture file or --scope", where="inspect", hint="e.g. presnet inspect --scope s"
            )
        cfg = resolve_config(None, scope=scope, kernels=kernels, activations=activations)
        # The space as the paper defines it: full-width ResNet-50, 10 classes.
        space = SearchSpace.build(cfg.space.scope, cfg.space.kernels, cfg.space.activations)
        net = SearchNet(NetSpec(), space)
        supernet = sum(p.numel() for p in net.weight_parameters())
        data = {
            "scope": cfg.space.scope,
            "search_blocks": list(space.block_ids),
            "stages": space.stages_covered(),
            "kernels": list(space.kernels),
            "activations": list(space.activations),
            "choices_per_block": len(space.kernels) * len(space.activations),
            "architectures": space.size,
            "supernet_params": supernet,
            "baseline_params": count_params(build_plain(NetSpec())),
        }
        if as_json:
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
            return
        table = Table(title=f"search space, scope {cfg.space.scope}")
        for col in ("block", "stage", "kernel choices", "activation choices"):
            table.add_column(col)
        for b in space.block_ids:
            table.add_row(
                str(b), str(block_stage(b)), ", ".join(f"{k}x{k}" for k in space.kernels), ", ".join(space.activations)
            )
        console.print(table)
        console.print(
            f"{len(space.block_ids)} search blocks in stages {data['stages']}; "
            f"{space.size:,} architectures; super-network {supernet:,} params "
            f"(ResNet-50: {data['baseline_params']:,})"
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

    from core.sweep import is_sweep
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
        run_ = RunDir.open(run_dir)
        traj = trajectory_from_events(run_.events())
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
            _plot_fig3(run_, traj, blocks, save)
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
            plt.show()


def _plot_fig3(run_: RunDir, traj: Any, blocks: list[str], save: Path) -> None:
    from core.events import SearchStopped
    from presnet_tui.figures import fig3

    stops = [e.epoch for e in run_.events() if isinstance(e, SearchStopped)]
    fig3(traj, blocks, save, stop_epoch=stops[-1] if stops else None, title=f"{run_.path.name}: alphas over epochs")
    console.print(f"saved {save}")


def _plot_sweep(sweep_dir: Path, save: Path) -> None:
    from core.table import collect, table_rows
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
    """The paper's Table I: per scope n runs, params, top-1 mean ± std over seeds, search time, baseline row."""
    from core.table import collect, table_rows

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


_TABLE_HEADER = ["model", "scope", "n", "params", "top-1 (%)", "search time", "seeds agree"]


def _row_cells(rows: list[dict[str, Any]]) -> list[list[str]]:
    """Table I's cells as text: top-1 as mean ± std in %, agreement as blocks all seeds agree on."""
    out = []
    for r in rows:
        top1 = "-" if r["top1_mean"] is None else f"{100 * r['top1_mean']:.2f} ± {100 * (r['top1_std'] or 0):.2f}"
        search = "-" if r["search_s_mean"] is None else f"{r['search_s_mean']:.0f} s"
        params = "-" if r["params_mean"] is None else f"{r['params_mean'] / 1e6:.2f}M"
        agree = "-" if not r["blocks"] else f"{r['blocks_agreeing']}/{r['blocks']} blocks"
        out.append([r["model"], r["scope"], str(r["n"]), params, top1, search, agree])
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
    from core.placement import gpus_for, import_ray
    from core.sweep import Sweep, default_sweep_dir, parse_scopes, parse_seeds, preflight

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
    from core.placement import cpu_threads_per_worker, run_local, run_ray
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


@config_app.command("show")
def config_show(config: ConfigOpt = None) -> None:
    """Print the resolved config (defaults filled in)."""
    with user_errors():
        sys.stdout.write(dump_yaml(load_config(config)))


@config_app.command("check")
def config_check(path: Annotated[Path, typer.Argument(help="YAML config")]) -> None:
    """Validate a config; prints every problem as field.path: message."""
    with user_errors():
        load_config(path)
        console.print(f"{path}: ok")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, add_help_option=False)
def bench(ctx: typer.Context) -> None:
    """Search cost against its physical limit, and memory against a DARTS-style step (--help for options)."""
    from core.bench import main as bench_main

    with user_errors():
        raise typer.Exit(bench_main(list(ctx.args)))


def _ray_address_argv(argv: list[str]) -> list[str]:
    """``presnet sweep ... --ray ADDRESS`` -> ``--ray --ray-address ADDRESS`` (Typer options take a
    value always or never; ``--ray`` alone means a local Ray)."""
    if len(argv) < 2 or argv[1] != "sweep" or "--ray" not in argv:
        return argv
    i = argv.index("--ray")
    if i + 1 < len(argv) and not argv[i + 1].startswith("-"):
        return [*argv[: i + 1], "--ray-address", *argv[i + 1 :]]
    return argv


def main() -> None:
    sys.argv = _ray_address_argv(sys.argv)
    app()


if __name__ == "__main__":
    main()
