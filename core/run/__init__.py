"""A run directory and what passes through it: its layout, events, control file, checkpoints, lock.

Everything a front end needs to watch or steer a run from another process lives here; none of it
trains anything.  Public API (imported lazily):

- :class:`RunDir` (:mod:`.rundir`): the layout of a run directory, its config, events and summary;
- :class:`EventBus`, :func:`parse_event`, :func:`read_events`, :class:`EventFollower` and the event
  classes (:mod:`.events`): typed events, one JSON line each in ``events.jsonl``;
- :class:`Control` (:mod:`.control`): stop, stop-at-epoch, pause and interrupt requests;
- :func:`acquire`, :class:`RunIsLive` (:mod:`.lock`): one writer per run directory;
- :func:`save_checkpoint`, :func:`load_checkpoint` (:mod:`.checkpoint`);
- :class:`TensorBoardSink`, :func:`convert_events` (:mod:`.tensorboard`): events as TensorBoard scalars.
"""

from __future__ import annotations

from core.lazy import lazy_api

_API = {
    "RunDir": "rundir",
    "EventBus": "events",
    "parse_event": "events",
    "read_events": "events",
    "EventFollower": "events",
    "Control": "control",
    "acquire": "lock",
    "RunIsLive": "lock",
    "save_checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "TensorBoardSink": "tensorboard",
    "convert_events": "tensorboard",
}
__getattr__, __all__ = lazy_api(__name__, _API)
