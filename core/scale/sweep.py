"""A sweep: scopes x seeds (a baseline per seed, K random architectures per scope and seed) as
ordinary run directories, resumable.

Table I of the paper compares four scopes with a baseline; one run per cell says
nothing about run-to-run noise, so a sweep repeats each over seeds, and ``random`` runs
(:mod:`core.scale.random_arch`) answer whether a search beat its own space at random.
Each scope may come with its own config (the paper gives s, m, l and f their own search
budgets); the baseline uses the first.  A sweep directory holds

  SWEEP/sweep.json          the manifest: the plan and the configs (atomic writes)
  SWEEP/configs/NAME.yaml   each run's resolved config (what its process is started with)
  SWEEP/archs/NAME.json     each random run's architecture (what its ``presnet retrain`` trains)
  SWEEP/runs/NAME/          one ordinary run directory per planned run
  SWEEP/logs/NAME.log       each run's headless output

The state of a run is read from its own directory (summary, events), never kept only
in memory: rerunning the same sweep skips finished runs, resumes interrupted ones with
their own resume (``presnet resume``), and starts the rest.  Each run is a separate
process (``presnet run|retrain|baseline|resume --headless``, started through the entry command
the front end passes in); :mod:`core.scale.placement` (local workers or Ray) only decides where
and when those processes run, never two on one run directory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from core.config import Config, dump_yaml, validate
from core.errors import PresnetError
from core.io import atomic_write_text
from core.run.lock import acquire, is_held
from core.run.rundir import RunDir
from core.scale.preflight import preflight as preflight
from core.scale.sweep_runs import PlannedRun as PlannedRun
from core.scale.sweep_runs import RunKind as RunKind
from core.scale.sweep_runs import RunState as RunState
from core.scale.sweep_runs import RunStatus as RunStatus
from core.scale.sweep_runs import plan as plan
from core.scale.sweep_runs import read_status as read_status
from core.space import scope_label

if TYPE_CHECKING:  # torch: loaded by the methods that build an architecture, not by every importer
    from core.space.arch import Architecture

SWEEP_FILE = "sweep.json"


# -- the plan and its manifest -------------------------------------------------------------------
class Manifest(BaseModel):
    """What ``sweep.json`` holds: enough to rebuild every run's config and check a rerun."""

    version: int = 2  #: 2 added ``random`` and ``scope_configs`` (a version-1 file reads as neither)
    scopes: list[str]
    seeds: list[int]
    baseline: bool
    base_config: dict[str, Any]  #: the baseline's config, and every scope's without one of its own
    runs: list[PlannedRun]
    states: dict[str, str] = {}
    random: int = 0  #: random architectures per scope and seed
    scope_configs: dict[str, dict[str, Any]] = {}  #: a scope's own config (``-c`` per scope)
    #: Ray: where each run's tasks ran, one entry per attempt (``NODE_ID IP``, or ``lost: ERROR``)
    nodes: dict[str, list[str]] = {}
    space_sizes: dict[str, int] = {}  #: ``--exhaustive``: per scope, its space's architectures (each at every seed)


def default_sweep_dir(
    base: Config, scopes: Sequence[str], seeds: Sequence[int], baseline: bool, random: int = 0, exhaustive: bool = False
) -> Path:
    """Deterministic, so that running the same command again finds (and resumes) the same sweep."""
    labels = [scope_label(s) for s in scopes]
    joined = "".join(labels) if all(len(x) == 1 for x in labels) else "_".join(labels)
    if exhaustive:
        return Path(base.run.runs_dir) / f"sweep-{joined}-exhaustive-seeds{'_'.join(str(s) for s in seeds)}"
    name = f"sweep-{joined}-seeds{'_'.join(str(s) for s in seeds)}" + ("-baseline" if baseline else "")
    return Path(base.run.runs_dir) / (name + (f"-random{random}" if random else ""))


