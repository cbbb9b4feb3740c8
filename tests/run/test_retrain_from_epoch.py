"""A retrain from a past epoch's architecture (the TUI's derive-then-retrain) writes that architecture to
its own file and trains it; the search's own result -- arch.json and summary.json's architecture -- is
left as the search wrote it (issue 39: the run's own result is never overwritten)."""

from __future__ import annotations

import json

import pytest

from core.api.derive import derive as derive_at
from core.export import run_architecture
from core.run.control import Control
from core.run.events import EventBus, RetrainDone, RetrainStarted
from core.space.arch import Architecture, BlockArch, load_arch
from core.train.job import Job
from core.train.runner import Runner


def other_network(arch: Architecture, final: Architecture) -> Architecture:
    """``arch`` itself if it differs from the search's result, else with one block's kernel changed:
    the test needs an epoch whose network is not the final one (a tiny search may agree at both)."""
    if not arch.same_network(final):
        return arch
    block, choice = next(iter(arch.blocks.items()))
    kernel = 5 if choice.kernel == 3 else 3
    return arch.model_copy(
        update={"blocks": {**arch.blocks, block: BlockArch(kernel=kernel, activation=choice.activation)}}
    )


@pytest.mark.slow
def test_retrain_from_a_past_epoch_keeps_the_search_result_and_trains_its_own_file(synthetic, start):
    cfg = synthetic(epochs=3, alphas_every=1)
    runner, run, _ = start(cfg, retrain=False)
    assert runner.wait(120).status == "done"
    arch_bytes, summary_before = run.arch_file.read_bytes(), run.summary()
    final = load_arch(run.arch_file)
    past = other_network(derive_at(run, 2), final)  # the search ended at epoch 3; the user picks epoch 2
    assert past.source is not None and past.source["epoch"] == 2
    seen: dict[str, object] = {}

    def look(event):
        if isinstance(event, RetrainStarted):
            seen["file_at_start"] = run.retrain_arch_file
        if isinstance(event, RetrainDone):
            seen["summary_at_done"] = run.summary()

    bus = EventBus()
    bus.subscribe(look)
    result = Runner(Job(cfg, run, bus, Control(), search=False, arch=past).prepare()).start().wait(120)
    assert result is not None and result.status == "done", result and result.message
    own = run.path / "arch-epoch2.json"
    assert seen["file_at_start"] == own and load_arch(own).same_network(past)  # trained from its own file
    assert run.arch_file.read_bytes() == arch_bytes  # the search's arch.json, byte for byte
    after = run.summary()
    assert after.architecture == summary_before.architecture == json.loads(arch_bytes)
    assert after.params == summary_before.params and after.search == summary_before.search
    assert after.retrain is not None and after.retrain.arch_file == "arch-epoch2.json"
    assert after.retrain.params == sum(p.numel() for p in past.build().parameters())
    assert run_architecture(run).same_network(past)  # export builds the network the weights are of
    # the closing event comes after the summary's retrain section (a reader trusting it finds it whole)
    done = seen["summary_at_done"]
    assert done.retrain is not None and done.retrain.test_top1 == after.retrain.test_top1
