"""A run as another process: start it detached, attach to it, watch it, steer it, wait for it.

A search lives for hours; the window that started it (a terminal over SSH, a browser tab) may not.
So every front end starts a run as a *worker*: a process in its own session (no controlling terminal,
so an SSH drop's SIGHUP never reaches it), stdin from /dev/null, stdout and stderr into the run
directory's ``worker.log``, running the same code as ``presnet run --headless`` (the front end names
the command: core never names the CLI).  The front end then only watches the run directory:

- the history from ``events.jsonl`` (followed as it grows), the live step from ``progress.json``;
- requests through ``control.json`` (stop, stop after an epoch, pause, continue), and a checkpoint-
  and-leave through SIGTERM (the preemption path: resumable mid-epoch, exit code 143);
- whether it is alive from the run's lock (core.run.lock), which dies with its process.

Closing the window leaves all of this as it is: detaching is doing nothing.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from core.errors import PresnetError
from core.run.control import Control, ControlState, write_control
from core.run.events import AnyEvent, EventFollower, Progress
from core.run.lock import Owner, is_held, live_error, read_owner
from core.run.progress import read_progress
from core.run.rundir import RunDir

#: Seconds between two looks while waiting for a worker to take its run or to end.
WAIT_POLL_S = 0.1


class RunHandle:
    """One run directory, written by some process (maybe this handle's own worker, maybe none now)."""

    def __init__(self, path: Path, proc: subprocess.Popen[bytes] | None = None) -> None:
        self.path = Path(path)
        self.proc = proc  #: the worker, when this handle started it
        self.control = Control(self.run_dir.control_file)
        self._follower = EventFollower(self.run_dir.events_file)

    # -- starting and attaching -----------------------------------------------------------------
    @classmethod
    def start(
        cls,
        command: Sequence[str],
        run_dir: Path,
        *,
        paused: bool = False,
        history: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> RunHandle:
        """Launch ``command`` (a worker that writes ``run_dir``) detached, and return once it has begun:
        its first event is on disk.  A worker that ends before that (bad input, a live run) is raised as
        a :class:`PresnetError` with its last log line; a directory made for it here is removed again.

        ``paused``: the run starts paused (its control file says so before the worker reads it);
        ``history=False``: :meth:`events` starts with what this worker writes (a retrain after its search)."""
        run_dir = Path(run_dir)
        if is_held(run_dir):  # a live run: refused before its control file or log is touched
            raise live_error(run_dir)
        made = not run_dir.exists()
        run_dir.mkdir(parents=True, exist_ok=True)
        layout = RunDir(run_dir)
        if paused:
            write_control(layout.control_file, ControlState(paused=True))
        log_path, events = layout.worker_log, layout.events_file
        before = _stat(events)
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own session: no controlling terminal, no SIGHUP when ours goes
                close_fds=True,
                env=dict(env) if env is not None else None,
            )
        handle = cls(run_dir, proc)
        if not history:
            handle._follower.skip(before[0])
        while _stat(events) == before:  # the worker has begun once it wrote (or cut back) its event file
            if proc.poll() is not None:
                why = last_line(log_path) or f"the worker exited with code {proc.returncode}"
                if made:
                    _remove_unused(run_dir)
                raise PresnetError(why.removeprefix("error: "), hint=f"the worker's log: {log_path}")
            time.sleep(WAIT_POLL_S)
        return handle

    @classmethod
    def attach(cls, path: Path) -> RunHandle:
        """A handle on an existing run directory (live or not); a path that is not one is refused."""
        return cls(RunDir.open(path).path)

    @property
    def run_dir(self) -> RunDir:
        """The directory's layout and readers (config, summary, files); this handle never writes it."""
        return RunDir(self.path)

    # -- watching ---------------------------------------------------------------------------------
    def is_alive(self) -> bool:
        """Whether a process writes the run now (its lock is held; this handle's own worker still runs)."""
        if self.proc is not None and self.proc.poll() is None:
            return True
        return is_held(self.path)

    def owner(self) -> Owner | None:
        """Who holds (or last held) the run: pid, host, since."""
        return read_owner(self.path)

    def events(self) -> list[AnyEvent]:
        """The events written since the last call (all of them on the first)."""
        return self._follower.poll()

    @property
    def damaged_lines(self) -> int:
        """Lines of the event file that were not events (counted, skipped)."""
        return self._follower.bad_lines

    def progress(self) -> Progress | None:
        """The newest progress event (step, images/s, ETA), or None before the first step."""
        return read_progress(self.run_dir.progress_file)

    # -- steering ---------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the search now (it derives and saves its result) or the retrain (final weights kept)."""
        self.control.request_stop()

    def stop_at(self, epoch: int | None) -> None:
        self.control.stop_at_epoch(epoch)

    def pause(self) -> None:
        self.control.pause()

    def cont(self) -> None:
        self.control.cont()

    def suspend(self) -> bool:
        """Checkpoint after the current step and leave, resumable (SIGTERM, the preemption path).
        False when no live process of this machine holds the run."""
        owner = self.owner()
        if not self.is_alive() or owner is None or owner.host != socket.gethostname():
            return False
        try:
            os.kill(owner.pid, signal.SIGTERM)
        except ProcessLookupError:
            return False
        return True

    def wait(self, timeout: float | None = None) -> int | None:
        """Until the worker ends: its exit code (None when this handle did not start it, or on timeout)."""
        if self.proc is not None:
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.is_alive():
            if deadline is not None and time.monotonic() > deadline:
                return None
            time.sleep(WAIT_POLL_S)
        return None


def _stat(path: Path) -> tuple[int, int]:
    """Size and modification time (0, 0 when absent): a change says a writer touched the file."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return (0, 0)
    return (st.st_size, st.st_mtime_ns)


def last_line(path: Path) -> str:
    """The last non-empty line of a text file ('' when absent)."""
    try:
        lines = [line.strip() for line in Path(path).read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def _remove_unused(run_dir: Path) -> None:
    """A directory :meth:`RunHandle.start` made, left with nothing but the worker's log and control file."""
    rd = RunDir(run_dir)
    leftovers = {p.name for p in run_dir.iterdir()}
    if leftovers <= {rd.worker_log.name, rd.control_file.name}:
        for name in leftovers:
            (run_dir / name).unlink()
        run_dir.rmdir()
