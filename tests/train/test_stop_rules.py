"""The stop rules' epoch arithmetic, exactly (R-DARTS's early stop on the curvature; the margin rule's replay)."""

from __future__ import annotations

import pytest

from core.config import CurvatureConfig
from core.run.events import EpochEnd
from core.train.stop_rules import curvature_stop, margin_converged, moving_averages, replay_rules

RULE = CurvatureConfig()  # R-DARTS's defaults: window 5, factor 1.3, delta 4, start 10


def step_history(first: int, last: int, jump_at: int, every: int = 1) -> list[tuple[int, float]]:
    """Curvature 1.0 on the epochs before ``jump_at``, 3.0 from it on."""
    return [(e, 1.0 if e < jump_at else 3.0) for e in range(first, last + 1, every)]


def test_moving_average_starts_at_half_a_window_and_then_slides():
    assert moving_averages([1, 2, 3, 4, 5, 6, 7], 5) == [None, None, 2.0, 2.5, 3.0, 4.0, 5.0]


def test_a_rise_is_detected_when_the_average_grew_by_the_factor_and_rolls_back_six_epochs():
    # evaluations at epochs 7.. (warm-up 6); the curvature jumps at epoch 17.
    # At epoch 17 the average of epochs 13-17 is (4 x 1 + 3) / 5 = 1.4, four averages earlier
    # (epochs 9-13) it was 1.0: 1.4 > 1.3 fires.  The average is centred on epoch 15; four
    # evaluations before that is epoch 11.
    stop = curvature_stop(step_history(7, 40, 17), RULE)
    assert stop is not None and (stop.detected, stop.rollback) == (17, 11)
    assert stop.ratio == pytest.approx(1.4)


def test_the_start_epoch_bounds_the_rollback_epoch():
    # start 12: epoch 17's rollback (11) is too early; at epoch 18 the average is 9/5 = 1.8: fires, back to 12
    stop = curvature_stop(step_history(7, 40, 17), RULE.model_copy(update={"start": 12}))
    assert stop is not None and (stop.detected, stop.rollback) == (18, 12)


def test_start_counts_search_epochs_past_the_warm_up():
    # R-DARTS counts its start in search epochs. Warm-up 6: the rollback must be at least 12 search
    # epochs past it, epoch 18; with the paper's warm-up of 10, start 10 means a rollback from epoch 20 on.
    history = step_history(7, 60, 23)
    assert curvature_stop(history, RULE.model_copy(update={"start": 12})).rollback == 17  # counted from 0
    stop = curvature_stop(history, RULE.model_copy(update={"start": 12}), warmup=6)
    assert stop is not None and stop.rollback == 18 and stop.detected == 24
    # a rise at epoch 19 rolls back to 13: 3 search epochs in, too early; counted from epoch 1 it passed
    assert curvature_stop(step_history(11, 80, 19), RULE, warmup=10) is None
    assert curvature_stop(step_history(11, 80, 19), RULE).rollback == 13
    assert curvature_stop(step_history(11, 80, 26), RULE, warmup=10).rollback == 20
    # replayed from the events: the warm-up is what precedes the first search epoch
    warm = [_end(e, 0.5, None).model_copy(update={"phase": "warmup"}) for e in range(1, 7)]
    ends = warm + [_end(e, 0.7, v) for e, v in history]
    replayed = replay_rules(ends, 3, 0.1, None, RULE.model_copy(update={"start": 12})).curvature
    assert replayed == curvature_stop(history, RULE.model_copy(update={"start": 12}), warmup=6) == stop


def test_every_second_epoch_counts_evaluations_not_epochs():
    # evaluations at 7, 9, 11, ...; the jump reaches the evaluation at epoch 27 (the 11th);
    # rollback: 2 + 4 evaluations before it = epoch 15
    stop = curvature_stop(step_history(7, 60, 26, every=2), RULE)
    assert stop is not None and (stop.detected, stop.rollback) == (27, 15)


