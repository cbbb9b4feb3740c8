"""Where and when a sweep's runs execute: N local processes, or Ray tasks.

Both executors start the same process per run (:meth:`core.scale.sweep.Sweep.command`:
``presnet run|baseline|resume --headless``) and read progress from the run
directories; neither touches the engine.  A run directory only ever has one
process: the sweep's lock keeps out a second front end, and a run is given to a
worker only once per sweep invocation.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
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


class _LocalSlots:
    """``workers`` slots, each running one of the sweep's unfinished runs in its own process."""

    def __init__(self, sweep: Sweep, workers: int, gpus: int, threads: int | None) -> None:
        self.sweep, self.workers, self.gpus, self.threads = sweep, workers, gpus, threads
        self.todo = [r for r in sweep.runs if sweep.status(r).state != "done"]
        self.active: dict[int, tuple[PlannedRun, subprocess.Popen]] = {}  # slot -> run
        self.failed: dict[str, str] = {}

    @property
    def busy(self) -> bool:
        return bool(self.todo or self.active)

    def fill(self) -> None:
        """Start a run in every free slot (pinned to the slot's GPU, or with ``threads`` CPU threads)."""
        for slot in range(self.workers):
            if slot in self.active or not self.todo:
                continue
            run = self.todo.pop(0)
            env = dict(os.environ)
            if self.gpus > 0:
                env["CUDA_VISIBLE_DEVICES"] = str(slot % self.gpus)
            if self.threads is not None:
                env["OMP_NUM_THREADS"] = str(self.threads)
            cmd = self.sweep.command(run, threads=self.threads)
            self.active[slot] = (run, _popen(cmd, self.sweep.log_file(run), env))

    def reap(self) -> None:
        """Free the slots whose run ended; a non-zero exit is a failure, with its log named."""
        for slot, (run, proc) in list(self.active.items()):
            rc = proc.poll()
            if rc is not None:
                del self.active[slot]
                if rc != 0:
                    self.failed[run.name] = f"exit code {rc} (see {self.sweep.log_file(run)})"

    def statuses(self) -> list[RunStatus]:
        running = {run.name for run, _ in self.active.values()}
        out = []
        for r in self.sweep.runs:
            s = self.sweep.status(r)
            if r.name in running and s.state != "done":
                s.state = "running"
            elif r.name in self.failed and s.state != "done":
                s.state, s.message = "failed", s.message or self.failed[r.name]
            out.append(s)
        return out

    def interrupt(self) -> None:
        """One SIGINT to each running run (it checkpoints and stops), then wait for them."""
        for _, proc in self.active.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for _, proc in self.active.values():
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.active.clear()


def run_local(
    sweep: Sweep,
    workers: int,
    *,
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
    slots = _LocalSlots(sweep, workers, gpus, threads)

    def report() -> None:
        current = slots.statuses()
        sweep.record_states(current)
        if on_poll is not None:
            on_poll(current)

    try:
        while slots.busy:
            slots.fill()
            slots.reap()
            report()
            if slots.busy:
                time.sleep(poll_s)
    except KeyboardInterrupt:
        slots.interrupt()
        report()
        return SweepResult(slots.statuses(), interrupted=True)
    return SweepResult(slots.statuses())


def import_ray() -> Any:
    return import_extra("ray", "ray", where="--ray", what="Ray", instead="or drop --ray to run locally")


def _connect_ray(ray: Any, address: str | None, gpu: bool, init_kwargs: dict[str, Any] | None) -> bool:
    """Join (or start) the Ray cluster; True when this call started Ray (and must shut it down)."""
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
    return started_here


def _ray_task() -> Callable[[list[str], str, int | None], int]:
    """The task Ray ships by value (a closure: no import of core on the worker)."""

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

    return task


class _RayRuns:
    """The sweep's unfinished runs as Ray tasks, and what became of them."""

    def __init__(self, ray: Any, sweep: Sweep, gpu: bool, cpus_per_run: int) -> None:
        self.ray, self.sweep = ray, sweep
        resources = {"num_gpus": 1, "num_cpus": 1} if gpu else {"num_cpus": cpus_per_run}
        remote = ray.remote(max_retries=0, **resources)(_ray_task())
        threads = None if gpu else cpus_per_run
        self.pending: dict[Any, PlannedRun] = {}
        self.failed: dict[str, str] = {}
        for run in sweep.runs:
            if sweep.status(run).state == "done":
                continue
            cmd = sweep.command(run, threads=threads)
            sweep.log_file(run).parent.mkdir(parents=True, exist_ok=True)
            self.pending[remote.remote(cmd, str(sweep.log_file(run)), threads)] = run

    def wait(self, poll_s: float) -> None:
        """Collect the tasks that ended within ``poll_s``."""
        ready, _ = self.ray.wait(list(self.pending), num_returns=1, timeout=poll_s)
        for ref in ready:
            run = self.pending.pop(ref)
            try:
                rc = self.ray.get(ref)
            except Exception as err:  # a task Ray could not run (node lost, worker died)
                self.failed[run.name] = f"ray: {err.__class__.__name__}"
                continue
            if rc != 0:
                self.failed[run.name] = f"exit code {rc} (see {self.sweep.log_file(run)})"

    def statuses(self) -> list[RunStatus]:
        out = []
        for s in self.sweep.statuses():
            if s.name in self.failed and s.state != "done":
                s.state, s.message = "failed", s.message or self.failed[s.name]
            elif s.state == "incomplete" and s.name in {r.name for r in self.pending.values()}:
                s.state = "running"
            out.append(s)
        return out

    def cancel(self) -> None:
        for ref in self.pending:
            self.ray.cancel(ref, force=True)


def run_ray(
    sweep: Sweep,
    *,
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
    started_here = _connect_ray(ray, address, gpu, init_kwargs)
    runs: _RayRuns | None = None
    try:
        runs = _RayRuns(ray, sweep, gpu, cpus_per_run)
        while runs.pending:
            runs.wait(poll_s)
            current = runs.statuses()
            sweep.record_states(current)
            if on_poll is not None:
                on_poll(current)
        return SweepResult(runs.statuses())
    except KeyboardInterrupt:
        if runs is not None:
            runs.cancel()
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