def is_sweep(path: Path) -> bool:
    return (Path(path) / SWEEP_FILE).is_file()


#: The sweep directory's own lock file (its runs have theirs, run.lock, inside them).
SWEEP_LOCK_FILE = ".sweep.lock"


def _sweep_is_running(path: Path) -> PresnetError:
    return PresnetError(
        "another presnet sweep is running on this directory",
        where=str(path),
        hint="wait for it, or watch it with `presnet tui --attach` on the sweep directory",
    )


class Sweep:
    def __init__(self, path: Path, manifest: Manifest) -> None:
        self.path = Path(path)
        self.manifest = manifest

    # layout
    @property
    def manifest_file(self) -> Path:
        return self.path / SWEEP_FILE

    def run_dir(self, run: PlannedRun) -> Path:
        return self.path / "runs" / run.name

    def config_file(self, run: PlannedRun) -> Path:
        return self.path / "configs" / f"{run.name}.yaml"

    def log_file(self, run: PlannedRun) -> Path:
        return self.path / "logs" / f"{run.name}.log"

    def arch_file(self, run: PlannedRun) -> Path:
        return self.path / "archs" / f"{run.name}.json"

    @property
    def runs(self) -> list[PlannedRun]:
        return self.manifest.runs

    @classmethod
    def create_or_open(
        cls,
        path: Path,
        scopes: Sequence[str],
        seeds: Sequence[int],
        baseline: bool,
        base: Config,
        *,
        random: int = 0,
        scope_configs: dict[str, Config] | None = None,
        space_sizes: dict[str, int] | None = None,
    ) -> Sweep:
        """A new sweep directory, or the existing one when it holds this very sweep (a rerun resumes).

        A directory holding a different sweep (other scopes, seeds, random count or configs) is
        refused: mixing runs of two settings would make their mean meaningless.
        """
        path = Path(path).resolve()
        wanted = Manifest(
            scopes=list(scopes),
            seeds=list(seeds),
            baseline=baseline,
            base_config=_stored(base),
            runs=plan(scopes, seeds, baseline, random, space_sizes),
            random=random,
            scope_configs={s: _stored(c) for s, c in (scope_configs or {}).items()},
            space_sizes=dict(space_sizes or {}),
        )
        cls(path, wanted).check_configs()
        if is_sweep(path):
            sweep = cls.open(path)
            _check_same_sweep(path, sweep.manifest, wanted)
            return sweep
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise PresnetError(
                "exists and is not a sweep directory", where=str(path), hint="choose another --out (or an empty folder)"
            )
        try:
            for sub in ("runs", "configs", "logs", "archs"):
                (path / sub).mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise PresnetError(
                f"cannot create the sweep directory: {err.strerror}", where=str(path), hint="check write permission"
            ) from None
        sweep = cls(path, wanted)
        sweep.save()
        return sweep

    @classmethod
    def open(cls, path: Path) -> Sweep:
        path = Path(path)
        file = path / SWEEP_FILE
        if not file.is_file():
            raise PresnetError(
                "not a sweep directory (no sweep.json)",
                where=str(path),
                hint="pass a directory made by `presnet sweep`",
            )
        try:
            manifest = Manifest.model_validate_json(file.read_text())
        except ValueError as err:
            raise PresnetError(
                f"sweep.json is damaged ({err.__class__.__name__})", where=str(file), hint="restore it"
            ) from None
        return cls(path.resolve(), manifest)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One front end per sweep: a second ``presnet sweep`` on the same directory would start a
        second writer on the runs the first is running.  The run directories' own mechanism
        (:mod:`core.run.lock`): an ``flock`` that dies with its process, recording who holds it."""
        held = acquire(self.path, SWEEP_LOCK_FILE, refuse=_sweep_is_running)
        try:
            yield
        finally:
            held.release()

    def front_end_running(self) -> bool:
        """Whether a ``presnet sweep`` holds this sweep's lock now (from another process)."""
        return is_held(self.path, SWEEP_LOCK_FILE)

    def observed_statuses(self) -> list[RunStatus]:
        """The runs as a watcher sees them: an unfinished run that the running front end last
        recorded as running is running (the run directory alone cannot tell a live run from a
        killed one)."""
        statuses = self.statuses()
        if any(s.state == "incomplete" for s in statuses) and self.front_end_running():
            recorded = Sweep.open(self.path).manifest.states
            for s in statuses:
                if s.state == "incomplete" and recorded.get(s.name) == "running":
                    s.state = "running"
        return statuses

    def save(self) -> None:
        atomic_write_text(self.manifest_file, self.manifest.model_dump_json(indent=2) + "\n")

    def record_node(self, name: str, where: str) -> None:
        """A Ray task of run ``name`` ended on node ``where`` (or was lost with it): kept in the manifest."""
        self.manifest.nodes = {**self.manifest.nodes, name: [*self.manifest.nodes.get(name, []), where]}
        self.save()

    def record_states(self, statuses: Sequence[RunStatus]) -> None:
        """Keep the last seen states in the manifest (for a reader without presnet); the run
        directories stay the source of truth."""
        states: dict[str, str] = {s.name: s.state for s in statuses}
        if states != self.manifest.states:
            self.manifest.states = states
            self.save()

    # configs
    def base_config(self) -> Config:
        return validate(self.manifest.base_config, str(self.manifest_file))

    def run_config(self, run: PlannedRun, threads: int | None = None, device: str | None = None) -> Config:
        """The scope's config (or the base config) with this run's scope, seed and directory (and
        its share of the CPU)."""
        own = self.manifest.scope_configs.get(run.scope or "")
        data = json.loads(json.dumps(own if own is not None else self.manifest.base_config))
        if run.scope is not None:
            data["space"]["scope"] = run.scope
        data["run"]["seed"] = run.seed
        data["run"]["out"] = str(self.run_dir(run))
        if threads is not None and data["run"].get("threads") is None:
            data["run"]["threads"] = threads
        if device is not None:
            data["run"]["device"] = device
        return validate(data, f"{self.manifest_file} ({run.name})")

    def check_configs(self) -> None:
        """Every run's config is valid: a bad combination fails before any run starts."""
        for run in self.runs:
            self.run_config(run)

    # state
    def status(self, run: PlannedRun) -> RunStatus:
        return read_status(run, self.run_dir(run))

    def statuses(self) -> list[RunStatus]:
        return [self.status(r) for r in self.runs]

    def random_architecture(self, run: PlannedRun) -> Architecture:
        """A random run's architecture (drawn by scope, seed, index), or a space run's (its index-th)."""
        from core.scale.exhaustive import space_architecture
        from core.scale.random_arch import draw

        assert run.kind in ("random", "space") and run.index is not None, run.name
        if run.kind == "space":
            return space_architecture(self.run_config(run), run.index)
        return draw(self.run_config(run), run.seed, run.index)

    def command(self, run: PlannedRun, entry: Sequence[str], threads: int | None = None) -> list[str]:
        """The process that advances this run: a fresh ``run``/``retrain``/``baseline``, or the run's
        own ``resume``.  ``entry`` starts the front end's command line (e.g. ``python -m ...``).

        Writes the run's config file (and a random run's architecture) first: fresh runs start from them.
        """
        from core.space.arch import save_arch

        rundir = RunDir(self.run_dir(run))
        if rundir.config_file.is_file():
            _make_resumable(run, rundir, self)
            return [*entry, "resume", str(rundir.path), "--headless"]
        cfg = self.run_config(run, threads=threads)
        atomic_write_text(self.config_file(run), dump_yaml(cfg))
        config = ["--config", str(self.config_file(run))]
        if run.kind in ("random", "space"):
            self.arch_file(run).parent.mkdir(parents=True, exist_ok=True)
            save_arch(self.arch_file(run), self.random_architecture(run))
            return [*entry, "retrain", str(self.arch_file(run)), *config]  # retrain is always headless
        verb = ["run", "--headless"] if run.kind == "search" else ["baseline"]  # baseline is always headless
        return [*entry, *verb, *config]


