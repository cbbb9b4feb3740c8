"""Search and retrain loops: learning, stop control, pause, checkpoints, resume."""

from __future__ import annotations

import json
import threading

import pytest

from core.api.derive import derive as derive_at
from core.run.control import Control, ControlState, write_control
from core.run.events import EpochEnd, EventBus, SearchStopped, read_events
from core.space.arch import load_arch
from core.train.job import Job

pytestmark = pytest.mark.slow  # every test here trains a (tiny) network for real


def kinds(events, kind):
    return [e for e in events if e.kind == kind]


def test_digits_search_moves_alphas_and_retrain_learns(tiny, start):
    cfg = tiny(retrain={"epochs": 3})
    runner, run, seen = start(cfg)
    result = runner.wait(300)
    assert result is not None and result.status == "done", result and result.message
    history = run.epoch_history()
    assert [h.epoch for h in history] == [1, 2, 3]
    last = history[-1].alphas
    drift = max(abs(p - 1 / len(probs)) for block in last.values() for probs in block.values() for p in probs.values())
    assert drift > 0.1, last  # alphas left uniform
    summary = json.loads(run.summary_file.read_text())
    assert summary["search"]["epochs"] == 3 and summary["search"]["stop_reason"] == "completed"
    assert summary["retrain"]["test_top1"] > 0.5  # chance is 0.1
    assert summary["params"] == load_arch(run.arch_file).build().fc.in_features * 10 + 10 + sum(
        p.numel() for n, p in load_arch(run.arch_file).build().named_parameters() if not n.startswith("fc")
    )
    assert (run.weights / "last.pt").exists() and not (run.weights / "best.pt").exists()  # none picked on test data
    assert "best_top1" not in summary["retrain"]
    order = [e.kind for e in read_events(run.events_file)]
    for kind in (
        "search_started",
        "epoch_end",
        "alphas",
        "search_stopped",
        "architecture",
        "retrain_started",
        "retrain_epoch_end",
        "retrain_done",
    ):
        assert kind in order
    assert order.index("search_stopped") < order.index("architecture") < order.index("retrain_started")
    # validation every epoch, the test set once, at the end (nothing is chosen on it)
    ends = kinds(read_events(run.events_file), "retrain_epoch_end")
    assert [e.epoch for e in ends] == [1, 2, 3]
    assert all(e.val_top1 is not None and e.val_loss is not None and e.test_top1 is None for e in ends)
    (done,) = kinds(read_events(run.events_file), "retrain_done")
    assert summary["retrain"]["test_top1"] == done.test_top1 and summary["retrain"]["val_top1"] == ends[-1].val_top1


def test_stop_at_epoch_from_config_gives_exactly_n_epochs(synthetic, start):
    runner, run, _ = start(synthetic(stop_at_epoch=2))
    assert runner.wait(120).status == "done"
    assert [h.epoch for h in run.epoch_history()] == [1, 2]
    assert len(kinds(read_events(run.events_file), "epoch_end")) == 2
    summary = run.summary()
    assert summary["search"] == {**summary["search"], "epochs": 2, "stop_reason": "user"}


def test_stop_now_mid_epoch_derives_from_live_alphas_and_retrains(synthetic, start):
    fired = threading.Event()

    def on_event(e, control, run):
        if e.kind == "alphas" and e.epoch == 3 and not fired.is_set():
            fired.set()
            control.request_stop()

    runner, run, seen = start(synthetic(alphas_every=1), on_event)
    result = runner.wait(120)
    assert result.status == "done" and result.search.reason == "user"
    assert result.search.epoch == 2  # epoch 3 was cut short
    assert result.retrain is not None and result.retrain.epochs == 1  # the stop did not leak into the retrain
    assert kinds(seen, "alphas")[-1].alphas == result.search.alphas


def test_stop_at_epoch_through_the_control_file(synthetic, start):
    def on_event(e, control, run):  # as `presnet stop --at-epoch 2` from another process
        if e.kind == "search_started":
            write_control(run.control_file, ControlState(stop_at_epoch=2))

    runner, run, _ = start(synthetic(), on_event)
    assert runner.wait(120).status == "done"
    assert [h.epoch for h in run.epoch_history()] == [1, 2]


def test_pause_and_resume(synthetic, start):
    paused = threading.Event()

    def on_event(e, control, run):
        if e.kind == "epoch_end" and e.epoch == 1:
            control.pause()
        if e.kind == "state" and e.state == "paused":
            paused.set()

    runner, run, seen = start(synthetic(), on_event)
    assert paused.wait(60)
    epochs_while_paused = len(run.epoch_history())
    assert runner.wait(0.5) is None  # still paused, not finished
    assert len(run.epoch_history()) == epochs_while_paused
    runner.control.cont()
    assert runner.wait(120).status == "done"
    states = [e.state for e in kinds(seen, "state")]
    assert states == ["paused", "running"]
    assert len(run.epoch_history()) == 4


