"""The settings a front end may give beside a config, each declared once: its flag, its dotted config
key, its help, its type and the commands that take it.

The Typer commands' options, the ``section.key`` overrides they become, the setup screen's fields and
the docs' table of flags are all read from :data:`SETTINGS`, so adding a flag is one line here (plus
its test): nothing else re-lists it.  Plain data only (no Typer, no pydantic), so that ``presnet
--help`` builds its options without loading the config model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from core.space import ACTIVATIONS, KERNELS

#: The value types a setting may hold (its flag's type on the command line).
Kind = type[int] | type[float] | type[str] | type[bool] | type[Path]

#: The commands whose settings' options are all generated from this table; the others (inspect, sweep, plan,
#: ...) take the few they need one by one, each with its declared flag and help.
RUN_COMMANDS = ("run", "search", "retrain", "baseline")


@dataclass(frozen=True)
class Setting:
    """One overridable setting.

    ``name`` is its keyword in :class:`ConfigOverrides` (and the Typer parameter's name); ``flags`` its
    option names, ``--name-with-dashes`` unless given (``("--out", "-o")``, ``("--download/--no-download",)``);
    ``implies`` keys set alongside it unless given themselves (``--progressive`` makes the scope
    ``progressive``); ``form`` the setup screen's label, where the screen shows it as a field.
    """

    name: str
    key: str
    kind: Kind
    help: str
    commands: tuple[str, ...]
    flags: tuple[str, ...] = ()
    implies: tuple[tuple[str, object], ...] = ()
    form: str | None = None

    @property
    def flag(self) -> str:
        """The long flag as written on a command line (``--download`` for ``--download/--no-download``)."""
        return self.flags[0].partition("/")[0] if self.flags else "--" + self.name.replace("_", "-")

    def config_value(self, value: object) -> object:
        """``value`` as the config holds it: a path resolved now, from the directory the user typed it in."""
        return str(Path(str(value)).resolve()) if self.kind is Path else value


_RUNS = ("run", "search")
_DATA = (*RUN_COMMANDS, "sweep")

SETTINGS: tuple[Setting, ...] = (  # in this order in `--help`
    Setting(
        "scope",
        "space.scope",
        str,
        "s, m, l, f, block ids like 1,2,5 or ranges like 10-13, or progressive (stages s, m, l, f)",
        (*_RUNS, "inspect", "latency"),
    ),
    Setting(
        "kernels",
        "space.kernels",
        str,
        f"candidate kernels, comma-separated, from {list(KERNELS)}",
        (*_RUNS, "inspect", "latency"),
    ),
    Setting(
        "activations",
        "space.activations",
        str,
        f"candidate activations, comma-separated, from {list(ACTIVATIONS)}",
        (*_RUNS, "inspect", "latency"),
    ),
    Setting("epochs", "search.epochs", int, "search epochs", (*_RUNS, "sweep"), form="epochs"),
    Setting(
        "warmup_epochs",
        "search.warmup_epochs",
        int,
        "search epochs of weight steps only (search.warmup_epochs)",
        _RUNS,
        form="warm-up",
    ),
    Setting("stop_at_epoch", "search.stop_at_epoch", int, "stop the search after this epoch", _RUNS),
    Setting("arch_lr", "search.arch_lr", float, "alphas' Adam learning rate (search.arch_lr)", _RUNS),
    Setting(
        "estimator",
        "search.estimator",
        str,
        "alphas' gradient estimator: two_path or all_paths (search.estimator)",
        _RUNS,
    ),
    Setting(
        "patience",
        "search.patience",
        int,
        "epochs a decision's argmax must hold to be settled (search.patience)",
        _RUNS,
    ),
    Setting(
        "dataset", "data.dataset", str, "cifar10, cifar100, imagefolder, digits or synthetic", _DATA, form="dataset"
    ),
    Setting("data_dir", "data.data_dir", Path, "dataset folder", _DATA, form="data dir"),
    Setting("download", "data.download", bool, "download CIFAR if missing", _DATA, ("--download/--no-download",)),
    Setting("device", "run.device", str, "auto, cpu, cuda, cuda:N, mps", (*_DATA, "plan", "bench"), form="device"),
    Setting("seed", "run.seed", int, "random seed", RUN_COMMANDS, form="seed"),
    Setting("out", "run.out", Path, "run directory to create", RUN_COMMANDS, ("--out", "-o")),
    Setting("retrain_epochs", "retrain.epochs", int, "retraining epochs", ("run", "retrain", "baseline", "sweep")),
    Setting(
        "image_size",
        "data.image_size",
        int,
        "side of the input images (data.image_size); sets map sizes",
        (*RUN_COMMANDS, "inspect"),
        form="image size",
    ),
    Setting(
        "candidates",
        "space.candidates",
        str,
        "factorized (kernel, activation decisions) or joint (one over pairs)",
        (*_RUNS, "inspect"),
        form="candidates",
    ),
    Setting(
        "progressive",
        "search.progressive",
        str,
        "progressive search: stages deep to shallow, e.g. s,m,f, or block ids with stages split by ';', "
        "e.g. '10,11;10-13' (ids or ranges)",
        _RUNS,
        implies=(("space.scope", "progressive"),),  # the scope is the stages' (a conflicting --scope is refused)
    ),
)

BY_NAME: Mapping[str, Setting] = MappingProxyType({s.name: s for s in SETTINGS})


def setting(name: str) -> Setting:
    """The declaration called ``name``, or a TypeError naming it (a front end's typo, not a user's)."""
    if name not in BY_NAME:
        raise TypeError(f"no setting called {name!r} in core.config.settings.SETTINGS")
    return BY_NAME[name]


def settings_for(command: str) -> tuple[Setting, ...]:
    """The settings ``command`` takes, in the table's order."""
    return tuple(s for s in SETTINGS if command in s.commands)


def _given(values: Mapping[str, object]) -> dict[str, object]:
    """The values of declared settings that were given (None: not given); an unknown name is a TypeError."""
    return {setting(name).name: value for name, value in values.items() if value is not None}


class ConfigOverrides:
    """Values given for declared settings beside a config file (the CLI's options, the setup form),
    by their names (``ConfigOverrides(scope="m", epochs=9)``); a value left None keeps the file's.

    ``sets`` are ``KEY=VALUE`` items (``--set search.arch_lr=0.01``), applied after the named values.
    ``scope``, ``kernels`` and ``activations`` stay as the user wrote them ("s", "1,2,5"):
    :mod:`core.config` reads them through :mod:`core.space`'s one rule for each.
    """

    __slots__ = ("_values", "sets")

    def __init__(self, *, sets: Iterable[str] = (), **values: object) -> None:
        self._values = _given(values)
        self.sets = tuple(sets)

    @classmethod
    def of(cls, values: Mapping[str, object], sets: Iterable[str] = (), **more: object) -> ConfigOverrides:
        """From values by setting name (a form's fields, a command's options), plus ``more`` by keyword."""
        made = cls(sets=sets)
        made._values = _given({**values, **more})
        return made

    def get(self, name: str) -> object:
        """The value given for the setting ``name`` (None: not given)."""
        return self._values.get(setting(name).name)

    def named(self) -> dict[str, object]:
        """The values given, as ``section.key`` overrides in the table's order, with what they imply."""
        dotted = {s.key: s.config_value(self._values[s.name]) for s in SETTINGS if s.name in self._values}
        for s in SETTINGS:
            if s.name in self._values:
                dotted |= {key: value for key, value in s.implies if key not in dotted}
        return dotted

    def dotted(self) -> dict[str, object]:
        """The named values, then each ``--set`` item (checked here, so that a typo is refused before
        anything loads), as ``section.key`` overrides for :func:`core.config.load_config`."""
        from core.config.overrides import parse_set  # the config model: loaded only when a config is read

        return self.named() | dict(parse_set(item) for item in self.sets)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConfigOverrides) and (self._values, self.sets) == (other._values, other.sets)

    __hash__ = None  # type: ignore[assignment]  # equal by value, and a value may be a list: not hashable

    def __repr__(self) -> str:
        given = [f"{k}={v!r}" for k, v in self._values.items()] + ([f"sets={self.sets!r}"] if self.sets else [])
        return f"ConfigOverrides({', '.join(given)})"
