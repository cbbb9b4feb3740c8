"""Test-only fault injection: die by SIGKILL at a named point, to prove nothing is lost.

``PRESNET_FAULT=<point>@<label>`` makes this process send itself SIGKILL -- no cleanup,
no flush, exactly what ``kill -9`` or a power cut does -- the first time it reaches that
point with that label.  Unset (always, outside the fault tests) each point costs one
environment lookup.  The points:

- ``search_step@G`` / ``retrain_step@G``: before global step G of the search / retrain;
- ``checkpoint@search-E`` / ``checkpoint@retrain-E`` (``-final`` for the closing save),
  ``checkpoint@weights-None``: halfway through writing that checkpoint's temp file;
- ``event@KIND`` or ``event@KIND-EPOCH``: halfway through that event's line in events.jsonl;
- ``derive@E``: after the architecture file of a search stopped at epoch E is written,
  before the summary and the ``architecture`` event;
- ``retrain_done@E``: after the retrain's closing checkpoint (E epochs), before the summary.
"""

from __future__ import annotations

import os
import signal

ENV = "PRESNET_FAULT"


def fault_point(point: str, label: object) -> None:
    spec = os.environ.get(ENV)
    if spec is not None and spec == f"{point}@{label}":
        os.kill(os.getpid(), signal.SIGKILL)
