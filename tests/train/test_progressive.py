"""Progressive search: freezing and widening the network in place, the stage controller's boundaries,
the optimizers after a freeze, the architecture of every stage reached, derive at an epoch."""

from __future__ import annotations

import json

import pytest
import torch

from core.api.derive import derive as derive_at
from core.config import ConfigError, load_config
from core.errors import PresnetError
from core.run.events import read_events
from core.run.rundir import RunDir
from core.space import SearchSpace, validate_progressive
from core.space.network import NetSpec, SearchNet
from core.space.progressive import add_search_blocks, freeze_decisions
from core.space.proxyless import Mode, PathSampler
from core.train.convergence import ConvergenceTracker
from core.train.device import Precision
from core.train.loop import sgd
from core.train.progressive import refit_optimizers
from core.train.step import arch_step, grad_scaler, train_step
from tests.conftest import SYNTHETIC_DATA

SPEC = NetSpec(width_mult=0.125, depths=(1, 1, 2, 1))  # ids: 1 (stage 4), 2-3 (stage 3), 4 (stage 2), 5 (stage 1)


def _net(active: list[int]) -> SearchNet:
    torch.manual_seed(0)
    return SearchNet(SPEC, SearchSpace.build("m", depths=SPEC.depths), active)


def _prec() -> Precision:
    from core.config import RunConfig
    from core.train.device import precision_for

    return precision_for(RunConfig(device="cpu"), torch.device("cpu"))


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g)


# -- the network side -------------------------------------------------------------------------------
def test_a_plain_block_turned_search_block_keeps_its_function_on_the_3x3_relu_path():
    net = _net([1]).eval()
    x, _ = _batch()
    before = net(x)
    plain = dict(net.net.layer3[0].named_parameters())  # block 3 (stage 3's first)
    add_search_blocks(net, [2, 3])
    assert net.rows == {"kernel": [1, 2, 3], "activation": [1, 2, 3]}
    net.set_fixed({"kernel": [0, 0, 0], "activation": [0, 0, 0]})  # 3x3 / relu everywhere
    assert torch.equal(net(x), before)
    block = net.net.layer3[0]
    assert block.kernel.candidates[0][0].weight is plain["conv2.weight"]  # the trained conv, not a copy
    assert block.conv1.weight is plain["conv1.weight"]
    net.set_fixed({"kernel": [0, 1, 1], "activation": [0, 0, 0]})  # a fresh 5x5 candidate: another function
    assert not torch.allclose(net(x), before)


def test_freezing_keeps_the_chosen_weights_and_drops_the_rest_from_model_and_both_optimizers():
    net = _net([1, 2, 3]).train()
    prec = _prec()
    w_opt = sgd(net.weight_parameters(), 0.05, 0.9, True, 4e-5)
    a_opt = torch.optim.Adam(net.arch_parameters(), lr=0.1, betas=(0.0, 0.999))
    sampler = PathSampler(0)
    x, y = _batch()
    for _ in range(3):  # momentum and Adam state everywhere
        net.sample_weight_paths(sampler, uniform=True)
        train_step(net, w_opt, grad_scaler(prec), prec, x, y)
        arch_step(net, sampler, Mode.TWO_PATH, a_opt, grad_scaler(prec), prec, x, y)
    block = net.net.layer3[0]  # block 3
    chosen, dropped = block.kernel.candidates[1], block.kernel.candidates[0]
    chosen_values = {n: p.detach().clone() for n, p in chosen.named_parameters()}
    activation_row = net.alpha_activation.detach()[net.rows["activation"].index(3)].clone()

    freeze_decisions(net, {3: {"kernel": "5"}, 1: {"kernel": "3", "activation": "mish"}})
    refit_optimizers(net, w_opt, a_opt)

    assert net.rows == {"kernel": [2], "activation": [2, 3]}
    assert tuple(net.alpha_kernel.shape) == (1, 2) and tuple(net.alpha_activation.shape) == (2, 3)
    assert torch.equal(net.alpha_activation.detach()[1], activation_row)  # an open row keeps its alphas
    a_params = a_opt.param_groups[0]["params"]
    assert [id(p) for p in a_params] == [id(p) for p in net.arch_parameters()] and not a_opt.state
    w_ids = {id(p) for p in w_opt.param_groups[0]["params"]}
    model_ids = {id(p) for p in net.parameters()}
    for n, p in chosen.named_parameters():  # the same tensors, unchanged, their momentum kept
        assert id(p) in w_ids and id(p) in model_ids and torch.equal(p.detach(), chosen_values[n])
        assert p in w_opt.state
    for p in dropped.parameters():
        assert id(p) not in w_ids and id(p) not in model_ids and p not in w_opt.state
    assert block.kernel is chosen and not any(m is dropped for m in net.modules())
    # and the search goes on: a weight step and an architecture step on the smaller network
    net.sample_weight_paths(sampler)
    train_step(net, w_opt, grad_scaler(prec), prec, x, y)
    arch_step(net, sampler, Mode.TWO_PATH, a_opt, grad_scaler(prec), prec, x, y)
    assert set(net.probabilities()) == {2, 3} and set(net.probabilities()[3]) == {"activation"}


