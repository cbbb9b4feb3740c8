"""What every ``presnet`` command shares: the one Typer app, the one error-to-exit path, the
shared options and the reading of a config with the command line's overrides.

Every command turns a :class:`~core.errors.PresnetError` into one line on stderr and exit code 2;
a run that fails exits 1; success exits 0.  Heavy modules (torch) load inside the commands that
need them, so ``presnet --help`` stays instant.
"""

from __future__ import annotations

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

console = Console()
err_console = Console(stderr=True)
EXIT_USAGE = 2


class FastExit:
    """Set by a command whose process has nothing left to do once it returns: a headless run (its files
    are closed and fsynced, its lock released) or the TUI (every run is another process).  The CLI's
    entry point then leaves with ``os._exit``, skipping the interpreter's teardown -- garbage-collecting
    torch's objects took 4 to 50 s after a SIGTERM on the loaded 2-core machine (BENCHMARKS.md)."""

    wanted = False


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
    except OSError as err:  # a path the user gave that cannot be read or written (--save, -o, --out)
        where = f"{err.filename}: " if err.filename else ""
        fail([f"{where}{err.strerror or err} — check the path and its permissions"])


class OneLineErrors(TyperGroup):
    """The one error-to-exit path: a bad option value (Click's usage errors) or a :class:`PresnetError`
    escaping a command is one ``error:`` line on stderr and exit 2, like :func:`user_errors`."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        from typer._click.exceptions import NoArgsIsHelpError, UsageError

        quiet_flags(self)
        try:
            with user_errors():
                code = super().main(*args, **{**kwargs, "standalone_mode": False})
        except NoArgsIsHelpError as err:  # `presnet` or `presnet config` alone: the help, as Click shows it
            err.show()
            code = err.exit_code
        except UsageError as err:
            where = err.ctx.command_path if err.ctx else "presnet"
            try:
                fail([f"{usage_message(err, where)} — see `{where} --help`"])
            except typer.Exit as exit_:
                code = exit_.exit_code
        except typer.Exit as exit_:
            code = exit_.exit_code
        if not standalone_mode:
            return code
        sys.exit(code or 0)


def usage_message(err: Any, where: str) -> str:
    """Click's message, without a suggestion that helps no one: ``--headless`` on a command that is
    headless anyway says so, and "(Possible options: --help)" is left out."""
    if getattr(err, "option_name", None) == "--headless":
        return f"`{where}` always runs headless: drop --headless"
    return str(err.format_message()).replace(" (Possible options: --help)", "")


def quiet_flags(command: Any) -> None:
    """A plain flag (``--headless``, ``--help``) takes no value: no ``<bool>`` placeholder beside it in
    ``--help`` (Typer shows the type of every option; an empty metavar shows nothing)."""
    from typer._click import Context

    for param in command.get_params(Context(command)):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        quiet_flags(sub)


def use_colour(stream: Any) -> bool:
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
ScopeOpt = Annotated[
    str | None,
    typer.Option(help="s, m, l, f, block ids like 1,2,5 or ranges like 10-13, or progressive (stages s, m, l, f)"),
]
ProgressiveOpt = Annotated[
    str | None,
    typer.Option(
        help="progressive search: stages deep to shallow, e.g. s,m,f, or block ids with stages split by ';', "
        "e.g. '10,11;10-13' (ids or ranges)"
    ),
]
KernelsOpt = Annotated[str | None, typer.Option(help=f"candidate kernels, comma-separated, from {list(KERNELS)}")]
ActsOpt = Annotated[str | None, typer.Option(help=f"candidate activations, comma-separated, from {list(ACTIVATIONS)}")]
EpochsOpt = Annotated[int | None, typer.Option(help="search epochs")]
StopAtOpt = Annotated[int | None, typer.Option("--stop-at-epoch", help="stop the search after this epoch")]
WarmupOpt = Annotated[
    int | None, typer.Option("--warmup-epochs", help="search epochs of weight steps only (search.warmup_epochs)")
]
ArchLrOpt = Annotated[float | None, typer.Option("--arch-lr", help="alphas' Adam learning rate (search.arch_lr)")]
EstimatorOpt = Annotated[
    str | None, typer.Option("--estimator", help="alphas' gradient estimator: two_path or all_paths (search.estimator)")
]
PatienceOpt = Annotated[
    int | None,
    typer.Option("--patience", help="epochs a decision's argmax must hold to be settled (search.patience)"),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="any config setting, e.g. --set search.arch_lr=0.01 (repeatable; `presnet config show` lists the keys)",
    ),
]
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
AllowUnsearchedOpt = Annotated[
    bool,
    typer.Option(
        "--allow-unsearched",
        help="use an architecture whose search ended in its warm-up (the plain network, no architecture step)",
    ),
]
NprocOpt = Annotated[
    int,
    typer.Option(
        "--nproc",
        min=1,
        help="processes, one per GPU (gloo on the CPU), started through torchrun; data.batch_size is per process",
    ),
]


def resolve_config(config: Path | None, **overrides: Any) -> Config:
    """The config file (or the quickstart) with the options given on the command line
    (the keyword names of :class:`core.api.config.ConfigOverrides`)."""
    from core.api.config import ConfigOverrides
    from core.api.config import resolve_config as resolve

    return resolve(config, ConfigOverrides(**overrides))


def one_of(value: str, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise PresnetError(f"unknown value {value!r}", where=where, hint=f"use one of {', '.join(allowed)}")
    return value
