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
- ``retrain_done@E``: after the retrain's closing checkpoint (E epochs), before the summary;
- ``summary@SECTIONS``: halfway through writing summary.json's temp file (``SECTIONS``: the names
  updated, comma-joined, e.g. ``search,architecture,params,world_size``).

``PRESNET_FAULT=enospc:<point>@<label>`` (or ``eio:``) instead raises the ``OSError`` a full disk
(or a failing one) gives, once, at that point: a write point's caller must then keep the previous
file intact and end the run with one line naming the path and the free space.
``PRESNET_FAULT=sigterm:<point>@<label>`` (or ``sigusr1:``) sends the process that signal there, once:
a scheduler's preemption at a known step.
"""

from __future__ import annotations

import errno
import os
import signal

ENV = "PRESNET_FAULT"
#: An injected write error's prefix and the errno it stands for.
WRITE_ERRORS = {"enospc": errno.ENOSPC, "eio": errno.EIO}
#: An injected signal's prefix and the signal it sends.
SIGNALS = {"sigterm": signal.SIGTERM, "sigusr1": signal.SIGUSR1}
_raised: set[str] = set()  # an injected write error fires once per process: the disk "has room" again


def fault_point(point: str, label: object) -> None:
    spec = os.environ.get(ENV)
    if spec is None:
        return
    here = f"{point}@{label}"
    if spec == here:
        os.kill(os.getpid(), signal.SIGKILL)
    kind, _, where = spec.partition(":")
    if where != here or spec in _raised:
        return
    if kind in SIGNALS:
        _raised.add(spec)
        os.kill(os.getpid(), SIGNALS[kind])
    elif kind in WRITE_ERRORS:
        _raised.add(spec)
        code = WRITE_ERRORS[kind]
        raise OSError(code, os.strerror(code))
