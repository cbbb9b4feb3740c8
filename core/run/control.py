"""Stop / stop-at-epoch / pause requests, from this process or another one.

In-process callers (the TUI) call methods; other processes (``presnet stop``)
write ``control.json`` in the run directory, which the engine polls every step
with one ``stat``.  In-process requests are mirrored into the file, so a request
survives a crash and a resume honours it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from core.errors import PresnetError
from core.io import atomic_write_text


@dataclass
class ControlState:
    stop: bool = False
    stop_at_epoch: int | None = None
    paused: bool = False
    #: In-process only (Ctrl+C, a signal): checkpoint and leave, resumable.
    interrupt: bool = False
    #: Who asked for the interrupt ("interrupt", or a signal's name: a scheduler's preemption).
    interrupt_by: str | None = None


def read_control(path: Path) -> ControlState:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return ControlState()
    except (json.JSONDecodeError, OSError) as err:
        raise PresnetError(
            f"unreadable control file: {err}", where=str(path), hint="delete it; `presnet stop` writes a fresh one"
        ) from None
    return ControlState(bool(data.get("stop", False)), data.get("stop_at_epoch"), bool(data.get("paused", False)))


def write_control(path: Path, state: ControlState) -> None:
    data = {"stop": state.stop, "stop_at_epoch": state.stop_at_epoch, "paused": state.paused}
    atomic_write_text(Path(path), json.dumps(data) + "\n")


class Control:
    """Thread-safe control flags shared by a runner and its engine."""

    def __init__(self, path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._state = ControlState()
        self._path = Path(path) if path else None
        self._mtime = 0
        self.poll()

    def attach(self, path: Path) -> None:
        """Start mirroring into (and polling) a control file, keeping current requests."""
        with self._lock:
            self._path = Path(path)
            self._mtime = 0
            file_state = read_control(self._path)
            self._state = _merge(self._state, file_state)
            write_control(self._path, self._state)

    def _refresh(self) -> None:
        """(Lock held.) Take in the control file if another process changed it; one stat otherwise."""
        if self._path is None:
            return
        try:
            mtime = self._path.stat().st_mtime_ns
        except FileNotFoundError:
            mtime = 0
        if mtime and mtime != self._mtime:
            self._mtime = mtime
            interrupt, by = self._state.interrupt, self._state.interrupt_by
            self._state = read_control(self._path)
            self._state.interrupt, self._state.interrupt_by = interrupt, by

    def _update(self, **changes: object) -> None:
        """Change requests on top of the file's current state (another process may have written it)."""
        with self._lock:
            self._refresh()
            for k, v in changes.items():
                setattr(self._state, k, v)
            if self._path is not None:
                write_control(self._path, self._state)
                self._mtime = self._path.stat().st_mtime_ns

    def request_stop(self) -> None:
        self._update(stop=True, paused=False)

    def stop_at_epoch(self, epoch: int | None) -> None:
        self._update(stop_at_epoch=epoch)

    def pause(self) -> None:
        self._update(paused=True)

    def cont(self) -> None:
        """Continue a paused run ("resume" is a restart from a checkpoint: ``presnet resume``)."""
        self._update(paused=False)

    def interrupt(self, by: str = "interrupt") -> None:
        """Leave after the current step; the pause is lifted so that a resume runs at once.

        ``by`` names who asked (a signal's name for a preemption); the ``suspended`` event records it."""
        self._update(interrupt=True, interrupt_by=by, paused=False)

    def clear_stop(self) -> None:
        """A finished phase's stop request must not stop the next phase (the retrain)."""
        self._update(stop=False, stop_at_epoch=None, paused=False)

    def poll(self) -> ControlState:
        """The current requests, re-reading the control file if it changed (one stat when it did not)."""
        with self._lock:
            self._refresh()
            return ControlState(**asdict(self._state))

    def wait_while_paused(self, on_pause: Callable[[bool], None] | None = None, interval: float = 0.2) -> ControlState:
        return wait_while_paused(self.poll, on_pause, interval)


def _merge(a: ControlState, b: ControlState) -> ControlState:
    return ControlState(
        a.stop or b.stop,
        a.stop_at_epoch if a.stop_at_epoch is not None else b.stop_at_epoch,
        a.paused or b.paused,
        a.interrupt,
        a.interrupt_by,
    )


def wait_while_paused(
    poll: Callable[[], ControlState], on_pause: Callable[[bool], None] | None = None, interval: float = 0.2
) -> ControlState:
    """Block while the state ``poll`` reads is paused (a stop or an interrupt ends a pause);
    ``on_pause(True)``/``(False)`` when a pause begins and ends.  One rule for a local control and
    for the distributed one, whose ``poll`` is collective."""
    state = poll()
    was_paused = state.paused and not (state.stop or state.interrupt)
    if was_paused and on_pause:
        on_pause(True)
    while state.paused and not (state.stop or state.interrupt):
        time.sleep(interval)
        state = poll()
    if was_paused and on_pause:
        on_pause(False)
    return state
