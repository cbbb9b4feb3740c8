"""What every ``presnet`` command shares: the one Typer app, the one error-to-exit path and the
shared options, those of the declared settings (:mod:`core.config.settings`) built from their table.

Every command turns a :class:`~core.errors.PresnetError` into one line on stderr and exit code 2;
a run that fails exits 1; success exits 0.  Heavy modules (torch) load inside the commands that
need them, so ``presnet --help`` stays instant.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, cast

import typer
from rich.console import Console
from typer.core import TyperGroup

from core.config import ConfigOverrides, Setting, setting, settings_for  # the settings' table: no pydantic loads
from core.errors import PresnetError

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
def option(name: str) -> Any:
    """The Typer option of the setting ``name``, as :mod:`core.config.settings` declares it (flags, help)."""
    declared = setting(name)
    return typer.Option(*declared.flags or (declared.flag,), help=declared.help)


ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config (default: the embedded quickstart)")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="any config setting, e.g. --set search.arch_lr=0.01 (repeatable; `presnet config show` lists the keys)",
    ),
]
# Settings that commands outside core.config.settings.RUN_COMMANDS take by hand (inspect, latency, sweep, plan,
# bench): the declared flag and help; the type is the declared kind's (tests/tui/test_cli_settings.py checks both).
ScopeOpt = Annotated[str | None, option("scope")]
KernelsOpt = Annotated[str | None, option("kernels")]
ActsOpt = Annotated[str | None, option("activations")]
EpochsOpt = Annotated[int | None, option("epochs")]
DatasetOpt = Annotated[str | None, option("dataset")]
DataDirOpt = Annotated[Path | None, option("data_dir")]
DownloadOpt = Annotated[bool | None, option("download")]
DeviceOpt = Annotated[str | None, option("device")]
RetrainEpochsOpt = Annotated[int | None, option("retrain_epochs")]
ImageSizeOpt = Annotated[int | None, option("image_size")]
CandidatesOpt = Annotated[str | None, option("candidates")]
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

Command = Callable[..., None]


def with_settings(command: str) -> Callable[[Command], Command]:
    """The Typer command ``command`` with an option per setting declared for it in
    :mod:`core.config.settings`, then ``--set``, in place of its keyword-only ``overrides`` parameter;
    the function receives them as one :class:`~core.config.ConfigOverrides`.

    The signature is built from the table, so a new setting is one line there: no parameter list,
    no keyword re-listing, no setup-screen edit.  Parameters declared after ``overrides`` stay after
    the settings in ``--help``."""
    declared = settings_for(command)

    def wrap(func: Command) -> Command:
        own = inspect.signature(func, eval_str=True).parameters
        if "overrides" not in own or own["overrides"].kind is not inspect.Parameter.KEYWORD_ONLY:
            raise TypeError(f"{func.__name__}: declare `*, overrides: ConfigOverrides` where the settings go")
        made = [
            inspect.Parameter(s.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=_annotation(s))
            for s in declared
        ]
        made.append(inspect.Parameter("set_", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=SetOpt))
        params: list[inspect.Parameter] = []
        for p in own.values():
            params += made if p.name == "overrides" else [p]

        @functools.wraps(func)
        def run_command(**given: Any) -> None:
            values = {s.name: given.pop(s.name) for s in declared}
            overrides = ConfigOverrides.of(values, sets=given.pop("set_") or ())
            func(**given, overrides=overrides)

        run_command.__signature__ = inspect.Signature(params, return_annotation=None)  # type: ignore[attr-defined]
        run_command.__annotations__ = {p.name: p.annotation for p in params}
        return run_command

    return wrap


def _annotation(declared: Setting) -> Any:
    """The Typer parameter of one setting: its kind or None (None keeps the config's value)."""
    return cast(Any, Annotated)[declared.kind | None, option(declared.name)]


def one_of(value: str, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise PresnetError(f"unknown value {value!r}", where=where, hint=f"use one of {', '.join(allowed)}")
    return value
