"""Checks on a request to steer a run from another process (``presnet stop``), made before the
request is written: a stop that cannot do what the user expects is refused, not silently filed."""

from __future__ import annotations

from core.config import check_stop_at
from core.errors import PresnetError
from core.run.lock import is_held, live_error
from core.run.rundir import RunDir


def finished(run: RunDir) -> str | None:
    """What a run finished, if nothing writes it now and nothing is left to do: ``"retrain"`` (its
    summary has the retrain's result) or ``"search"`` (a search-only run with its result and no
    retrain begun).  None while it runs or can still be resumed."""
    if is_held(run.path):
        return None
    summary = run.summary()
    if summary.retrain is not None and _has_retrain_done(run):
        return "retrain"
    if summary.search is not None and not run.retrain_ckpt.exists() and not _wants_retrain(run):
        return "search"
    return None


def _has_retrain_done(run: RunDir) -> bool:
    """The retrain's closing event is on disk: it is written after summary.json's retrain section, so a
    run killed between the two is not finished yet (its resume writes the event)."""
    from core.run.events import RetrainDone

    return any(isinstance(e, RetrainDone) for e in run.events())


def _wants_retrain(run: RunDir) -> bool:
    """A `presnet run` killed between its search and its retrain would retrain on resume."""
    from core.run.events import RetrainStarted

    return any(isinstance(e, RetrainStarted) for e in run.events())


def check_stop_request(run: RunDir, at_epoch: int | None) -> None:
    """Refuse a stop on a finished run, and a stop after an epoch inside the search's warm-up."""
    done = finished(run)
    if done is not None:
        raise PresnetError(
            f"the run has finished (its {done} is done): there is nothing to stop",
            where=str(run.path),
            hint="see its result with `presnet compare` or `presnet plot`",
        )
    if at_epoch is not None and not run.retrain_ckpt.exists() and run.summary().search is None:
        history = run.epoch_history()
        check_stop_at(run.config().search, at_epoch, ended=history[-1].epoch if history else 0)


def check_resumable(run: RunDir) -> None:
    """Refuse to continue a run that a process writes now, or one with nothing left to do (its retrain
    is done), before a worker is started for it or anything in it changes -- like ``presnet stop``."""
    if is_held(run.path):
        raise live_error(run.path)
    if finished(run) == "retrain":
        raise PresnetError(
            "the run has finished (its retrain is done): there is nothing to resume",
            where=str(run.path),
            hint=f"watch it with `presnet tui --attach {run.path}`, or start another with `presnet run`",
        )
