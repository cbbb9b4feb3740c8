"""The stop criterion on synthetic alpha trajectories, and auto_stop on a real (tiny) search."""

from __future__ import annotations

from core.run.control import Control
from core.run.events import EventBus
from core.train.convergence import ConvergenceTracker, snapshot_change, total_variation
from core.train.search_loop import SearchEngine


def kernel(p5: float) -> dict:
    """One block, one 2-way kernel decision with P(5x5) = p5."""
    return {"1": {"kernel": {"3": round(1 - p5, 6), "5": p5}}}


def run(tracker: ConvergenceTracker, trajectory: list[float]):
    return [tracker.update(epoch, kernel(p)) for epoch, p in enumerate(trajectory, start=1)]


def test_a_clear_leader_settles_after_patience_epochs():
    tracker = ConvergenceTracker(patience=3, margin=0.2)
    verdicts = run(tracker, [0.7, 0.75, 0.8, 0.8])
    assert [v.converged_now for v in verdicts] == [False, False, True, False]  # once, at epoch 3
    assert tracker.settled(1, "kernel") and tracker.converged


def test_51_49_is_not_settled_however_long_it_holds():
    tracker = ConvergenceTracker(patience=3, margin=0.1)
    verdicts = run(tracker, [0.51] * 20)
    assert not tracker.settled(1, "kernel") and not tracker.converged
    assert not any(v.converged_now for v in verdicts)


def test_a_settled_decision_that_flips_is_unstable():
    tracker = ConvergenceTracker(patience=2, margin=0.2)
    verdicts = run(tracker, [0.8, 0.8, 0.8, 0.3])
    assert verdicts[-1].unstable == [(1, "kernel", "5", "3", "flip")]
    assert not tracker.settled(1, "kernel") and not tracker.converged


def test_a_settled_decision_that_loses_its_margin_is_unstable():
    tracker = ConvergenceTracker(patience=2, margin=0.2)
    verdicts = run(tracker, [0.8, 0.8, 0.55, 0.55])
    assert verdicts[2].unstable == [(1, "kernel", "5", "5", "margin")]  # still the argmax, lead 0.1 < 0.2
    assert verdicts[3].unstable == []  # reported once, not every epoch it stays low
    assert not tracker.settled(1, "kernel")


def test_an_unsettled_flip_is_not_unstable():
    tracker = ConvergenceTracker(patience=5, margin=0.1)
    verdicts = run(tracker, [0.8, 0.3, 0.8])
    assert all(v.unstable == [] for v in verdicts)


def test_margin_works_for_many_candidates():
    tracker = ConvergenceTracker(patience=1, margin=0.1)
    acts = {"relu": 0.40, "leakyrelu": 0.35, "mish": 0.25}  # leader well above 1/3, but not 0.1 ahead
    tracker.update(1, {"1": {"activation": acts}})
    assert not tracker.settled(1, "activation")
    tracker.update(2, {"1": {"activation": {"relu": 0.45, "leakyrelu": 0.30, "mish": 0.25}}})
    assert tracker.settled(1, "activation")


def test_state_round_trip_keeps_the_verdicts():
    a = ConvergenceTracker(patience=2, margin=0.2)
    run(a, [0.8, 0.8])
    b = ConvergenceTracker(patience=2, margin=0.2)
    b.load_state_dict(a.state_dict())
    assert b.update(3, kernel(0.3)).unstable == [(1, "kernel", "5", "3", "flip")]


def test_total_variation():
    assert abs(total_variation({"3": 0.5, "5": 0.5}, {"3": 0.2, "5": 0.8}) - 0.3) < 1e-12
    change = snapshot_change(kernel(0.5), kernel(0.9))
    assert abs(change["1"]["kernel"] - 0.4) < 1e-9
    assert snapshot_change(None, kernel(0.9)) == {}


def test_auto_stop_stops_a_real_search_once_every_decision_settles(tiny, tmp_path):
    cfg = tiny(
        data={"dataset": "synthetic", "synthetic_size": 96, "batch_size": 16},
        search={"epochs": 5, "warmup_epochs": 1, "patience": 1, "margin": 0.0, "auto_stop": True},
    )
    bus = EventBus()
    seen = []
    bus.subscribe(seen.append)
    outcome = SearchEngine(cfg, bus, Control(), tmp_path / "s.pt", lambda: 0).run()
    assert outcome.reason == "converged" and outcome.epoch == 2  # first search epoch after the warm-up
    assert [e.epoch for e in seen if e.kind == "converged"] == [2]
    ends = [e for e in seen if e.kind == "epoch_end"]
    assert ends[0].alpha_change == {} and set(ends[1].alpha_change) == {str(b) for b in outcome.alphas}
    assert max(v for b in ends[1].alpha_change.values() for v in b.values()) > 0  # the alphas moved


def test_a_lead_exactly_at_the_margin_settles():
    """gap == margin (0.75 - 0.25 = 0.5, exact in binary floating point): the margin is a floor, met."""
    tracker = ConvergenceTracker(patience=1, margin=0.5)
    tracker.update(1, kernel(0.75))
    assert tracker.settled(1, "kernel")
    below = ConvergenceTracker(patience=1, margin=0.5 + 1e-9)
    below.update(1, kernel(0.75))
    assert not below.settled(1, "kernel")