def _check_same_sweep(path: Path, have: Manifest, wanted: Manifest) -> None:
    """Refuse to resume a directory holding a different sweep: mixing runs of two settings would
    make their mean meaningless."""
    plan_of = (have.scopes, have.seeds, have.baseline, have.random, have.space_sizes)
    if plan_of != (wanted.scopes, wanted.seeds, wanted.baseline, wanted.random, wanted.space_sizes):
        raise PresnetError(
            f"holds another sweep (scopes {','.join(have.scopes)}, seeds "
            f"{','.join(map(str, have.seeds))}{', baseline' if have.baseline else ''}"
            f"{f', random {have.random}' if have.random else ''}"
            f"{', exhaustive' if have.space_sizes else ''})",
            where=str(path),
            hint="rerun it with those arguments to resume it, or choose another --out",
        )
    diff = _config_difference(have, wanted)
    if diff is not None:
        raise PresnetError(
            f"holds a sweep with another config ({diff})",
            where=str(path),
            hint="rerun it with its config and overrides to resume it, or choose another --out",
        )


def _stored(config: Config) -> dict[str, Any]:
    """A config as the manifest keeps it: without ``run.out`` (each run gets its own)."""
    return config.model_copy(update={"run": config.run.model_copy(update={"out": None})}).model_dump(mode="json")


