"""The job that trains a run and its result, as :mod:`core.api.runs` hands them out; named here so
that front ends can type them without reaching into :mod:`core.train` (importing this loads torch)."""

from __future__ import annotations

from core.train.job import Job, JobResult

__all__ = ["Job", "JobResult"]
