"""``presnet``: the command line (Typer).

Every command turns a :class:`~core.errors.PresnetError` into one line on stderr
and exit code 2; a run that fails exits 1; success exits 0.
"""

from __future__ import annotations

import json
import os
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
    if os.environ.get("RANK", "0") != "0" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise typer.Exit(EXIT_USAGE)  # a distributed run speaks through rank 0 alone
    for line in lines:
        err_console.print(f"[red]error:[/] {line}", highlight=False, soft_wrap=True)
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
NprocOpt = Annotated[
    int,
    typer.Option(
        "--nproc",
        min=1,
        help="processes, one per GPU (gloo on the CPU), started through torchrun; data.batch_size is per process",
    ),
]


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


# -- several processes (torchrun) ---------------------------------------------------------------
def _launch(nproc: int, headless: bool = True, device: str = "auto") -> None:
    """``--nproc N`` (N > 1), outside torchrun: start N copies of this command through torchrun's
    launcher and exit with their code. Under torchrun (RANK/WORLD_SIZE set) the command runs as a rank."""
    under_torchrun = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if (nproc > 1 or under_torchrun) and not headless:
        raise PresnetError(
            "several processes run headless only",
            where="--nproc" if nproc > 1 else "torchrun",
            hint="add --headless (attach the TUI with presnet-tui --attach RUN)",
        )
    if nproc <= 1 or under_torchrun:
        return
    from core.distributed import check_nproc, launch

    check_nproc(nproc, device)
    raise typer.Exit(launch(nproc, _worker_args(sys.argv[1:])))


def _worker_args(argv: list[str]) -> list[str]:
    """This command line without ``--nproc N`` (each rank is one process)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out


def _create_run(cfg: Config, label: str | None = None, baseline: bool = False) -> RunDir:
    """The run directory; distributed, rank 0 creates it and tells the other ranks where it is."""
    from core import distributed

    def create() -> str:
        run_dir = RunDir.create(cfg, label=label)
        if baseline:
            run_dir.update_summary(baseline=True)
        return str(run_dir.path)

    if distributed.under_torchrun():
        distributed.init(cfg.run.device)
    return RunDir(Path(distributed.on_main(create)))


def _start(job: Job, headless: bool) -> None:
    from core import distributed
    from presnet_tui.headless import run_headless

    if distributed.under_torchrun():
        distributed.init(job.config.run.device)
        job.prepare()
        rank = distributed.current()
        code = run_headless(job, console if rank.is_main else Console(quiet=True))
        distributed.teardown()
        raise typer.Exit(code)
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
    nproc: NprocOpt = 1,
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
        _launch(nproc, headless, cfg.run.device)
        if not headless:
            from presnet_tui.app import PresnetApp

            PresnetApp(config=cfg).run()
            return
        job = Job(cfg, _create_run(cfg), EventBus(), Control())
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
    nproc: NprocOpt = 1,
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
        _launch(nproc, device=cfg.run.device)
        _start(Job(cfg, _create_run(cfg), EventBus(), Control(), retrain=False), headless=True)


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
    nproc: NprocOpt = 1,
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
        _launch(nproc, device=cfg.run.device)
        _start(Job(cfg, _create_run(cfg), EventBus(), Control(), search=False, arch=arch), headless=True)


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
    nproc: NprocOpt = 1,
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
        _launch(nproc, device=cfg.run.device)
        run_dir = _create_run(cfg, label="baseline", baseline=True)
        _start(Job(cfg, run_dir, EventBus(), Control(), search=False, arch=arch), headless=True)


@app.command()
def resume(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    headless: Annotated[bool, typer.Option(help="no TUI")] = False,
    nproc: NprocOpt = 1,
) -> None:
    """Continue a run after a crash, a kill or Ctrl+C: same alpha history, same event file."""
    with user_errors():
        # a wrong path fails here, before any process starts
        _launch(nproc, headless, RunDir.open(run_dir).config().run.device)
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
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    block: Annotated[list[int] | None, typer.Option("--block", "-b", help="block id (repeatable)")] = None,
    save: Annotated[Path | None, typer.Option(help="write the figure to this file (.txt or .html)")] = None,
    width: Annotated[int, typer.Option(help="figure width in characters")] = 120,
) -> None:
    """Alpha trajectories per block, kernel and activation (the paper's Fig. 3), in the terminal."""
    import plotext as plt

    from presnet_tui.plots import figure, trajectory_from_events

    with user_errors():
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


@app.command()
def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help="run directories (a baseline run adds its row)")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The paper's Table I for the given runs: model, scope, params, test top-1, search time."""
    with user_errors():
        rows = [_compare_row(RunDir.open(p)) for p in run_dirs]
        rows.sort(key=lambda r: (r["model"] != "ResNet-50 (baseline)", r["model"]))
        if as_json:
            sys.stdout.write(json.dumps(rows, indent=2) + "\n")
            return
        table = Table(title="Performance comparison")
        for col in ("model", "scope", "params", "top-1 (%)", "search time", "run"):
            table.add_column(col)
        for r in rows:
            top1 = f"{100 * r['test_top1']:.2f}" if r["test_top1"] is not None else "-"
            search = f"{r['search_s']:.0f} s" if r["search_s"] is not None else "-"
            table.add_row(
                r["model"],
                str(r["scope"] or "-"),
                f"{r['params'] / 1e6:.2f}M" if r["params"] else "-",
                top1,
                search,
                r["run"],
            )
        console.print(table)


def _compare_row(run_: RunDir) -> dict[str, Any]:
    s = run_.summary()
    if not s:
        raise PresnetError("run has no summary.json yet", where=str(run_.path), hint="let the run finish first")
    baseline_run = bool(s.get("baseline"))
    scope = None if baseline_run else s.get("search", {}).get("scope")
    label = scope if isinstance(scope, str) else "custom"
    return {
        "model": "ResNet-50 (baseline)" if baseline_run else f"PResNet-50-{label}",
        "scope": scope,
        "params": s.get("params"),
        "test_top1": s.get("retrain", {}).get("test_top1"),
        "search_s": s.get("search", {}).get("elapsed_s"),
        "run": str(run_.path),
    }


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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