def test_interrupt_then_resume_is_identical_to_an_uninterrupted_run(synthetic, start, tmp_path):
    straight = synthetic()
    straight.run.out = tmp_path / "straight"
    runner, straight_run, _ = start(straight)
    assert runner.wait(120).status == "done"

    fired = threading.Event()

    def on_event(e, control, run):
        if e.kind == "alphas" and e.epoch == 3 and not fired.is_set():
            fired.set()
            control.interrupt()

    cut = synthetic(alphas_every=1)
    cut.run.out = tmp_path / "interrupted"
    runner, run, _ = start(cut, on_event)
    result = runner.wait(120)
    assert result.status == "interrupted"
    assert [h.epoch for h in run.epoch_history()] == [1, 2]
    runner, run, _ = start(cut, resume=True)
    assert runner.wait(120).status == "done"
    lines = [e for e in read_events(run.events_file) if e.kind == "epoch_end"]
    assert [e.epoch for e in lines] == [1, 2, 3, 4]  # no duplicate, none missing
    straight_alphas = [h.alphas for h in straight_run.epoch_history()]
    assert [h.alphas for h in run.epoch_history()] == straight_alphas


def test_derive_at_any_past_epoch(synthetic, start):
    """derive --epoch E against the raw alphas the search held at the end of epoch E (read from
    that epoch's checkpoint, not from the event file derive reads), kernel and activation; and the
    last epoch's derive is the architecture the search itself wrote (one rule)."""
    import torch

    raw: dict[int, dict[str, torch.Tensor]] = {}

    def on_event(e, control, run):
        # epoch_end E is emitted before epoch E's checkpoint: the file on disk is epoch E-1's
        if isinstance(e, EpochEnd | SearchStopped) and run.search_ckpt.exists():
            payload = torch.load(run.search_ckpt, map_location="cpu", weights_only=True)
            model = payload["model"]
            raw[payload["epoch_done"]] = {d: model[f"alpha_{d}"].clone() for d in ("kernel", "activation")}

    cfg = synthetic(arch_lr=0.5)
    cfg.space.activations = ["relu", "leakyrelu", "mish", "silu"]
    runner, run, _ = start(cfg, on_event)
    assert runner.wait(120).status == "done"
    space = cfg.search_space()
    history = run.epoch_history()
    assert sorted(raw) == [h.epoch for h in history]
    for h in history:
        arch = derive_at(run, h.epoch)
        assert arch.source["epoch"] == h.epoch
        for row, block in enumerate(space.block_ids):
            k = space.kernels[int(raw[h.epoch]["kernel"][row].argmax())]
            a = space.activations[int(raw[h.epoch]["activation"][row].argmax())]
            assert (arch.blocks[block].kernel, arch.blocks[block].activation) == (k, a), (h.epoch, block)
    derived = {h.epoch: derive_at(run, h.epoch).blocks for h in history}
    assert len({json.dumps({b: c.model_dump() for b, c in d.items()}) for d in derived.values()}) > 1  # moved
    assert load_arch(run.arch_file).blocks == derived[history[-1].epoch]


def test_non_finite_loss_stops_with_error_and_keeps_last_checkpoint(synthetic, start):
    runner, run, seen = start(synthetic(lr=1e30, warmup_epochs=0))
    result = runner.wait(120)
    assert result.status == "error" and "non-finite" in result.message
    stopped = kinds(seen, "search_stopped")
    assert stopped and stopped[-1].reason == "error"
    assert "step" in kinds(seen, "error")[-1].message


def test_a_stopped_search_does_not_stop_the_retrain_started_after_it(synthetic, start):
    """The TUI's flow: a search-only job stopped by the user, then a retrain job in the same run."""

    def on_event(e, control, run):
        if e.kind == "epoch_end" and e.epoch == 2:
            control.request_stop()

    cfg = synthetic()
    cfg.retrain.epochs = 2
    runner, run, _ = start(cfg, on_event, retrain=False)
    assert runner.wait(120).search.reason == "user"
    assert '"stop": true' in run.control_file.read_text()
    job = Job(cfg, run, EventBus(), Control(), search=False, arch=derive_at(run, 1))
    result = job.run()
    assert result.status == "done" and result.retrain.epochs == 2 and not result.retrain.stopped
