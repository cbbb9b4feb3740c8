"""Commands that write a run directory (run, search, retrain, baseline, resume) or steer a live
one (stop); ``--nproc`` starts them through torchrun."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from core.errors import PresnetError

if TYPE_CHECKING:  # the heavy modules (torch) load inside the commands that need them: `--help` stays instant
    from core.config import Config
    from core.run.rundir import RunDir
    from core.train.job import Job

from presnet_tui.commands.common import (
    ActsOpt,
    CandidatesOpt,
    ConfigOpt,
    DataDirOpt,
    DatasetOpt,
    DeviceOpt,
    DownloadOpt,
    EpochsOpt,
    ImageSizeOpt,
    KernelsOpt,
    NprocOpt,
    OutOpt,
    ProgressiveOpt,
    RetrainEpochsOpt,
    ScopeOpt,
    SeedOpt,
    StopAtOpt,
    app,
    console,
    err_console,
    resolve_config,
    user_errors,
)


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
    progressive: ProgressiveOpt = None,
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
            progressive=progressive,
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
    progressive: ProgressiveOpt = None,
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
            progressive=progressive,
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
    cont: Annotated[bool, typer.Option("--continue", help="continue a paused run")] = False,
    old_resume: Annotated[bool, typer.Option("--resume", hidden=True, help="deprecated: --continue")] = False,
) -> None:
    """Ask a running search (another process) to stop now, after an epoch, to pause or to continue."""
    from core.run.control import Control
    from core.run.rundir import RunDir

    with user_errors():
        if sum((pause, cont or old_resume, at_epoch is not None)) > 1:
            raise PresnetError(
                "choose one of --pause, --continue, --at-epoch", where="presnet stop", hint="one per call"
            )
        if old_resume:  # "resume" now means only a restart from a checkpoint (presnet resume)
            err_console.print("warning: `presnet stop --resume` is deprecated; use `presnet stop --continue`")
        cont = cont or old_resume
        rundir = RunDir.open(run_dir)
        control = Control(rundir.control_file)  # the same rules as the TUI's keys: a stop also lifts a pause
        if pause:
            control.pause()
        elif cont:
            control.cont()
        elif at_epoch is not None:
            control.stop_at_epoch(at_epoch)
        else:
            control.request_stop()
        what = "pause" if pause else "continue" if cont else f"stop after epoch {at_epoch}" if at_epoch else "stop now"
        console.print(f"asked {rundir.path} to {what}")
