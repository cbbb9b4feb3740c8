"""``presnet plan``: what each scope costs on this device and data (:mod:`core.perf.plan` measures)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.config import Config, validate
from core.errors import PresnetError
from core.perf.duration import parse_duration

if TYPE_CHECKING:  # the measuring loads torch: a refused budget or seed count never needs it
    from core.perf.plan import Plan, PlanSettings


def __getattr__(name: str) -> object:
    """``Plan`` and ``PlanSettings`` on first use (they live beside the measuring code, with torch)."""
    if name in ("Plan", "PlanSettings"):
        from core.perf import plan as perf_plan

        return getattr(perf_plan, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Plan", "PlanSettings", "parse_duration", "plan_scopes", "steps_per_epoch"]


def steps_per_epoch(config: Config) -> tuple[int, int]:
    """(search, retrain) steps per epoch of the configured data: the search trains on the train split,
    the retrain on train + val (the loaders drop the last partial batch)."""
    from core.train.data import load_search_data
    from core.train.pipeline import use_stream
    from core.train.preflight import splits_of, stream_splits

    d = config.data
    splits = stream_splits(d, config.run.seed) if use_stream(d) else splits_of(load_search_data(d, config.run.seed))
    return max(splits.train // d.batch_size, 1), max((splits.train + splits.val) // d.batch_size, 1)


def plan_scopes(
    config: Config,
    *,
    device: str | None = None,
    budget_s: float | None = None,
    seeds: int = 1,
    baseline: bool = False,
    random: int = 0,
) -> Plan:
    """Measure every scope on ``device`` (default: the config's) with the config's data, network and epochs."""
    if seeds < 1:
        raise PresnetError(f"{seeds} seeds plan no run", where="--seeds", hint="give 1 or more")
    if random < 0:
        raise PresnetError("a negative number of random architectures", where="--random", hint="give 0 or more")
    if device is not None:
        data = config.model_dump(mode="json")
        data["run"]["device"] = device
        config = validate(data)
    from core.perf.plan import PlanSettings, plan

    settings = PlanSettings(budget_s=budget_s, seeds=seeds, baseline=baseline, random=random)
    return plan(config, steps_per_epoch(config), settings)
