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
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from typer.core import TyperGroup

from core.errors import PresnetError
from core.space import ACTIVATIONS, KERNELS

if TYPE_CHECKING:  # the heavy modules (torch) load inside the commands that need them: `--help` stays instant
    from core.config import Config
    from core.run.rundir import RunDir
    from core.space.arch import Architecture
    from core.train.job import Job

console = Console()
err_console = Console(stderr=True)
EXIT_USAGE = 2


def fail(lines: list[str]) -> NoReturn:
    if os.environ.get("RANK", "0") != "0" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise typer.Exit(EXIT_USAGE)  # a distributed run speaks through rank 0 alone
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


class OneLineErrors(TyperGroup):
    """The one error-to-exit path: a bad option value (Click's usage errors) or a :class:`PresnetError`
    escaping a command is one ``error:`` line on stderr and exit 2, like :func:`user_errors`."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        from typer._click.exceptions import NoArgsIsHelpError, UsageError

        try:
            with user_errors():
                code = super().main(*args, standalone_mode=False, **kwargs)
        except NoArgsIsHelpError:
            raise
        except UsageError as err:
            where = err.ctx.command_path if err.ctx else "presnet"
            try:
                fail([f"{err.format_message()} — see `{where} --help`"])
            except typer.Exit as exit_:
                code = exit_.exit_code
        except typer.Exit as exit_:
            code = exit_.exit_code
        if not standalone_mode:
            return code
        sys.exit(code or 0)


def _colour(stream: Any) -> bool:
    """ANSI colour only for a terminal, and never under ``NO_COLOR`` (https://no-color.org)."""
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("NO_COLOR")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            console.print(f"presnet {version('presnet')}")
        except PackageNotFoundError:
            console.print("presnet (not installed: run `pip install -e .`)")
        raise typer.Exit()


app = typer.Typer(
    cls=OneLineErrors,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Search-space-scoped ProxylessNAS on ResNet-50.",
)
config_app = typer.Typer(no_args_is_help=True, help="Show or check configs.")
app.add_typer(config_app, name="config")


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """Search-space-scoped ProxylessNAS on ResNet-50."""


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
ImageSizeOpt = Annotated[
    int | None, typer.Option("--image-size", help="side of the input images (data.image_size); sets map sizes")
]
CandidatesOpt = Annotated[
    str | None, typer.Option("--candidates", help="factorized (kernel, activation decisions) or joint (one over pairs)")
]
NprocOpt = Annotated[
    int,
    typer.Option(
        "--nproc",
        min=1,
        help="processes, one per GPU (gloo on the CPU), started through torchrun; data.batch_size is per process",
    ),
]


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
    image_size: int | None = None,
    candidates: str | None = None,
) -> Config:
    from core.config import load_config

    overrides: dict[str, Any] = {
        "space.scope": scope,  # text as typed: core.space reads "s" and "1,2,5" alike
        "space.kernels": kernels,
        "space.activations": activations,
        "search.epochs": epochs,
        "search.stop_at_epoch": stop_at_epoch,
        "data.dataset": dataset,
        "data.data_dir": str(data_dir.resolve()) if data_dir else None,
        "data.download": download,
        "run.device": device,
        "run.seed": seed,
        "run.out": str(out.resolve()) if out else None,
        "retrain.epochs": retrain_epochs,
        "data.image_size": image_size,
        "space.candidates": candidates,
    }
    return load_config(config, overrides)


def _no_terminal() -> bool:
    """No TTY on stdin/stdout: the TUI would hang there, so such a run goes headless."""
    from presnet_tui.terminal import has_terminal

    return not has_terminal()


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
    from core.scale.distributed import check_nproc, launch

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
    """The run directory, its lock held by the object returned (no window for a second writer);
    distributed, rank 0 creates it and tells the other ranks where it is."""
    from core.run.rundir import RunDir
    from core.scale import distributed

    made: list[RunDir] = []

    def create() -> str:
        run_dir = RunDir.create(cfg, label=label)
        if baseline:
            run_dir.update_summary(baseline=True)
        made.append(run_dir)
        return str(run_dir.path)

    if distributed.under_torchrun():
        distributed.init(cfg.run.device)
    path = distributed.on_main(create)
    return made[0] if made else RunDir(Path(path))


