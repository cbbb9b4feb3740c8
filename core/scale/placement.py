"""Where and when a sweep's runs execute: N local processes, or Ray tasks.

Both executors start the same process per run (:meth:`core.scale.sweep.Sweep.command`:
``presnet run|retrain|baseline|resume --headless``, through the entry command the front end
passes in) and read progress from the run directories; neither touches the engine.  A run
directory only ever has one process: the sweep's lock keeps out a second front end, and a run
is given to a worker only once per sweep invocation.  :func:`choose_placement` is the policy
(how many at once, which GPU, how many threads); :func:`run_placed` carries it out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import PresnetError, import_extra
from core.scale.process import popen_run
from core.scale.sweep import PlannedRun, RunStatus, Sweep


@dataclass
class SweepResult:
    statuses: list[RunStatus]
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(s.state == "done" for s in self.statuses)


OnPoll = Callable[[list[RunStatus]], None]
#: How many times a Ray run lost with its node (or worker) is submitted again before it counts as failed.
RAY_REQUEUES = 2


@dataclass(frozen=True)
class Placement:
    """Where a sweep's runs go: ``workers`` local processes (each pinned to one of ``gpus`` GPUs,
    or given ``threads`` CPU threads), or Ray tasks (one GPU each, or ``cpus_per_run`` cores)."""

    workers: int = 1
    gpus: int = 0
    threads: int | None = None
    ray: bool = False
    ray_address: str | None = None
    ray_gpu: bool = True
    cpus_per_run: int = 1

    def describe(self) -> str:
        if self.ray:
            return f"Ray ({self.ray_address or 'local'})"
        return f"{self.workers} worker(s)" + (f" on {self.gpus} GPU(s)" if self.gpus else "")


def choose_placement(
    device: str, *, workers: int | None = None, ray: bool = False, ray_address: str | None = None, cpus_per_run: int = 1
) -> Placement:
    """The placement policy for runs whose config asks for ``device``; refuses what cannot work
    (before any run starts): both Ray and local workers, a fixed GPU shared by several workers."""
    use_ray = ray or ray_address is not None
    if use_ray and workers is not None:
        raise PresnetError(
            "--workers and --ray both given", where="--workers", hint="Ray places the runs itself: drop --workers"
        )
    if workers is not None and workers < 1:
        raise PresnetError("must be 1 or more", where="--workers", hint="e.g. --workers 2")
    if cpus_per_run < 1:
        raise PresnetError("must be 1 or more", where="--cpus-per-run", hint="e.g. --cpus-per-run 4")
    if use_ray:
        import_ray()
        return Placement(ray=True, ray_address=ray_address, ray_gpu=device != "cpu", cpus_per_run=cpus_per_run)
    n = workers or 1
    gpus = gpus_for(device)
    if gpus and n > 1 and ":" in device:
        raise PresnetError(
            f"--device {device} with {n} workers",
            where="--device",
            hint="each worker is pinned to its own GPU: use --device cuda (or auto)",
        )
    return Placement(workers=n, gpus=gpus, threads=None if gpus else cpu_threads_per_worker(n))


def run_placed(sweep: Sweep, placement: Placement, entry: Sequence[str], on_poll: OnPoll | None = None) -> SweepResult:
    """Run every unfinished run of ``sweep`` as ``placement`` says."""
    if placement.ray:
        return run_ray(
            sweep,
            entry=entry,
            address=placement.ray_address,
            gpu=placement.ray_gpu,
            cpus_per_run=placement.cpus_per_run,
            on_poll=on_poll,
        )
    return run_local(
        sweep, placement.workers, entry=entry, gpus=placement.gpus, threads=placement.threads, on_poll=on_poll
    )


def cpu_threads_per_worker(workers: int) -> int:
    """Split the machine's cores between the runs that train at once."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def _overlay(sweep: Sweep, running: set[str], failed: dict[str, str], started_only: bool = False) -> list[RunStatus]:
    """The runs' states from their directories, with what this executor knows on top: which run
    has a live process (its directory alone cannot tell; ``started_only``: a queued task that has
    not begun its run stays pending), and why one failed."""
    out = []
    for s in sweep.statuses():
        if s.state != "done" and s.name in running and not (started_only and s.state == "pending"):
            s.state = "running"
        elif s.state != "done" and s.name in failed:
            s.state, s.message = "failed", s.message or failed[s.name]
        out.append(s)
    return out


