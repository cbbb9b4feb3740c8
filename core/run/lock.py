"""One writer per run directory: an OS lock on ``<run>/run.lock``.

Two processes writing one run directory interleave their events and overwrite each
other's checkpoints, so every writer (run, search, resume, retrain, baseline, the TUI)
takes an exclusive ``flock`` on the lock file before it changes anything, and records
its pid, host and start time in it.  The kernel drops the lock when the owner's last
descriptor closes -- normal exit, a crash or ``kill -9`` alike -- so a dead run never
leaves a stale lock behind, and nobody has to delete the file.  Readers (attach, plot,
derive, compare, inspect, stop) never take it.

The file is rewritten in place, never replaced by a rename: a rename would give the
path a new inode that the next writer could lock while the old one is still held.

On a network filesystem ``flock`` holds only where the client maps it onto real
network locks (Linux NFS does; a ``nolock`` mount, some FUSE and SMB mounts keep it
local to one machine).  Where the filesystem refuses locks outright, writers are
refused too, unless ``PRESNET_UNLOCKED=1`` says the user takes that risk.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import PresnetError

LOCK_FILE = "run.lock"
UNLOCKED_ENV = "PRESNET_UNLOCKED"


@dataclass(frozen=True)
class Owner:
    """Who holds (or last held) a run directory."""

    pid: int
    host: str
    since: str
    command: str = ""

    @classmethod
    def me(cls) -> Owner:
        since = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime())
        command = " ".join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv))
        return cls(os.getpid(), socket.gethostname(), since, command)

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, since {self.since}"


class RunIsLive(PresnetError):
    """Another process writes this run directory now."""


class RunLock:
    """A held lock; :meth:`release` (or garbage collection, or process death) lets it go."""

    def __init__(self, path: Path, fd: int | None, previous: bytes = b"") -> None:
        self.path = path
        self._fd: int | None = fd
        self._previous = previous  #: the record this holder replaced (the last owner's)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the only descriptor drops the flock

    def release_refused(self) -> None:
        """Let go after refusing to write: put the last owner's record back first, so that a refused
        second writer leaves the run's ``run.lock`` byte for byte as it found it (``presnet ls`` keeps
        naming the run's own last owner)."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, self._previous, 0)
        self.release()

    def __del__(self) -> None:
        self.release()


def lock_path(run_dir: Path) -> Path:
    return Path(run_dir) / LOCK_FILE


def read_owner(run_dir: Path) -> Owner | None:
    """What the lock file says (the live owner if the run is live, else the last one); never locks."""
    try:
        data = json.loads(lock_path(run_dir).read_text())
        return Owner(int(data["pid"]), str(data["host"]), str(data["since"]), str(data.get("command", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent, or being rewritten this very moment


def acquire(run_dir: Path, name: str = LOCK_FILE, refuse: Callable[[Path], PresnetError] | None = None) -> RunLock:
    """Take the directory's lock now or raise :class:`RunIsLive` at once (never waits).

    ``name`` and ``refuse`` let another single-writer directory (a sweep) use the same mechanism
    with its own lock file and its own refusal."""
    run_dir = Path(run_dir)
    path = run_dir / name
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as err:
        raise PresnetError(
            f"cannot open the lock file: {err.strerror}", where=str(path), hint="check the path and write permission"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise (refuse or live_error)(run_dir) from None
        if os.environ.get(UNLOCKED_ENV) == "1":
            return RunLock(path, None)  # the user took the risk: hold nothing
        raise PresnetError(
            f"this filesystem refuses file locks ({err.strerror}), so a second writer could not be kept out",
            where=str(path),
            hint=f"put the run on a local disk (--out), or set {UNLOCKED_ENV}=1 to write without the guard",
        ) from None
    previous = _read_all(fd)
    me = Owner.me()
    record = json.dumps({"pid": me.pid, "host": me.host, "since": me.since, "command": me.command}) + "\n"
    os.ftruncate(fd, 0)
    os.pwrite(fd, record.encode(), 0)
    return RunLock(path, fd, previous)


def _read_all(fd: int) -> bytes:
    """The lock file's content (a few hundred bytes: the last owner's record)."""
    chunks, offset = [], 0
    while chunk := os.pread(fd, 4096, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _alive(owner: Owner | None) -> bool:
    """Whether the record can be the live holder's (another host's pid cannot be checked)."""
    if owner is None:
        return False
    if owner.host != socket.gethostname():
        return True
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def live_error(run_dir: Path) -> RunIsLive:
    """The refusal, naming the holder.  A holder that took the lock a moment ago may not have
    written its record yet (the file still names the dead previous owner): wait briefly for it."""
    owner = read_owner(run_dir)
    for _ in range(40):
        if _alive(owner):
            break
        time.sleep(0.025)
        owner = read_owner(run_dir)
    who = owner.describe() if owner else "another process"
    return RunIsLive(
        f"the run is live ({who}); a second writer would corrupt it",
        where=str(run_dir),
        hint=f"watch it with `presnet-tui --attach {run_dir}`, stop it with `presnet stop {run_dir}`",
    )


def is_held(directory: Path, name: str = LOCK_FILE) -> bool:
    """Whether some process holds the lock now.  A brief non-blocking probe (taken and dropped at
    once), for a watcher that must tell a live writer from a dead one; a writer that starts in that
    instant is refused as if the directory were live, and can simply be started again."""
    try:
        fd = os.open(Path(directory) / name, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False  # no lock file: nobody ever wrote here
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        return err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
