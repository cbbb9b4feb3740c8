"""What the screens show, folded from events without Textual: rates and ETAs."""

from __future__ import annotations

from core.config import quickstart
from core.run.events import EpochEnd, Progress, SearchStarted
from presnet_tui.shared.model import RunModel


def started(steps_per_epoch: int = 10) -> SearchStarted:
    return SearchStarted(
        config=quickstart().model_dump(mode="json"),
        block_ids=[1],
        stages={"1": 4},
        candidates={"kernel": ["3", "5"], "activation": ["relu"]},
        params=1,
        num_classes=10,
        steps_per_epoch=steps_per_epoch,
        epochs=5,
    )


def epoch_end(epoch: int, elapsed_s: float) -> EpochEnd:
    alphas = {"1": {"kernel": {"3": 0.5, "5": 0.5}, "activation": {"relu": 1.0}}}
    return EpochEnd(
        epoch=epoch,
        epochs=5,
        phase="search",
        train_loss=1.0,
        train_top1=0.5,
        lr=0.1,
        elapsed_s=elapsed_s,
        alphas=alphas,
    )


def test_an_attached_view_derives_rate_and_eta_from_epoch_ends():
    model = RunModel()
    for e in (started(), epoch_end(1, 4.0), epoch_end(2, 6.0)):
        model.apply(e)
    batch = quickstart().data.batch_size
    assert model.images_per_s == 10 * batch / 2.0  # 10 steps of a batch in 2 s
    assert model.eta_s == 3 * 2.0  # three epochs left at 2 s each


def test_a_local_view_keeps_the_engines_own_rate():
    model = RunModel()
    progress = Progress(phase="search", epoch=2, epochs=5, step=3, steps_per_epoch=10, images_per_s=123.0, eta_s=9.0)
    for e in (started(), epoch_end(1, 4.0), progress, epoch_end(2, 6.0)):
        model.apply(e)
    assert model.images_per_s == 123.0 and model.eta_s == 9.0
