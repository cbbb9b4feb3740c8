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
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import PresnetError, import_extra
from core.scale.sweep import PlannedRun, RunStatus, Sweep


@dataclass
class SweepResult:
    statuses: list[RunStatus]
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(s.state == "done" for s in self.statuses)


OnPoll = Callable[[list[RunStatus]], None]


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


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the run process gets SIGKILL when the sweep process dies, so a killed sweep never
    leaves a writer behind that a rerun would race (the run then resumes from its checkpoint)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


def _popen(cmd: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as f:
        f.write(f"\n$ {' '.join(cmd)}\n".encode())
        f.flush()
        return subprocess.Popen(
            cmd,
            stdout=f,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            # Its own process group: a Ctrl+C at the terminal reaches the sweep alone, which passes
            # exactly one SIGINT on (a second one would cut a run's checkpoint short).
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )


def run_local(  # noqa: PLR0913 - the placement's parts, keyword-only
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
    todo = [r for r in sweep.runs if sweep.status(r).state != "done"]
    active: dict[int, tuple[PlannedRun, subprocess.Popen]] = {}  # slot -> run
    failed: dict[str, str] = {}

    def statuses() -> list[RunStatus]:
        running = {run.name for run, _ in active.values()}
        out = []
        for r in sweep.runs:
            s = sweep.status(r)
            if r.name in running and s.state != "done":
                s.state = "running"
            elif r.name in failed and s.state != "done":
                s.state, s.message = "failed", s.message or failed[r.name]
            out.append(s)
        return out

    def report() -> None:
        current = statuses()
        sweep.record_states(current)
        if on_poll is not None:
            on_poll(current)

    try:
        while todo or active:
            for slot in range(workers):
                if slot in active or not todo:
                    continue
                run = todo.pop(0)
                env = dict(os.environ)
                if gpus > 0:
                    env["CUDA_VISIBLE_DEVICES"] = str(slot % gpus)
                if threads is not None:
                    env["OMP_NUM_THREADS"] = str(threads)
                cmd = sweep.command(run, entry, threads=threads)
                active[slot] = (run, _popen(cmd, sweep.log_file(run), env))
            for slot, (run, proc) in list(active.items()):
                rc = proc.poll()
                if rc is not None:
                    del active[slot]
                    if rc != 0:
                        failed[run.name] = f"exit code {rc} (see {sweep.log_file(run)})"
            report()
            if todo or active:
                time.sleep(poll_s)
    except KeyboardInterrupt:
        for _, proc in active.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for _, proc in active.values():
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        active.clear()
        report()
        return SweepResult(statuses(), interrupted=True)
    return SweepResult(statuses())


def import_ray() -> Any:
    return import_extra("ray", "ray", where="--ray", what="Ray", instead="or drop --ray to run locally")


def run_ray(  # noqa: PLR0913 - the placement's parts, keyword-only
    sweep: Sweep,
    *,
    entry: Sequence[str],
    address: str | None = None,
    gpu: bool = True,
    cpus_per_run: int = 1,
    on_poll: OnPoll | None = None,
    poll_s: float = 1.0,
    init_kwargs: dict[str, Any] | None = None,
) -> SweepResult:
    """Run every unfinished run as one Ray task (``num_gpus=1``, or ``num_cpus=cpus_per_run``).

    Ray only places the runs: each task starts the same ``presnet`` process the local
    executor would, on whichever node Ray picks, so the sweep directory must be on a
    filesystem every node mounts at the same path.
    """
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
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
        raise PresnetError(
            "the Ray cluster has no GPU, so no run could be placed",
            where=f"--ray {address or ''}".strip(),
            hint="pass --device cpu (each run then takes --cpus-per-run cores), or add GPU nodes",
        )

    def task(cmd: list[str], log: str, threads: int | None) -> int:
        # Runs on a Ray worker: its own python, and the GPU Ray assigned (CUDA_VISIBLE_DEVICES).
        import os as _os
        import subprocess as _sp
        import sys as _sys

        env = dict(_os.environ)
        if threads is not None:
            env["OMP_NUM_THREADS"] = str(threads)
        with open(log, "ab") as f:
            f.write(f"\n$ {' '.join(cmd)} (ray)\n".encode())
            f.flush()
            return _sp.call(
                [_sys.executable, *cmd[1:]],
                stdout=f,
                stderr=_sp.STDOUT,
                stdin=_sp.DEVNULL,
                env=env,
                preexec_fn=_die_with_parent_inline if _sys.platform.startswith("linux") else None,
            )

    def _die_with_parent_inline() -> None:  # a copy Ray ships with the task (no import of core there)
        try:
            import ctypes
            import signal as _signal

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, _signal.SIGKILL)
        except (OSError, AttributeError):
            return

    resources = {"num_gpus": 1, "num_cpus": 1} if gpu else {"num_cpus": cpus_per_run}
    remote = ray.remote(max_retries=0, **resources)(task)
    threads = None if gpu else cpus_per_run
    pending: dict[Any, PlannedRun] = {}
    failed: dict[str, str] = {}
    try:
        for run in sweep.runs:
            if sweep.status(run).state == "done":
                continue
            cmd = sweep.command(run, entry, threads=threads)
            sweep.log_file(run).parent.mkdir(parents=True, exist_ok=True)
            pending[remote.remote(cmd, str(sweep.log_file(run)), threads)] = run

        def statuses() -> list[RunStatus]:
            out = []
            for s in sweep.statuses():
                if s.name in failed and s.state != "done":
                    s.state, s.message = "failed", s.message or failed[s.name]
                elif s.state == "incomplete" and s.name in {r.name for r in pending.values()}:
                    s.state = "running"
                out.append(s)
            return out

        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=poll_s)
            for ref in ready:
                run = pending.pop(ref)
                try:
                    rc = ray.get(ref)
                except Exception as err:  # a task Ray could not run (node lost, worker died)
                    failed[run.name] = f"ray: {err.__class__.__name__}"
                    continue
                if rc != 0:
                    failed[run.name] = f"exit code {rc} (see {sweep.log_file(run)})"
            current = statuses()
            sweep.record_states(current)
            if on_poll is not None:
                on_poll(current)
        return SweepResult(statuses())
    except KeyboardInterrupt:
        for ref in pending:
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
