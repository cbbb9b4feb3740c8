"""What a front end holds of a run: its directory (config, events, summary, control file) and the
job that trains it.  Built by :mod:`core.api.runs`; named here so that front ends type them
without reaching into :mod:`core.run` or :mod:`core.train`."""

from __future__ import annotations

from core.run.rundir import RunDir
from core.train.job import Job, JobResult

__all__ = ["Job", "JobResult", "RunDir"]