def test_no_rise_no_stop_and_a_nonpositive_average_never_fires():
    assert curvature_stop([(e, 1.0 + 0.01 * e) for e in range(7, 60)], RULE) is None
    falling_then_rising = [(e, -1.0) for e in range(7, 20)] + [(e, 5.0) for e in range(20, 30)]
    stop = curvature_stop(falling_then_rising, RULE)
    # averages are <= 0 until the window holds positives; only a positive denominator compares
    assert stop is None or stop.rollback >= 20 - 4


def _end(epoch: int, p: float, curvature: float | None) -> EpochEnd:
    return EpochEnd(
        epoch=epoch,
        epochs=40,
        phase="search",
        train_loss=1.0,
        train_top1=0.5,
        lr=0.1,
        elapsed_s=1.0,
        alphas={"1": {"kernel": {"3": p, "5": 1 - p}}},
        curvature=curvature,
    )


def test_replay_over_recorded_epochs_gives_each_rules_epoch():
    # the leader holds from epoch 1 with margin 0.4 >= 0.1: settled after patience 3 epochs = epoch 3
    ends = [_end(e, 0.7, 1.0 if e < 17 else 3.0) for e in range(1, 31)]
    assert margin_converged(ends, 3, 0.1, None) == 3
    verdicts = replay_rules(ends, 3, 0.1, None, RULE)
    assert verdicts.margin == 3
    assert verdicts.curvature is not None and (verdicts.curvature.detected, verdicts.curvature.rollback) == (17, 11)
    assert (verdicts.epoch_for("margin"), verdicts.epoch_for("curvature"), verdicts.epoch_for("none")) == (3, 11, 30)


@pytest.mark.slow
def test_the_curvature_rule_stops_a_degrading_search_and_derives_at_its_rollback_epoch(synthetic, start, monkeypatch):
    """The rule's wiring end to end: a real search whose probe measures for real, but whose measured values
    are replaced by a series that degrades (flat for five evaluations, then four times higher), so that the
    rule fires at a known evaluation whatever this machine's arithmetic makes of a short random-label
    search (whether such a search degrades within 10 epochs is a draw: it did on one machine, not on
    another). The rule's start is lowered to 1 so that it can fire within a test's epochs; window, factor
    and delta keep R-DARTS's values; the search has 12 epochs, so a stop at the detection epoch ends it early."""
    import json

    import core.train.curvature as curvature_module
    from core.api.derive import derive
    from core.run.events import SearchStopped, StopReason

    real = curvature_module.largest_eigenvalue
    series = iter([1.0] * 5 + [4.0] * 20)

    def degrading(*args, **kwargs):
        real(*args, **kwargs)  # the probe's own computation runs, as in any search
        return next(series)

    monkeypatch.setattr(curvature_module, "largest_eigenvalue", degrading)
    cfg = synthetic(epochs=12, arch_lr=0.05, stop_rule="curvature", curvature={"start": 1, "images": 16})
    runner, run, seen = start(cfg, retrain=False)
    assert runner.wait(1200).status == "done"
    ends = [e for e in seen if isinstance(e, EpochEnd)]
    history = [(e.epoch, e.curvature) for e in ends if e.curvature is not None]
    expected = curvature_stop(history, cfg.search.curvature, cfg.search.warmup_epochs)
    assert expected is not None, [e.curvature for e in ends]  # it fired...
    stopped = next(e for e in seen if isinstance(e, SearchStopped))
    # ...at its detection epoch, where the search ended, with the architecture from the rollback epoch
    assert stopped.reason == StopReason.CURVATURE and stopped.epoch == expected.detected == ends[-1].epoch
    assert ends[-1].epoch < cfg.search.epochs  # the rule ended the search early
    assert stopped.architecture_epoch == expected.rollback < expected.detected
    summary = json.loads(run.summary_file.read_text())["search"]
    assert summary["stop_rule"] == {
        "rule": "curvature",
        "fired": True,
        "fired_at": expected.detected,
        "architecture_epoch": expected.rollback,
    }
    assert summary["rules"]["curvature"] == expected.as_dict()
    saved = json.loads(run.arch_file.read_text())
    assert saved["blocks"] == derive(run, expected.rollback).model_dump(mode="json")["blocks"]
    assert saved["source"]["epoch"] == expected.rollback
