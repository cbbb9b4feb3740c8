"""The one exception type a user is meant to read.

Everything the CLI and the TUI show as "what is wrong, where, how to fix" is a
:class:`PresnetError`; anything else escaping core is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from importlib import import_module
from typing import Any


class PresnetError(Exception):
    """A problem with the user's input or environment, phrased for the user.

    ``where`` names the field, file or path at fault; ``hint`` says how to fix it.
    ``str(err)`` is a single line so front ends can print it as is.
    """

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.line())

    @property
    def problems(self) -> list[str]:
        """One line per problem (a config error can hold several)."""
        return [self.line()]

    def detail(self) -> str:
        """The message and the hint without ``where`` (for a pydantic field error, which names its field)."""
        return " — ".join(p for p in (self.message, self.hint) if p)

    def line(self) -> str:
        parts = [f"{self.where}: {self.message}" if self.where else self.message]
        if self.hint:
            parts.append(self.hint)
        return " — ".join(parts).replace("\n", " ")


def did_you_mean(word: str, choices: Iterable[str], aliases: Mapping[str, str] | None = None) -> str | None:
    """The valid name nearest to a mistyped ``word`` (difflib's ratio), or None when nothing is close.

    ``aliases`` name what difflib cannot see: another library's word for the same thing
    (``swish`` is ``silu``; by spelling it is nearest ``hardswish``, a different function).
    """
    import difflib

    if aliases and word.lower() in aliases:
        return aliases[word.lower()]
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


@contextmanager
def as_field_error() -> Iterator[None]:
    """Inside a pydantic validator: a :class:`PresnetError` becomes the ``ValueError`` pydantic reports.

    So that a config, an architecture file and the command line share one wording per rule.
    """
    try:
        yield
    except PresnetError as err:
        raise ValueError(err.detail()) from None


def import_extra(module: str, extra: str, *, where: str, what: str | None = None, instead: str | None = None) -> Any:
    """An optional dependency, imported when a feature first needs it; missing, one line naming the
    extra that installs it (``pip install -e ".[ray]"``), so a base install never fails later or silently.

    ``what`` names the package in the message (default: the module's top name); ``instead`` offers a
    way around it (e.g. "or drop --ray to run locally")."""
    try:
        return import_module(module)
    except ImportError:
        hint = f'pip install -e ".[{extra}]"' + (f" ({instead})" if instead else "")
        raise PresnetError(f"{what or module.split('.')[0]} is not installed", where=where, hint=hint) from None