# -- configuration ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"search.progressive": "m,s"}, "does not contain and widen"),
        ({"search.progressive": "13;10,11,12,13"}, "deeper than stage 1"),
        ({"search.progressive": "s"}, "at least two stages"),
        ({"search.progressive": "s,m", "search.stage_epochs": [1, 2, 3]}, "3 budgets for 2 stages"),
        ({"search.progressive": "s,m", "space.scope": "m"}, "conflicts with search.progressive"),
        ({"search.progressive": "s,m", "search.cost": {"target": 1e6}}, "cost-aware progressive"),
    ],
)
def test_bad_progressive_settings_are_refused_with_the_field_named(overrides, words):
    overrides = {"space.scope": "progressive", **overrides} if "search.progressive" in overrides else overrides
    with pytest.raises(ConfigError) as err:
        load_config(None, overrides)
    assert words in str(err.value)


def test_progressive_alone_means_s_m_l_f_and_stages_are_nested_block_lists():
    cfg = load_config(None, {"space.scope": "progressive"})
    assert cfg.search.progressive == ["s", "m", "l", "f"]
    stages = cfg.progressive_stages()
    assert stages is not None and [len(s) for s in stages] == [3, 9, 13, 16]
    assert cfg.search_space().block_ids == tuple(stages[-1])
    assert validate_progressive("10,11;10,11,12") == [[10, 11], [10, 11, 12]]
    with pytest.raises(PresnetError):
        validate_progressive("s,progressive")


# -- the stage controller in a real (tiny) search -----------------------------------------------------
@pytest.fixture
def progressive(tiny):
    """``progressive(epochs, **search)``: the tiny network on synthetic images, stages s then m."""

    def make(epochs: int, **search):
        search = {"epochs": epochs, "warmup_epochs": 1, "progressive": ["s", "m"], **search}
        return tiny(space={"scope": "progressive"}, data=SYNTHETIC_DATA, search=search, retrain={"epochs": 1})

    return make


def _events(run_dir):
    return read_events(RunDir.open(run_dir).events_file)


def _expected_end(epoch_ends, start: int, warmup: int, budget: int | None, patience: int, margin: float) -> int:
    """Where the stop criterion (fed this stage's search epochs afresh) or the budget ends a stage."""
    tracker = ConvergenceTracker(patience, margin)
    for e in (e for e in epoch_ends if e.epoch >= start):
        if e.epoch >= start + warmup:
            tracker.update(e.epoch, e.alphas)
            if all(tracker.settled(int(b), d) for b, ds in e.alphas.items() for d in ds):
                return e.epoch
        if budget is not None and e.epoch - start + 1 >= budget:
            return e.epoch
    raise AssertionError("the stage never ended")


@pytest.mark.slow
@pytest.mark.parametrize("margin, patience, why", [(0.0, 1, "settled"), (1.0, 2, "budget")])
def test_stage_boundaries_fall_where_the_criterion_or_the_budget_says(progressive, start, margin, patience, why):
    cfg = progressive(7, stage_epochs=3, stage_warmup_epochs=1, patience=patience, margin=margin)
    runner, run, seen = start(cfg)
    assert runner.wait().status == "done"
    epoch_ends = [e for e in seen if e.kind == "epoch_end"]
    starts = [e for e in seen if e.kind == "stage_start"]
    ends = [e for e in seen if e.kind == "stage_end"]
    assert [(e.stage, e.blocks, e.new_blocks) for e in starts] == [(1, [1], [1]), (2, [1, 2, 3], [2, 3])]
    end1 = _expected_end(epoch_ends, 1, 1, 3, patience, margin)
    assert ends[0].epoch == end1 and ends[0].reason == why and starts[1].epoch == end1 + 1
    end2 = _expected_end(epoch_ends, end1 + 1, 1, 3, patience, margin)
    assert ends[1].epoch == end2 and ends[1].reason == why
    stopped = next(e for e in seen if e.kind == "search_stopped")
    assert stopped.epoch == end2 and stopped.reason == ("converged" if why == "settled" else "completed")
    # what each stage froze is the argmax of its last epoch; a never-settled stage freezes nothing
    if why == "settled":
        assert ends[0].frozen == {
            "1": {
                "kernel": _top(epoch_ends, end1, "1", "kernel"),
                "activation": _top(epoch_ends, end1, "1", "activation"),
            }
        }
        later = [e for e in epoch_ends if e.epoch > end1]
        assert later and all("1" not in e.alphas for e in later)  # frozen: gone from the alphas
    else:
        assert ends[0].frozen == {} and ends[0].open == [1]
    summary = json.loads((run.path / "summary.json").read_text())
    assert [s["last_epoch"] for s in summary["search"]["stages"]] == [end1, end2]
    ckpt = torch.load(run.search_ckpt, weights_only=False)
    open_kernel_rows = 0 if why == "settled" else 3
    assert ckpt["model"]["alpha_kernel"].shape[0] == open_kernel_rows