def _start(job: Job, headless: bool, no_tty: bool = False) -> None:
    from core.scale import distributed
    from presnet_tui.headless import run_headless
    from presnet_tui.terminal import NO_TTY_NOTICE

    if distributed.under_torchrun():
        distributed.init(job.config.run.device)
        job.prepare()
        rank = distributed.current()
        code = run_headless(job, console if rank.is_main else Console(quiet=True))
        distributed.teardown()
        raise typer.Exit(code)
    job.prepare()
    if no_tty:  # said once the input has passed its checks, so a refusal stays one line
        err_console.print(NO_TTY_NOTICE, highlight=False, soft_wrap=True)
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
    image_size: ImageSizeOpt = None,
    candidates: CandidatesOpt = None,
    nproc: NprocOpt = 1,
) -> None:
    """Search, derive the architecture, retrain it from scratch. No config: the embedded quickstart."""
    from core.run.control import Control
    from core.run.events import EventBus
    from core.train.job import Job

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
            image_size=image_size,
            candidates=candidates,
        )
        no_tty = not headless and _no_terminal()
        _launch(nproc, headless or no_tty, cfg.run.device)
        if not (headless or no_tty):
            from presnet_tui.app import PresnetApp

            PresnetApp(config=cfg).run()
            return
        job = Job(cfg, _create_run(cfg), EventBus(), Control())
        _start(job, headless=True, no_tty=no_tty)


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
    image_size: ImageSizeOpt = None,
    candidates: CandidatesOpt = None,
    nproc: NprocOpt = 1,
) -> None:
    """Search and derive the architecture (no retrain), headless."""
    from core.run.control import Control
    from core.run.events import EventBus
    from core.train.job import Job

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
            image_size=image_size,
            candidates=candidates,
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
    image_size: ImageSizeOpt = None,
    nproc: NprocOpt = 1,
) -> None:
    """Train an architecture file from scratch and test it, headless."""
    from core.run.control import Control
    from core.run.events import EventBus
    from core.space.arch import load_arch
    from core.train.job import Job

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
            image_size=image_size,
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
    image_size: ImageSizeOpt = None,
    nproc: NprocOpt = 1,
) -> None:
    """Retrain the plain ResNet-50 with the config's retrain settings (Table I's baseline row)."""
    from core.run.control import Control
    from core.run.events import EventBus
    from core.space.arch import Architecture
    from core.train.job import Job

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
            image_size=image_size,
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
    from core.run.rundir import RunDir
    from core.train.job import resume_job

    with user_errors():
        no_tty = not headless and _no_terminal()
        # a wrong path fails here, before any process starts
        _launch(nproc, headless or no_tty, RunDir.open(run_dir).config().run.device)
        job = resume_job(RunDir.open(run_dir), retrain_after_search=headless or no_tty)
        if headless or no_tty:
            _start(job, headless=True, no_tty=no_tty)
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
    from core.run.control import Control
    from core.run.rundir import RunDir

    with user_errors():
        rundir = RunDir.open(run_dir)
        control = Control(rundir.control_file)  # the same rules as the TUI's keys: a stop also lifts a pause
        if pause:
            control.pause()
        elif unpause:
            control.resume()
        elif at_epoch is not None:
            control.stop_at_epoch(at_epoch)
        else:
            control.request_stop()
        what = "pause" if pause else "resume" if unpause else f"stop after epoch {at_epoch}" if at_epoch else "stop now"
        console.print(f"asked {rundir.path} to {what}")


