"""Sweeps (``presnet sweep``): plan one from configs, scopes and seeds, then run it where asked.

Front ends parse their own arguments (``--scopes s,m``, ``--seeds 0-2``) into the typed values
of a :class:`SweepRequest`, and pass the command line each run process starts with (the
front end's own entry); this module never names one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.config import Config
from core.errors import PresnetError
from core.scale.exhaustive import EXHAUSTIVE_CAP, check_cap
from core.scale.placement import OnPoll, Placement, SweepResult, choose_placement, run_placed
from core.scale.sweep import RunStatus, Sweep, default_sweep_dir, is_sweep, preflight
from core.space import scope_key

__all__ = [
    "RunStatus",
    "Sweep",
    "SweepPlan",
    "SweepRequest",
    "is_sweep",
    "plan_sweep",
    "run_sweep",
    "scope_configs",
]


@dataclass(frozen=True)
class SweepRequest:
    """What a sweep is asked to be.

    ``configs``: one config (its scope replaced by each of ``scopes``), or one config per scope
    (each names its scope in ``space.scope``; ``scopes``, if given, must list the same ones).
    ``sources`` names the configs in messages (their files)."""

    configs: Sequence[Config]
    seeds: Sequence[int]
    scopes: Sequence[str] | None = None
    baseline: bool = False
    random: int = 0
    out: Path | None = None
    sources: Sequence[str] = ()
    workers: int | None = None
    ray: bool = False
    ray_address: str | None = None
    cpus_per_run: int = 1
    #: ``--exhaustive``: every architecture of each scope's space, once per seed (no search runs)
    exhaustive: bool = False
    cap: int = EXHAUSTIVE_CAP  #: the most architectures a space may hold for ``exhaustive``


@dataclass
class SweepPlan:
    """A sweep directory made (or found again) for a request, and where its runs will go."""

    sweep: Sweep
    placement: Placement
    runs: int
    done: int
    search_epochs: dict[str, int] = field(default_factory=dict)  #: per scope, from its own config


def scope_configs(
    configs: Sequence[Config], scopes: Sequence[str] | None, sources: Sequence[str] = ()
) -> tuple[list[str], dict[str, Config]]:
    """The sweep's scopes and, with several configs, each scope's own config.

    A scope is a letter or block ids (:func:`scope_key`); one config and no ``scopes``: the config's own."""
    if len(configs) <= 1:
        if not scopes:
            if not configs:
                raise PresnetError("no scopes given", where="--scopes", hint="e.g. --scopes s,m,l,f")
            return [scope_key(configs[0].space.scope)], {}
        return list(scopes), {}
    names = list(sources) or [f"config {i + 1}" for i in range(len(configs))]
    own: dict[str, Config] = {}
    for name, config in zip(names, configs):
        scope = scope_key(config.space.scope)
        if scope in own:
            raise PresnetError(
                f"two configs for scope {scope}",
                where=f"-c {name}",
                hint="give one config per scope (each names its scope in space.scope)",
            )
        own[scope] = config
    if scopes and sorted(scopes) != sorted(own):
        raise PresnetError(
            f"--scopes {','.join(scopes)} conflicts with the configs' scopes {','.join(own)}",
            where="--scopes",
            hint="drop --scopes (each config names its scope) or list exactly those scopes",
        )
    order = list(scopes) if scopes else list(own)
    return order, {s: own[s] for s in order}


def plan_sweep(request: SweepRequest) -> SweepPlan:
    """Check the request, fetch the data once, make or reopen the sweep directory.

    Every refusal comes before any run starts (and before the directory is made)."""
    if request.random < 0:
        raise PresnetError(f"{request.random} random architectures", where="--random", hint="give 0 or more")
    if not request.configs:
        raise PresnetError("no config", where="-c", hint="give a config (or none for the quickstart)")
    scopes, own = scope_configs(request.configs, request.scopes, request.sources)
    base = request.configs[0]
    sizes = _space_sizes(request, scopes, own) if request.exhaustive else None
    placement = choose_placement(
        base.run.device,
        workers=request.workers,
        ray=request.ray,
        ray_address=request.ray_address,
        cpus_per_run=request.cpus_per_run,
    )
    for config in request.configs:
        preflight(config, local=not placement.ray)
    path = request.out or default_sweep_dir(
        base, scopes, request.seeds, request.baseline, request.random, exhaustive=request.exhaustive
    )
    sweep = Sweep.create_or_open(
        path, scopes, request.seeds, request.baseline, base, random=request.random, scope_configs=own, space_sizes=sizes
    )
    statuses = sweep.statuses()
    epochs = {s: (own.get(s) or base).search.epochs for s in scopes}
    return SweepPlan(sweep, placement, len(statuses), sum(s.state == "done" for s in statuses), epochs)


def _space_sizes(request: SweepRequest, scopes: Sequence[str], own: dict[str, Config]) -> dict[str, int]:
    """Each scope's architecture count for an exhaustive sweep; a space over the cap is refused here,
    before anything is made or fetched."""
    if request.baseline or request.random:
        raise PresnetError(
            "an exhaustive sweep trains every architecture of the space: it has no baseline or random runs",
            where="--exhaustive",
            hint="drop --baseline/--random (run them as a sweep of their own)",
        )
    sizes = {}
    for scope in scopes:
        config = own.get(scope) or request.configs[0]
        scoped = config.model_copy(update={"space": config.space.model_copy(update={"scope": _scope_value(scope)})})
        sizes[scope] = check_cap(scoped, request.cap)
    return sizes


def _scope_value(scope: str) -> str | list[int]:
    """A sweep's scope key as a config's ``space.scope`` (a letter, or block ids)."""
    return scope if scope.isalpha() else [int(b) for b in scope.split(",")]


def run_sweep(plan: SweepPlan, entry: Sequence[str], on_poll: OnPoll | None = None) -> SweepResult:
    """Run the plan's unfinished runs, holding the sweep's lock (one front end per sweep).

    ``entry``: the command that starts the front end's command line, e.g. ``[python, "-m", ...]``."""
    with plan.sweep.lock():
        return run_placed(plan.sweep, plan.placement, entry, on_poll)
