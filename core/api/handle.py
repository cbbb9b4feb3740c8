"""A run as another process, for the front ends: :class:`RunHandle` lives in :mod:`core.run.handle`
(it needs only the run directory's files, the lock and the control file), re-exported here so that
front ends keep reaching it through the door."""

from core.run.handle import WAIT_POLL_S, RunHandle, last_line
from core.run.rundir import RunDir

__all__ = ["WAIT_POLL_S", "RunDir", "RunHandle", "last_line"]