@app.command()
def derive(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    epoch: Annotated[int | None, typer.Option(min=1, help="epoch whose alphas to use (default: last)")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write the architecture here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON only")] = False,
) -> None:
    """The argmax architecture of any past epoch of a search."""
    from core.run.rundir import RunDir
    from core.space.arch import save_arch
    from core.train.job import derive_at

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
    from rich.table import Table

    from core.space import BASE_ACTIVATION, BASE_KERNEL, block_positions
    from core.space.network import count_params

    table = Table(title=title)
    for col in ("block", "stage", "kernel", "activation"):
        table.add_column(col)
    for pos in sorted(block_positions(arch.depths), key=lambda p: p.block_id):
        b = arch.blocks.get(pos.block_id)
        mark = "" if b else " (plain)"
        table.add_row(
            str(pos.block_id),
            str(pos.stage + 1),
            f"{(b.kernel if b else BASE_KERNEL)}x{(b.kernel if b else BASE_KERNEL)}",
            (b.activation if b else BASE_ACTIVATION) + mark,
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
    config: ConfigOpt = None,
    image_size: ImageSizeOpt = None,
    candidates: CandidatesOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """An architecture file's blocks, params and FLOPs, or a search space's blocks, map sizes, choices and costs."""
    import torch

    from core.space import SearchSpace
    from core.space.arch import load_arch
    from core.space.cost import count_flops, human, measure_candidates
    from core.space.geometry import space_geometry
    from core.space.network import NetSpec, SearchNet, build_plain, count_params, supernet_facts

    with user_errors():
        cfg = resolve_config(
            config, scope=scope, kernels=kernels, activations=activations, image_size=image_size, candidates=candidates
        )
        size = cfg.data.image_size
        if arch_file is not None:
            arch = load_arch(arch_file)
            flops = count_flops(arch.build(), size)
            if as_json:
                data = {
                    "params": count_params(arch.build()),
                    "flops": flops,
                    "image_size": size,
                    "architecture": arch.model_dump(mode="json"),
                }
                sys.stdout.write(json.dumps(data, indent=2) + "\n")
            else:
                _arch_table(arch, str(arch_file))
                console.print(f"FLOPs at {size} px: {human(flops)} ({flops:,}; a multiply-add = 2)")
            return
        if scope is None:
            raise PresnetError(
                "give an architecture file or --scope", where="inspect", hint="e.g. presnet inspect --scope s"
            )
        # The space as the paper defines it: full-width ResNet-50 (torchvision's stem), 10 classes.
        space = SearchSpace.build(
            cfg.space.scope, cfg.space.kernels, cfg.space.activations, joint=cfg.space.candidates == "joint"
        )
        spec = NetSpec()
        facts = supernet_facts(space, spec)
        with torch.device("meta"):  # shapes only: FLOPs need no arithmetic and no memory
            costs = measure_candidates(SearchNet(spec, space), "flops", size)
            baseline_flops = count_flops(build_plain(spec), size)
        geometry = space_geometry(space, size, spec.stem)
        data = {
            "scope": cfg.space.scope,
            "search_blocks": list(facts.block_ids),
            "stages": facts.stages,
            "kernels": list(facts.kernels),
            "activations": list(facts.activations),
            "candidates": cfg.space.candidates,
            "decisions": {d: list(space.labels(d)) for d in space.decisions},
            "choices_per_block": facts.choices_per_block,
            "architectures": facts.architectures,
            "supernet_params": facts.supernet_params,
            "baseline_params": facts.baseline_params,
            "image_size": size,
            "stem": spec.stem,
            "blocks": [g.to_json() for g in geometry],
            "baseline_flops": baseline_flops,
            "flops": {
                "min": int(costs.fixed + sum(min(r) for rows in costs.per_row.values() for r in rows)),
                "max": int(costs.fixed + sum(max(r) for rows in costs.per_row.values() for r in rows)),
                "per_block": {
                    str(b): {d: dict(zip(space.labels(d), map(int, costs.per_row[d][r]))) for d in space.decisions}
                    for r, b in enumerate(space.block_ids)
                },
            },
        }
        if as_json:
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
            return
        from rich.table import Table

        flops_of = data["flops"]["per_block"]
        table = Table(title=f"search space, scope {cfg.space.scope}, {size} px input")
        for col in ("block", "stage", "map", "kernel choices", "activation choices", "FLOPs of its choices"):
            table.add_column(col)
        for g in geometry:
            kernel_cells = ", ".join(
                f"{k}x{k}" + (f"(={e}x{e})" if e != k else "") for k, e in g.effective_kernels.items()
            )
            if g.kernel_choice_void:
                kernel_cells += " [yellow]void[/]"
            block_flops = [f for d in flops_of[str(g.block_id)].values() for f in d.values()]
            table.add_row(
                str(g.block_id),
                str(g.stage),
                f"{g.input_size}x{g.input_size}",
                kernel_cells,
                ", ".join(space.activations),
                f"{human(min(block_flops))} to {human(max(block_flops))}",
            )
        console.print(table)
        console.print(
            f"{len(space.block_ids)} search blocks in stages {data['stages']}; "
            f"{facts.architectures:,} architectures; super-network {facts.supernet_params:,} params "
            f"(ResNet-50: {data['baseline_params']:,})"
        )
        console.print(
            f"FLOPs at {size} px: {human(data['flops']['min'])} to {human(data['flops']['max'])} "
            f"(ResNet-50: {human(data['baseline_flops'])})"
        )
        void = [g.block_id for g in geometry if g.kernel_choice_void]
        if void:
            console.print(
                f"[yellow]void kernel choice[/] in blocks {void}: at {size} px their middle conv sees a map too small "
                "to tell the kernels apart (see README, 'What the kernel choice means at your input size')",
                soft_wrap=True,
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
            sys.stdout.write((text if _colour(sys.stdout) else plt.uncolorize(text)) + "\n")


def _plot_fig3(rundir: RunDir, traj: Any, blocks: list[str], save: Path) -> None:
    from core.run.events import SearchStopped
    from presnet_tui.figures import fig3

    stops = [e.epoch for e in rundir.events() if isinstance(e, SearchStopped)]
    fig3(traj, blocks, save, stop_epoch=stops[-1] if stops else None, title=f"{rundir.path.name}: alphas over epochs")
    console.print(f"saved {save}")


def _plot_sweep(sweep_dir: Path, save: Path) -> None:
    from core.run.table import collect, table_rows
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

    from core.run.table import collect, table_rows

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


def _run_flops(rundir: RunDir) -> dict[str, Any]:
    """FLOPs of the run's architecture at its configured input size (none without an arch.json)."""
    from core.space.arch import load_arch
    from core.space.cost import count_flops

    if not rundir.arch_file.is_file():
        return {"flops": None, "image_size": None}
    size = rundir.config().data.image_size
    return {"flops": count_flops(load_arch(rundir.arch_file).build(), size), "image_size": size}


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="run directory with retrained weights")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="onnx or pt2 (torch.export)")] = "onnx",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="file to write (default: RUN/model.<format>)")] = None,
    image_size: Annotated[
        int | None, typer.Option("--image-size", min=8, help="input side (default: the run's data.image_size)")
    ] = None,
    batch: Annotated[str, typer.Option(help="'dynamic' or a fixed batch size")] = "dynamic",
    weights: Annotated[str, typer.Option(help="best (best test epoch), last, or a weights file")] = "best",
) -> None:
    """Export a run's retrained network to ONNX or a torch.export program, checked against PyTorch."""
    with user_errors():
        from core.export import export_run, resolve_weights
        from core.run.rundir import RunDir

        if batch != "dynamic" and not batch.isdigit():
            raise PresnetError(f"cannot read batch {batch!r}", where="--batch", hint="use dynamic or a number, e.g. 1")
        size_batch: Any = batch if batch == "dynamic" else int(batch)
        result = export_run(run_dir, fmt.lower(), out, image_size, size_batch, weights)
        used = resolve_weights(RunDir.open(run_dir), weights)
        console.print(f"wrote {result.path} ({result.format}, weights {used})")
        console.print(f"checked on a test batch: max |logit diff| {result.max_abs_diff:.2e} ({result.tolerance})")


