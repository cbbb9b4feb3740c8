"""Starting runs: a new run directory and its job, several processes through torchrun, the
rank set-up and teardown of a torchrun worker, and continuing a run from its checkpoints.

The front end passes the command its workers run (``entry``): core never names the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from core.config import Config
from core.run.control import Control
from core.run.events import EventBus
from core.run.rundir import RunDir
from core.train.ranks import under_torchrun

if TYPE_CHECKING:  # torch: imported by the functions that need it, so a refusal never waits for it
    from core.space.arch import Architecture
    from core.train.job import Job

#: run: search, derive, retrain; search: no retrain; retrain: an architecture file; baseline: plain ResNet-50
RunKind = Literal["run", "search", "retrain", "baseline"]


def under_launcher() -> bool:
    """This process is one rank of several that torchrun started (RANK / WORLD_SIZE set)."""
    return under_torchrun()


def launch(nproc: int, device: str, entry: Sequence[str]) -> int:
    """Run ``entry`` (torchrun's program arguments, e.g. ``["-m", "some.cli", "search", ...]``) as
    ``nproc`` ranks on this node; returns the exit code.  A CUDA run needs a GPU per process."""
    from core.scale.distributed import check_nproc
    from core.scale.distributed import launch as torchrun_launch

    check_nproc(nproc, device)
    return torchrun_launch(nproc, entry)


def baseline_architecture(config: Config) -> Architecture:
    """The plain ResNet-50 of the config's network section (Table I's baseline row)."""
    from core.space.arch import Architecture

    n = config.network
    return Architecture(stem=n.stem, width_mult=n.width_mult, depths=list(n.depths), source={"baseline": True})


def create_run(config: Config, label: str | None = None, baseline: bool = False) -> RunDir:
    """The run directory, its lock held by the object returned (no window for a second writer).

    Under torchrun the process group is joined first; rank 0 creates the directory and tells
    the other ranks where it is.  One process needs no torch for it: a live directory is refused
    before the engine loads."""
    made: list[RunDir] = []

    def create() -> str:
        run_dir = RunDir.create(config, label=label)
        if baseline:
            run_dir.update_summary(baseline=True)
        made.append(run_dir)
        return str(run_dir.path)

    if not under_launcher():
        create()
        return made[0]
    from core.train import dist_ops
    from core.train.collectives import collectives

    dist_ops.init(config.run.device)
    path = collectives().on_main(create)
    return made[0] if made else RunDir(Path(path))


def start_run(
    config: Config,
    kind: RunKind,
    control: Control | None = None,
    bus: EventBus | None = None,
    arch: Architecture | None = None,
) -> Job:
    """The job of a new run of ``kind`` in a new run directory (not prepared yet: see :func:`run_job`).

    ``retrain`` needs ``arch``; ``baseline`` builds its own.  The run directory (and its lock) comes
    first, the engine's import after it."""
    if kind == "baseline":
        arch = baseline_architecture(config)
    run_dir = create_run(config, label="baseline" if kind == "baseline" else None, baseline=kind == "baseline")
    from core.train.job import Job

    return Job(
        config,
        run_dir,
        bus or EventBus(),
        control or Control(),
        search=kind in ("run", "search"),
        retrain=kind != "search",
        arch=arch,
    )


def retrain_run(
    run: RunDir,
    arch: Architecture,
    control: Control | None = None,
    bus: EventBus | None = None,
    epochs: int | None = None,
) -> Job:
    """The job that retrains ``arch`` in the run directory whose search found it (the TUI's ``r``).

    ``epochs``: the retrain's length when the user chose another than the config's. It is written into
    the run's ``config.yaml`` (validated like any setting), because that file is what a later ``presnet
    resume`` of this retrain, and every reader of the run, takes the retrain's length from."""
    from core.config import dump_yaml, validate
    from core.io import atomic_write_text
    from core.train.job import Job

    config = run.config()
    if epochs is not None and epochs != config.retrain.epochs:
        data = config.model_dump(mode="json")
        data["retrain"]["epochs"] = epochs
        config = validate(data, "the retrain's epochs")
        atomic_write_text(run.config_file, dump_yaml(config))
    return Job(config, run, bus or EventBus(), control or Control(), search=False, arch=arch)


def continue_run(run_dir: Path, retrain_after_search: bool = True) -> Job:
    """The job that continues a run from its checkpoints (``presnet resume``).  One process takes the
    run's lock first, so a live run is refused before the engine loads (the job keeps that lock)."""
    run = RunDir.open(run_dir)
    if not under_launcher():
        run.take_lock()
    from core.train.job import resume_job

    return resume_job(run, retrain_after_search=retrain_after_search)


def run_job_as_rank(job: Job, run: Callable[[Job, bool], int]) -> int:
    """A torchrun worker's whole life: join the process group, check the input, ``run(job, is_main)``
    (rank 0 alone speaks), leave the group; returns ``run``'s exit code."""
    from core.train import dist_ops
    from core.train.collectives import collectives

    dist_ops.init(job.config.run.device)
    job.prepare()
    code = run(job, collectives().is_main)
    dist_ops.teardown()
    return code


def new_run_path(config: Config, label: str | None = None) -> Path:
    """Where a new run of ``config`` goes: ``run.out``, or a fresh ``<timestamp>-<scope>`` under the runs
    folder (a worker started detached creates it there: :class:`~core.run.handle.RunHandle`)."""
    import time

    from core.space import scope_name

    if config.run.out is not None:
        return Path(config.run.out)
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{label or scope_name(config.space.scope)}"
    path, n = Path(config.run.runs_dir) / name, 1
    while path.exists():
        n += 1
        path = Path(config.run.runs_dir) / f"{name}-{n}"
    return path
