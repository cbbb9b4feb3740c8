"""How a run's news reaches the app: a session reads the run's files on its own thread and posts Textual
messages; a burst of events is one message, and a stale step gives way to a newer one (``can_replace``)."""

from __future__ import annotations

import asyncio
import time

from textual.app import App

from core.config import load_config
from core.run.events import EpochEnd, JsonlSink, Progress
from core.run.progress import ProgressFile
from core.run.rundir import RunDir
from presnet_tui.app.messages import RunEvents, RunProgress
from presnet_tui.app.session import Session


def epoch_end(epoch: int) -> EpochEnd:
    alphas = {"1": {"kernel": {"3": 0.5, "5": 0.5}, "activation": {"relu": 1.0}}}
    return EpochEnd(
        epoch=epoch, epochs=5, phase="search", train_loss=1.0, train_top1=0.5, lr=0.1, elapsed_s=1.0, alphas=alphas
    )


def step(n: int) -> Progress:
    return Progress(phase="search", epoch=1, epochs=5, step=n, steps_per_epoch=100, images_per_s=10.0)


def a_run(tmp_path) -> RunDir:
    run = RunDir.create(load_config(None, {"run.out": str(tmp_path / "run")}))
    run.release_lock()
    return run


def test_a_burst_of_events_is_one_message_and_the_next_read_has_only_the_news(tmp_path):
    run = a_run(tmp_path)
    sink = JsonlSink(run.events_file)
    for n in range(200):
        sink(epoch_end(n))
    session = Session(run.path)
    (first,) = session.read()
    assert isinstance(first, RunEvents) and [e.epoch for e in first.events] == list(range(200))
    assert session.read() == []  # nothing new
    sink(epoch_end(200))
    ProgressFile(run.progress_file)(step(7))
    news = session.read()
    sink.close()
    assert [type(m) for m in news] == [RunEvents, RunProgress]
    assert [e.epoch for e in news[0].events] == [200] and news[1].progress.step == 7


class Watcher(App[None]):
    """Records the run messages it handles, in order."""

    def __init__(self, session: Session | None = None) -> None:
        super().__init__()
        self.session = session
        self.steps: list[int] = []
        self.batches: list[list[int]] = []

    def on_mount(self) -> None:
        if self.session is not None:
            self.session.connect(self)

    def on_run_progress(self, message: RunProgress) -> None:
        self.steps.append(message.progress.step)

    def on_run_events(self, message: RunEvents) -> None:
        self.batches.append([e.epoch for e in message.events])


def test_a_waiting_step_gives_way_to_a_newer_one_but_event_batches_all_arrive():
    """Queued together (a busy UI), 50 steps are handled once, as the newest; three batches three times."""

    async def scenario():
        app = Watcher()
        async with app.run_test() as pilot:
            for n in range(1, 51):
                app.post_message(RunProgress(step(n)))
            for n in (1, 2, 3):
                app.post_message(RunEvents([epoch_end(n)]))
            await pilot.pause(0.2)
            assert app.steps == [50]
            assert app.batches == [[1], [2], [3]]

    asyncio.run(scenario())


def test_the_follower_thread_posts_the_history_then_the_news(tmp_path):
    """Events written before the screen connects arrive first, as one batch; later ones follow."""
    run = a_run(tmp_path)
    sink = JsonlSink(run.events_file)
    sink(epoch_end(1))
    sink(epoch_end(2))
    session = Session(run.path)

    async def until(pilot, ok) -> None:
        deadline = time.monotonic() + 10
        while not ok() and time.monotonic() < deadline:
            await pilot.pause(0.05)

    async def scenario():
        app = Watcher(session)
        async with app.run_test() as pilot:
            await until(pilot, lambda: app.batches)
            assert app.batches == [[1, 2]]
            sink(epoch_end(3))
            ProgressFile(run.progress_file)(step(9))
            await until(pilot, lambda: app.steps)
            assert app.batches == [[1, 2], [3]] and app.steps == [9]
            session.close()

    try:
        asyncio.run(scenario())
    finally:
        sink.close()