def _top(epoch_ends, epoch: int, block: str, decision: str) -> str:
    probs = next(e for e in epoch_ends if e.epoch == epoch).alphas[block][decision]
    return max(probs, key=lambda c: probs[c])


@pytest.mark.slow
@pytest.mark.parametrize("epochs, blocks", [(2, [1]), (4, [1, 2, 3])])
def test_the_architecture_covers_every_block_of_every_stage_reached(progressive, start, epochs, blocks):
    cfg = progressive(epochs, stage_epochs=2, margin=1.0)
    runner, run, seen = start(cfg, retrain=False)
    assert runner.wait().status == "done"
    arch = json.loads(run.arch_file.read_text())
    assert sorted(int(b) for b in arch["blocks"]) == blocks
    # derive at an epoch agrees with the search's own derive at its last epoch, and sees only stages reached
    assert derive_at(run, epochs).blocks == {int(b): v for b, v in derive_at(run).blocks.items()}
    assert sorted(derive_at(run, 1).blocks) == [1]
    if epochs == 4:
        assert [e.reason for e in seen if e.kind == "stage_end"] == ["budget", "budget"]


@pytest.mark.slow
def test_derive_at_an_epoch_includes_the_choices_frozen_by_then(progressive, start):
    cfg = progressive(5, stage_epochs=3, patience=1, margin=0.0)
    runner, run, seen = start(cfg, retrain=False)
    assert runner.wait().status == "done"
    end1 = next(e for e in seen if e.kind == "stage_end")
    assert end1.frozen["1"]  # block 1 froze at the end of stage 1
    later = derive_at(run, end1.epoch + 1)
    frozen = end1.frozen["1"]
    assert str(later.blocks[1].kernel) == frozen["kernel"] and later.blocks[1].activation == frozen["activation"]
    assert sorted(later.blocks) == [1, 2, 3]


@pytest.mark.slow
@pytest.mark.parametrize("margin, patience", [(0.0, 2), (0.02, 1)])
def test_settled_counts_every_decision_ever_searched_and_the_replay_matches_live_epoch_by_epoch(
    progressive, start, margin, patience
):
    """Stage 1 searches block 1 (2 decisions), stage 2 adds blocks 2-3: 6 decisions ever searched, the
    frozen ones included. A derive's replay resets the criterion at each stage end exactly as the live
    search does: its settled map equals the live ``epoch_end``'s at every epoch."""
    from core.api.derive import confidence_at, snapshots_of_run
    from core.train.convergence import replay

    cfg = progressive(7, stage_epochs=3, stage_warmup_epochs=1, patience=patience, margin=margin)
    runner, run, seen = start(cfg, retrain=False)
    assert runner.wait().status == "done"
    summary = json.loads(run.summary_file.read_text())["search"]
    assert summary["decisions_total"] == 6 and 0 < summary["settled"] <= 6
    assert [d["block"] for d in summary["decisions"]] == [1, 1, 2, 2, 3, 3]
    snaps = snapshots_of_run(run)
    history = [snaps.history[k] for k in sorted(snaps.history)]
    live = {e.epoch: e.settled for e in seen if e.kind == "epoch_end"}
    s = cfg.search
    for i, e in enumerate(history):
        judged = replay(history[: i + 1], s.patience, s.margin, s.threshold, snaps.stage_ends)
        assert judged.tracker.settled_map() == live[e.epoch], f"epoch {e.epoch}"
    final = confidence_at(snaps, history[-1].epoch)  # the derive at the last epoch says what the search said
    assert (final.settled, final.total) == (summary["settled"], summary["decisions_total"])
    assert [d.as_dict() for d in final.decisions] == summary["decisions"]