def _results_part(config: Mapping[str, object] | None) -> dict[str, object]:
    """A config without the fields that cannot change a result (``data.download``): a rerun
    that leaves out ``--download`` is the same sweep."""
    data: dict[str, object] = json.loads(json.dumps(config or {}))
    section = data.get("data")
    if isinstance(section, dict):
        section.pop("download", None)
    return data


def _config_difference(have: Manifest, wanted: Manifest) -> str | None:
    """The first config field in which two sweeps differ: the base config's, then each scope's own."""
    diff = _first_difference(_results_part(have.base_config), _results_part(wanted.base_config))
    for scope in sorted(set(have.scope_configs) | set(wanted.scope_configs)):
        if diff is None:
            a, b = have.scope_configs.get(scope), wanted.scope_configs.get(scope)
            diff = _first_difference(_results_part(a), _results_part(b), f"{scope}'s config")
    return diff


def _first_difference(a: object, b: object, where: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            d = _first_difference(a.get(key), b.get(key), f"{where}.{key}" if where else key)
            if d is not None:
                return d
        return None
    return None if a == b else f"{where}: {a!r} then, {b!r} now"


def _make_resumable(planned: PlannedRun, run: RunDir, sweep: Sweep) -> None:
    """A baseline or random run killed between creating its directory and its first retrain step
    lacks the marks ``resume`` reads (``baseline`` in the summary, ``arch.json``): write them as
    ``presnet baseline``/``retrain`` would have (a search run needs none)."""
    from core.scale.random_arch import num_classes
    from core.space.arch import Architecture, load_arch, save_arch

    if planned.kind == "baseline":
        if not run.summary().baseline:
            run.update_summary(baseline=True)
        if not run.arch_file.exists():
            config = run.config()
            n = config.network
            baseline = Architecture(
                stem=n.stem,
                width_mult=n.width_mult,
                depths=list(n.depths),
                num_classes=num_classes(config),
                source={"baseline": True},
            )
            save_arch(run.arch_file, baseline)
    elif planned.kind in ("random", "space") and not run.arch_file.exists():
        file = sweep.arch_file(planned)
        save_arch(run.arch_file, load_arch(file) if file.is_file() else sweep.random_architecture(planned))
