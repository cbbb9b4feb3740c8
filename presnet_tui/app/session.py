"""The app's handle on one run: its news in, as Textual messages; its steering out, through its RunHandle.

A run is always another process (core.api.handle: a detached worker, or a headless run started
elsewhere).  A :class:`Session` follows the run's event file and progress file on a thread of its own
and posts what they gained to the screen that watches it (:mod:`presnet_tui.app.messages`); every
request (stop, stop at an epoch, pause, continue, checkpoint-and-leave) is the run's
:class:`~core.api.handle.RunHandle`'s.  Closing the app (or its terminal, or its browser tab) leaves
the run untouched.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from core.api.handle import RunHandle
from core.run.events import AnyEvent, Error, Progress, RetrainDone
from presnet_tui.app.messages import RunEvents, RunProgress

if TYPE_CHECKING:
    from textual.message import Message
    from textual.message_pump import MessagePump

    from core.api.rundirs import RunDir

#: Seconds between reads of an attached run's event file.
FOLLOW_S = 0.25


class Session:
    """One run, watched: ``connect`` a screen to receive its events; steer it through :attr:`handle`.

    ``local``: this app started (or took over) the run, so its screen offers the retrain."""

    run_dir: RunDir
    local: bool

    def __init__(self, run: Path | RunHandle, owned: bool = False) -> None:
        self.handle = run if isinstance(run, RunHandle) else RunHandle.attach(run)
        self.run_dir = self.handle.run_dir
        self.local = owned
        self._finished = False
        self._progress_at = 0.0
        self._closed = threading.Event()

    # -- news in ----------------------------------------------------------------------------------
    def connect(self, screen: MessagePump) -> None:
        """Post the run's news to ``screen`` from now on (its history first), from a follower thread:
        ``post_message`` is the one call into Textual that is safe off the UI thread."""
        threading.Thread(target=self._follow, args=(screen,), name="presnet-follow", daemon=True).start()

    def close(self) -> None:
        """The UI stops watching; the run goes on (it is another process)."""
        self._closed.set()

    def _follow(self, screen: MessagePump) -> None:
        while not self._closed.is_set():
            for message in self.read():
                screen.post_message(message)
            self._closed.wait(FOLLOW_S)

    def read(self) -> list[Message]:
        """What the run's files gained since the last read: one batch of events, then the newest step."""
        news: list[Message] = []
        events = self._read_events()
        if events:
            news.append(RunEvents(events))
        progress = self._read_progress()
        if progress is not None:
            news.append(RunProgress(progress))
        return news

    def _read_events(self) -> list[AnyEvent]:
        bad_before = self.handle.damaged_lines
        events = self.handle.events()
        if any(isinstance(e, RetrainDone | Error) for e in events):
            self._finished = True
        if self.handle.damaged_lines > bad_before:
            skipped = self.handle.damaged_lines - bad_before
            events.append(Error(message=f"skipped {skipped} damaged line(s) of {self.run_dir.events_file}"))
        return events

    def _read_progress(self) -> Progress | None:
        """The newest step (the history file has none): one stat, and a read when it changed."""
        try:
            mtime = self.run_dir.progress_file.stat().st_mtime
        except FileNotFoundError:
            return None
        if mtime == self._progress_at:
            return None
        self._progress_at = mtime
        return self.handle.progress()

    @property
    def running(self) -> bool:
        """A worker writes the run (its lock is held), and no closing event has been read yet."""
        return not self._finished and self.handle.is_alive()

    # -- requests out: the handle's ----------------------------------------------------------------
    def stop_now(self) -> None:
        self.handle.stop()

    def stop_at(self, epoch: int) -> None:
        self.handle.stop_at(epoch)

    def pause(self) -> None:
        self.handle.pause()

    def cont(self) -> None:
        self.handle.cont()

    def pause_requested(self) -> bool:
        """Whether a pause is asked for now (the engine confirms with a `state` event)."""
        return self.handle.control.poll().paused

    def suspend(self) -> bool:
        """Checkpoint and leave (resumable): the run's worker gets SIGTERM."""
        return self.handle.suspend()