@app.command()
def latency(
    config: ConfigOpt = None,
    scope: ScopeOpt = None,
    kernels: KernelsOpt = None,
    activations: ActsOpt = None,
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    image_size: Annotated[
        int | None, typer.Option("--image-size", min=8, help="input side (default: the config's)")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="images per timed call")] = 1,
    repeats: Annotated[int, typer.Option(min=3, help="timed calls per candidate (the median is kept)")] = 20,
    num_classes: Annotated[int, typer.Option("--num-classes", min=2, help="classifier outputs")] = 10,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write the lookup table (JSON) here")] = None,
) -> None:
    """Time each candidate of each search block in place: a lookup table for `search.cost.metric: latency`."""
    with user_errors():
        import torch
        from rich.table import Table

        from core.space.cost import human, latency_table, save_latency_table
        from core.space.network import SearchNet, net_spec
        from core.train.device import resolve_device

        cfg = resolve_config(config, scope=scope, kernels=kernels, activations=activations, device=device)
        dev = resolve_device(cfg.run.device)
        size = image_size or cfg.data.image_size
        torch.manual_seed(cfg.run.seed)
        net = SearchNet(net_spec(cfg, num_classes), cfg.search_space()).to(dev)
        table = latency_table(net, size, batch=batch, repeats=repeats)
        if out is not None:
            save_latency_table(out, table)
        grid = Table(title=f"latency per candidate, {table['device']}, {size} px, batch {batch} (median of {repeats})")
        for col in ("block", "kernel", "activation"):
            grid.add_column(col)
        for bid, row in sorted(table["blocks"].items(), key=lambda kv: int(kv[0])):
            grid.add_row(
                bid,
                ", ".join(f"{k}: {human(v, 'latency')}" for k, v in row["kernel"].items()),
                ", ".join(f"{a}: {human(v, 'latency')}" for a, v in row["activation"].items()),
            )
        console.print(grid)
        console.print(
            f"whole network {human(table['whole_us'], 'latency')}; fixed part {human(table['fixed_us'], 'latency')}"
        )
        if out is not None:
            console.print(f"written to {out}")