class _LocalPool:
    """``workers`` slots, each running one run process at a time (pinned to a GPU, or given threads)."""

    def __init__(self, sweep: Sweep, workers: int, entry: Sequence[str], gpus: int, threads: int | None) -> None:
        self.sweep, self.workers, self.entry, self.gpus, self.threads = sweep, workers, entry, gpus, threads
        self.todo = [r for r in sweep.runs if sweep.status(r).state != "done"]
        self.active: dict[int, tuple[PlannedRun, subprocess.Popen[bytes]]] = {}  # slot -> run
        self.failed: dict[str, str] = {}

    @property
    def busy(self) -> bool:
        return bool(self.todo or self.active)

    def fill(self) -> None:
        for slot in range(self.workers):
            if slot in self.active or not self.todo:
                continue
            run = self.todo.pop(0)
            env = dict(os.environ)
            if self.gpus > 0:
                env["CUDA_VISIBLE_DEVICES"] = str(slot % self.gpus)
            if self.threads is not None:
                env["OMP_NUM_THREADS"] = str(self.threads)
            cmd = self.sweep.command(run, self.entry, threads=self.threads)
            self.active[slot] = (run, popen_run(cmd, self.sweep.log_file(run), env))

    def reap(self) -> None:
        for slot, (run, proc) in list(self.active.items()):
            rc = proc.poll()
            if rc is not None:
                del self.active[slot]
                if rc != 0:
                    self.failed[run.name] = f"exit code {rc} (see {self.sweep.log_file(run)})"

    def interrupt(self) -> None:
        """Pass one SIGINT to each live run (it checkpoints and stops); kill one that takes over 2 min."""
        procs = [proc for _, proc in self.active.values()]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.active.clear()

    def statuses(self) -> list[RunStatus]:
        return _overlay(self.sweep, {run.name for run, _ in self.active.values()}, self.failed)


def _report(sweep: Sweep, statuses: list[RunStatus], on_poll: OnPoll | None) -> None:
    sweep.record_states(statuses)
    if on_poll is not None:
        on_poll(statuses)


def run_local(
    sweep: Sweep,
    workers: int,
    *,
    entry: Sequence[str],
    gpus: int = 0,
    threads: int | None = None,
    on_poll: OnPoll | None = None,
    poll_s: float = 1.0,
) -> SweepResult:
    """Run every unfinished run, ``workers`` at once, each in its own process.

    With ``gpus`` > 0 each worker slot is pinned to one GPU (``CUDA_VISIBLE_DEVICES``); on the
    CPU each run gets ``threads`` torch threads.  Ctrl+C is passed on to the running runs, which
    checkpoint and stop; the next run of the sweep resumes them.
    """
    pool = _LocalPool(sweep, workers, entry, gpus, threads)
    try:
        while pool.busy:
            pool.fill()
            pool.reap()
            _report(sweep, pool.statuses(), on_poll)
            if pool.busy:
                time.sleep(poll_s)
    except KeyboardInterrupt:
        pool.interrupt()
        _report(sweep, pool.statuses(), on_poll)
        return SweepResult(pool.statuses(), interrupted=True)
    return SweepResult(pool.statuses())


def import_ray() -> Any:
    return import_extra("ray", "ray", where="--ray", what="Ray", instead="or drop --ray to run locally")


def _init_ray(ray: Any, address: str | None, init_kwargs: Mapping[str, object] | None, gpu: bool) -> bool:
    """Connect to (or start) Ray unless this process already has; True when it was started here."""
    started_here = not ray.is_initialized()
    if started_here:
        kwargs: dict[str, object] = {"include_dashboard": False, "log_to_driver": False}
        kwargs.update(init_kwargs or {})
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise PresnetError(
                f"cannot connect to Ray: {str(err).splitlines()[0] if str(err) else err.__class__.__name__}",
                where=f"--ray {address or ''}".strip(),
                hint="start a cluster with `ray start --head` and pass its address, or use --ray alone",
            ) from None
    if gpu and not ray.cluster_resources().get("GPU", 0):  # a num_gpus=1 task would wait forever
        if started_here:
            ray.shutdown()
        raise PresnetError(
            "the Ray cluster has no GPU, so no run could be placed",
            where=f"--ray {address or ''}".strip(),
            hint="pass --device cpu (each run then takes --cpus-per-run cores), or add GPU nodes",
        )
    return started_here


def _ray_task() -> Callable[[list[str], str, int | None], tuple[int, str]]:
    """The function each Ray task runs, made here so that Ray ships it by value (a nested function):
    a worker needs no import of core to run it, only the same ``presnet`` on its PATH's python."""

    def die_with_parent() -> None:
        try:
            import ctypes
            import signal as _signal

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, _signal.SIGKILL)
        except (OSError, AttributeError):
            return

    def task(cmd: list[str], log: str, threads: int | None) -> tuple[int, str]:
        # Runs on a Ray worker: its own python, and the GPU Ray assigned (CUDA_VISIBLE_DEVICES).
        # Returns the exit code and the node (id and IP), which the log names first: a task whose
        # node dies returns nothing, and its log still says where it ran.
        import os as _os
        import subprocess as _sp
        import sys as _sys

        import ray as _ray

        node = f"{_ray.get_runtime_context().get_node_id()} {_ray.util.get_node_ip_address()}"  # type: ignore[no-untyped-call, unused-ignore]
        env = dict(_os.environ)
        if threads is not None:
            env["OMP_NUM_THREADS"] = str(threads)
        with open(log, "ab") as f:
            f.write(f"\n$ {' '.join(cmd)} (ray)\nray node: {node}\n".encode())
            f.flush()
            code = _sp.call(
                [_sys.executable, *cmd[1:]],
                stdout=f,
                stderr=_sp.STDOUT,
                stdin=_sp.DEVNULL,
                env=env,
                preexec_fn=die_with_parent if _sys.platform.startswith("linux") else None,
            )
        return code, node

    return task


