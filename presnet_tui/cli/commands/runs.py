"""Commands that write a run directory (run, search, retrain, baseline, resume) or steer a live
one (stop); ``--nproc`` starts them through torchrun."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from core.config import ConfigOverrides  # the settings' table alone: no pydantic, no torch
from core.errors import PresnetError

if TYPE_CHECKING:  # the heavy modules (torch) load inside the commands that need them: `--help` stays instant
    from core.api.jobs import Job
    from core.api.runs import RunKind

from presnet_tui.cli.commands.common import (
    AllowUnsearchedOpt,
    ConfigOpt,
    FastExit,
    NprocOpt,
    app,
    console,
    err_console,
    user_errors,
    with_settings,
)


def _no_terminal() -> bool:
    """No TTY on stdin/stdout: the TUI would hang there, so such a run goes headless."""
    from presnet_tui.cli.terminal import has_terminal

    return not has_terminal()


# -- several processes (torchrun) ---------------------------------------------------------------
def _launch(nproc: int, headless: bool = True, device: str = "auto") -> None:
    """``--nproc N`` (N > 1), outside torchrun: start N copies of this command through torchrun's
    launcher and exit with their code. Under torchrun (RANK/WORLD_SIZE set) the command runs as a rank."""
    from core.api.runs import launch, under_launcher

    if (nproc > 1 or under_launcher()) and not headless:
        raise PresnetError(
            "several processes run headless only",
            where="--nproc" if nproc > 1 else "torchrun",
            hint="add --headless (attach the TUI with presnet-tui --attach RUN)",
        )
    if nproc <= 1 or under_launcher():
        return
    raise typer.Exit(launch(nproc, device, ["-m", "presnet_tui.cli", *_worker_args(sys.argv[1:])]))


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


def _start(job: Job, no_tty: bool = False) -> None:
    """Run a job headless in this process (the worker's code path, also the TUI's detached workers)."""
    from core.api.runs import run_job_as_rank, under_launcher
    from presnet_tui.cli.terminal import NO_TTY_NOTICE
    from presnet_tui.cli.views.headless import run_headless

    if under_launcher():  # rank 0 alone speaks
        raise typer.Exit(
            run_job_as_rank(job, lambda j, main: run_headless(j, console if main else Console(quiet=True)))
        )
    job.prepare()
    if no_tty:  # said once the input has passed its checks, so a refusal stays one line
        err_console.print(NO_TTY_NOTICE, highlight=False, soft_wrap=True)
    code = run_headless(job, console)
    FastExit.wanted = True  # the run's files are closed: no interpreter teardown to wait for
    raise typer.Exit(code)


def _new_run(
    kind: RunKind,
    config: Path | None,
    overrides: ConfigOverrides,
    *,
    nproc: int = 1,
    headless: bool = True,
    arch_file: Path | None = None,
    allow_unsearched: bool = False,
    resume_if_exists: bool = False,
) -> None:
    """The one path of run, search, retrain and baseline: config, launcher, run directory, job, start.

    The config is read (and a bad option refused) before torch loads; search, retrain and baseline
    always run headless."""
    from core.api.config import check_data, resolve_config
    from core.api.runs import start_run

    with user_errors():
        cfg = resolve_config(config, overrides)
        check_data(cfg, overrides)
        arch = None
        if arch_file is not None:  # an architecture needs torch: read after the options have passed
            from core.api.arch import load_arch
            from core.api.confidence import check_searched

            arch = load_arch(arch_file)
            check_searched(arch, allow_unsearched, str(arch_file))
        if resume_if_exists and _continue_existing(overrides.get("out"), headless, nproc, cfg.run.device):
            return
        no_tty = not headless and _no_terminal()
        _launch(nproc, headless or no_tty, cfg.run.device)
        if not (headless or no_tty):
            from presnet_tui.app.app import PresnetApp
            from presnet_tui.cli.commands.tui import leave

            leave(PresnetApp(config=cfg, retrain_after_search=kind == "run"))
            return
        _start(start_run(cfg, kind, arch=arch), no_tty=no_tty)


def _continue_existing(out: object, headless: bool, nproc: int = 1, device: str = "auto") -> bool:
    """``--resume-if-exists``: continue the run at ``--out`` if one is there (True), else start it (False);
    so that a requeued job script is one line whether the scheduler ran it before or not.  With
    ``--nproc N`` the launcher starts N ranks of this same line, each of which continues the run (the
    directory exists before any rank starts, so they all decide alike)."""
    if not isinstance(out, Path):
        raise PresnetError(
            "--resume-if-exists needs --out (the run directory to continue or start)",
            where="--resume-if-exists",
            hint="add --out runs/NAME",
        )
    if not headless:
        raise PresnetError("--resume-if-exists runs headless only", where="--resume-if-exists", hint="add --headless")
    from core.api.rundirs import RunDir

    if not RunDir(out).config_file.is_file():
        return False
    from core.api.runs import continue_run

    _launch(nproc, headless, device)  # the launcher (--nproc > 1) leaves here with its ranks' exit code
    _start(continue_run(out))
    return True


# -- commands -------------------------------------------------------------------------------
# Their settings' options (--scope ... --progressive, then --set) come from core.config.settings: see with_settings.
@app.command()
@with_settings("run")
def run(
    config: ConfigOpt = None,
    headless: Annotated[bool, typer.Option(help="no TUI: progress bars and logs")] = False,
    *,
    overrides: ConfigOverrides,
    nproc: NprocOpt = 1,
    resume_if_exists: Annotated[
        bool,
        typer.Option(
            "--resume-if-exists", help="with --out and --headless: continue the run there if it exists, else start it"
        ),
    ] = False,
) -> None:
    """Search, derive the architecture, retrain it from scratch. No config: the embedded quickstart."""
    _new_run("run", config, overrides, nproc=nproc, headless=headless, resume_if_exists=resume_if_exists)


@app.command()
@with_settings("search")
def search(config: ConfigOpt = None, *, overrides: ConfigOverrides, nproc: NprocOpt = 1) -> None:
    """Search and derive the architecture (no retrain), headless."""
    _new_run("search", config, overrides, nproc=nproc)


@app.command()
@with_settings("retrain")
def retrain(
    arch_file: Annotated[Path, typer.Argument(help="architecture JSON")],
    config: ConfigOpt = None,
    *,
    overrides: ConfigOverrides,
    nproc: NprocOpt = 1,
    allow_unsearched: AllowUnsearchedOpt = False,
) -> None:
    """Train an architecture file from scratch and test it, headless."""
    _new_run("retrain", config, overrides, nproc=nproc, arch_file=arch_file, allow_unsearched=allow_unsearched)


@app.command()
@with_settings("baseline")
def baseline(config: ConfigOpt = None, *, overrides: ConfigOverrides, nproc: NprocOpt = 1) -> None:
    """Retrain the plain ResNet-50 with the config's retrain settings (Table I's baseline row)."""
    _new_run("baseline", config, overrides, nproc=nproc)


@app.command()
def resume(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    headless: Annotated[bool, typer.Option(help="no TUI")] = False,
    nproc: NprocOpt = 1,
    search_only: Annotated[
        bool, typer.Option("--search-only", hidden=True, help="continue the search, no retrain (the TUI's worker)")
    ] = False,
    arch: Annotated[
        Path | None,
        typer.Option("--arch", hidden=True, help="retrain this architecture in the run (the TUI's worker)"),
    ] = None,
    retrain_epochs: Annotated[
        int | None,
        typer.Option("--retrain-epochs", hidden=True, min=1, help="with --arch: the retrain's length (the TUI's r)"),
    ] = None,
) -> None:
    """Continue a run after a crash, a kill or Ctrl+C: same alpha history, same event file."""
    from core.api.rundirs import RunDir
    from core.api.runs import continue_run

    with user_errors():
        if arch is not None or search_only:  # a worker the TUI started (core.api.handle): headless, one process
            if arch is not None and search_only:
                raise PresnetError(
                    "choose one of --arch and --search-only", where="presnet resume", hint="one per call"
                )
            _start(_worker_job(run_dir, arch, retrain_epochs))
            return
        from core.api.runs import under_launcher
        from core.api.steer import check_resumable

        no_tty = not headless and _no_terminal()
        run = RunDir.open(run_dir)  # a wrong path fails here, before any process starts
        if not under_launcher():  # a live or finished run: one line, exit 2, headless or not
            check_resumable(run)
        _launch(nproc, headless or no_tty, run.config().run.device)
        if headless or no_tty:
            _start(continue_run(run_dir), no_tty=no_tty)
            return
        from presnet_tui.app.app import PresnetApp
        from presnet_tui.cli.commands.tui import leave

        leave(PresnetApp(resume=run_dir))


def _worker_job(run_dir: Path, arch_file: Path | None, epochs: int | None = None) -> Job:
    """The TUI's retrain (``--arch``: this architecture, in the run that found it) or continued search."""
    from core.api.rundirs import RunDir
    from core.api.runs import continue_run, retrain_run

    if arch_file is None:
        return continue_run(run_dir, retrain_after_search=False)
    from core.api.arch import load_arch

    run = RunDir.open(run_dir)
    return retrain_run(run, load_arch(arch_file), epochs=epochs)


@app.command()
def stop(
    run_dir: Annotated[Path, typer.Argument(help="run directory")],
    at_epoch: Annotated[int | None, typer.Option("--at-epoch", min=1, help="stop after this epoch")] = None,
    pause: Annotated[bool, typer.Option("--pause", help="pause instead of stopping")] = False,
    cont: Annotated[bool, typer.Option("--continue", help="continue a paused run")] = False,
    old_resume: Annotated[bool, typer.Option("--resume", hidden=True, help="deprecated: --continue")] = False,
) -> None:
    """Ask a running search (another process) to stop now, after an epoch, to pause or to continue."""
    from core.api.rundirs import RunDir
    from core.api.steer import check_stop_request
    from core.run.control import Control

    with user_errors():
        if sum((pause, cont or old_resume, at_epoch is not None)) > 1:
            raise PresnetError(
                "choose one of --pause, --continue, --at-epoch", where="presnet stop", hint="one per call"
            )
        if old_resume:  # "resume" now means only a restart from a checkpoint (presnet resume)
            err_console.print("warning: `presnet stop --resume` is deprecated; use `presnet stop --continue`")
        cont = cont or old_resume
        rundir = RunDir.open(run_dir)
        check_stop_request(rundir, at_epoch)
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