@app.command()
def tensorboard(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="log folder (default: RUN/tensorboard)")] = None,
) -> None:
    """Convert a run's events.jsonl into TensorBoard event files (`tensorboard --logdir RUN/tensorboard`)."""
    with user_errors():
        from core.run.rundir import RunDir
        from core.run.tensorboard import TB_DIR, convert_events

        rundir = RunDir.open(run_dir)
        if not rundir.events_file.is_file():
            raise PresnetError("the run has no events.jsonl yet", where=str(rundir.path), hint="start the run first")
        log_dir = out or rundir.path / TB_DIR
        n = convert_events(rundir.events_file, log_dir)
        console.print(f"{n} events written to {log_dir}; view with `tensorboard --logdir {log_dir}`")


@config_app.command("show")
def config_show(config: ConfigOpt = None) -> None:
    """Print the resolved config (defaults filled in)."""
    from core.config import dump_yaml, load_config

    with user_errors():
        sys.stdout.write(dump_yaml(load_config(config)))


@config_app.command("check")
def config_check(path: Annotated[Path, typer.Argument(help="YAML config")]) -> None:
    """Validate a config; prints every problem as field.path: message."""
    from core.config import load_config

    with user_errors():
        load_config(path)
        console.print(f"{path}: ok")


def _one_of(value: str, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise PresnetError(f"unknown value {value!r}", where=where, hint=f"use one of {', '.join(allowed)}")
    return value


@app.command()
def bench(
    device: DeviceOpt = "auto",
    width: Annotated[
        float | None,
        typer.Option(help="width multiplier (default: 1.0 on CUDA, 0.25 on CPU)"),
    ] = None,
    depths: Annotated[str, typer.Option(help="blocks per stage, comma-separated")] = "3,4,6,3",
    stem: Annotated[str, typer.Option(help="imagenet or cifar")] = "imagenet",
    candidates: Annotated[str, typer.Option(help="factorized or joint")] = "factorized",
    image_size: Annotated[int, typer.Option("--image-size", min=8, help="side of the input images")] = 32,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, help="default: 64 on CUDA, 32 on CPU")
    ] = None,
    repeats: Annotated[int | None, typer.Option(min=1, help="timed repeats (default: 20 on CUDA, 9 on CPU)")] = None,
    warmup: Annotated[int, typer.Option(min=0, help="untimed steps before timing")] = 2,
    epoch_images: Annotated[int | None, typer.Option("--epoch-images", min=1, help="images in the (5) epoch")] = None,
    scopes: Annotated[str, typer.Option(help="scope letters to measure, comma-separated")] = "s,m,l,f",
    amp: Annotated[str, typer.Option(help="auto, bf16, fp16 or off")] = "auto",
    channels_last: Annotated[str, typer.Option("--channels-last", help="auto, on or off")] = "auto",
    threads: Annotated[
        int | None, typer.Option(min=1, help="CPU threads for torch (1 gives steadier CPU ratios)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of the table")] = False,
    suite: Annotated[
        str, typer.Option(help="default, or gpu: the CUDA validation suite of BENCHMARKS.md (uses --device, --out)")
    ] = "default",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="folder for the JSON results (gpu suite: its runs too)")
    ] = None,
) -> None:
    """Search cost against its physical limit, and memory against a DARTS-style step."""
    with user_errors():
        from core.config import ConfigError, validate
        from core.space import scope_letters, validate_depths

        try:
            device = validate({"run": {"device": device}}).run.device
        except ConfigError as err:
            raise PresnetError(err.problems[0].removeprefix("run.device: "), where="--device") from None
        if _one_of(suite, ("default", "gpu"), "--suite") == "gpu":  # sizes of its own: --device, --out, --threads
            import torch

            from core.perf import gpu_suite

            if threads:
                torch.set_num_threads(threads)
            report = gpu_suite.run_suite(device, out or gpu_suite.default_out(), log=console.print)
            console.print(gpu_suite.render(report), highlight=False)
            raise typer.Exit(0 if report.passed else 1)
        if width is not None and not 0 < width <= 4:
            raise PresnetError(f"{width} is outside (0, 4]", where="--width", hint="1.0 is ResNet-50's width")
        settings_kw = dict(
            device=device,
            width=width,
            depths=validate_depths(depths, where="--depths"),
            stem=_one_of(stem, ("imagenet", "cifar"), "--stem"),
            candidates=_one_of(candidates, ("factorized", "joint"), "--candidates"),
            image_size=image_size,
            batch_size=batch_size,
            repeats=repeats,
            warmup=warmup,
            epoch_images=epoch_images,
            scopes=scope_letters(scopes, where="--scopes"),
            amp=_one_of(amp, ("auto", "bf16", "fp16", "off"), "--amp"),
            channels_last=_one_of(channels_last, ("auto", "on", "off"), "--channels-last"),
            threads=threads,
        )
        from core.perf.bench import BenchSettings
        from core.perf.bench import run as run_bench
        from presnet_tui.bench_view import render

        result = run_bench(BenchSettings(**settings_kw))  # type: ignore[arg-type]
        if out is not None:
            from core.io import atomic_write_text

            out.mkdir(parents=True, exist_ok=True)
            atomic_write_text(out / "bench.json", json.dumps(result, indent=2) + "\n")
    sys.stdout.write(json.dumps(result, indent=2) + "\n" if as_json else render(result) + "\n")


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
    from core.config import load_config
    from core.run.rundir import RunDir
    from core.scale.sweep import Sweep, is_sweep
    from core.train.job import resume_job
    from presnet_tui.app import PresnetApp

    with user_errors():
        if attach is not None:
            Sweep.open(attach) if is_sweep(attach) else RunDir.open(attach)  # a clear error before the app starts
            PresnetApp(attach=attach).run()
            return
        if resume is not None:
            PresnetApp(job=resume_job(RunDir.open(resume), retrain_after_search=False).prepare()).run()
            return
        PresnetApp(config=load_config(config) if config else None).run()


def tui_main() -> None:
    """``presnet-tui``: an alias of ``presnet tui``."""
    app(["tui", *sys.argv[1:]], prog_name="presnet")


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