class _RayPool:
    """The sweep's unfinished runs as Ray tasks.  A task lost with its node (or its worker) is
    submitted again, up to :data:`RAY_REQUEUES` times: the new task's command resumes the run from its
    last checkpoint, wherever Ray places it.  Each attempt's node goes into the sweep's record."""

    def __init__(self, sweep: Sweep, ray: Any, remote: Any, entry: Sequence[str], threads: int | None) -> None:
        self.sweep, self.ray, self.remote, self.entry, self.threads = sweep, ray, remote, entry, threads
        self.pending: dict[Any, PlannedRun] = {}
        self.failed: dict[str, str] = {}
        self.requeues: dict[str, int] = {}

    def submit(self, run: PlannedRun) -> None:
        cmd = self.sweep.command(run, self.entry, threads=self.threads)  # a resume once the run has begun
        self.sweep.log_file(run).parent.mkdir(parents=True, exist_ok=True)
        self.pending[self.remote.remote(cmd, str(self.sweep.log_file(run)), self.threads)] = run

    def collect(self, ref: Any) -> None:
        """One finished task: its exit code, or its loss (requeued while attempts remain)."""
        run = self.pending.pop(ref)
        try:
            rc, node = self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as err:  # the task's own code raised: not a lost node
            self.failed[run.name] = f"ray: {err.__class__.__name__}"
            return
        except Exception as err:  # a task Ray could not finish: node lost, worker died
            self.sweep.record_node(run.name, f"lost: {err.__class__.__name__}")
            if self.requeues.get(run.name, 0) < RAY_REQUEUES:
                self.requeues[run.name] = self.requeues.get(run.name, 0) + 1
                self.submit(run)
            else:
                self.failed[run.name] = f"ray: {err.__class__.__name__} ({RAY_REQUEUES} requeues)"
            return
        self.sweep.record_node(run.name, node)
        if rc != 0:
            self.failed[run.name] = f"exit code {rc} (see {self.sweep.log_file(run)})"

    def statuses(self, started_only: bool = True) -> list[RunStatus]:
        return _overlay(self.sweep, {r.name for r in self.pending.values()}, self.failed, started_only=started_only)


def run_ray(
    sweep: Sweep,
    *,
    entry: Sequence[str],
    address: str | None = None,
    gpu: bool = True,
    cpus_per_run: int = 1,
    on_poll: OnPoll | None = None,
    poll_s: float = 1.0,
    init_kwargs: Mapping[str, object] | None = None,
) -> SweepResult:
    """Run every unfinished run as one Ray task (``num_gpus=1``, or ``num_cpus=cpus_per_run``).

    Ray only places the runs: each task starts the same ``presnet`` process the local
    executor would (``entry`` with the worker's own python in place of its first word), on
    whichever node Ray picks, so the sweep directory must be on a filesystem every node mounts
    at the same path.  Ray's own retries are off (a retried task would rerun a stale command);
    :class:`_RayPool` requeues a lost run itself.
    """
    ray = import_ray()
    started_here = _init_ray(ray, address, init_kwargs, gpu)
    resources = {"num_gpus": 1, "num_cpus": 1} if gpu else {"num_cpus": cpus_per_run}
    remote = ray.remote(max_retries=0, **resources)(_ray_task())
    pool = _RayPool(sweep, ray, remote, entry, None if gpu else cpus_per_run)
    try:
        for run in (r for r in sweep.runs if sweep.status(r).state != "done"):
            pool.submit(run)
        while pool.pending:
            ready, _ = ray.wait(list(pool.pending), num_returns=1, timeout=poll_s)
            for ref in ready:
                pool.collect(ref)
            _report(sweep, pool.statuses(), on_poll)
        return SweepResult(pool.statuses(started_only=False))
    except KeyboardInterrupt:
        for ref in pool.pending:
            ray.cancel(ref, force=True)
        return SweepResult(sweep.statuses(), interrupted=True)
    finally:
        if started_here:
            ray.shutdown()


def gpus_for(device: str) -> int:
    """GPUs the local workers can be pinned to: none when the config asks for the CPU or MPS."""
    if device == "cpu" or device.startswith("mps"):
        return 0
    import torch

    return torch.cuda.device_count()
