"""The perturbation readout: every decision pinned to every candidate, averaged over its batches by
image, invisible to the search; and the schedule that holds the probes within their time budget."""

from __future__ import annotations

import json

import pytest
import torch

from core.run.events import EpochEnd, SpaceWarning
from core.run.readout import DecisionReadout, PerturbationReadout, PinnedScore
from core.train.checkpoints import ProbeSection
from core.train.loop import LoopContext
from core.train.perturbation import forward_passes, readout, score
from core.train.probes import ProbeClock, ProbeSchedule
from core.train.search_loop import SearchEngine
from core.train.seeds import stream


def _engine(cfg, tmp_path):
    from core.run.control import Control
    from core.run.events import EventBus

    return SearchEngine(LoopContext(cfg, EventBus(), Control(), tmp_path / "ckpt.pt", lambda: 0))


def _scrambled(net):
    with torch.no_grad():  # alphas off zero, as after some architecture steps
        for a in net.arch_parameters():
            a.copy_(torch.randn(a.shape, generator=torch.Generator().manual_seed(1)))


def test_the_readout_pins_every_candidate_averages_by_image_and_touches_nothing(tiny, tmp_path):
    cfg = tiny(search={"perturbation": {"images": 40}})
    engine = _engine(cfg, tmp_path)
    net, probe = engine.net, engine.probes.perturbation
    assert probe is not None and probe.seed == stream(cfg.run.seed, "perturbation")
    assert [len(y) for _, y in probe.batches] == [32, 8]  # the subset spans two batches of unequal size
    _scrambled(net)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    out = probe.measure(net)
    after = net.state_dict()
    assert all(torch.equal(state[k], after[k]) for k in state)  # BatchNorm buffers included
    assert torch.equal(rng, torch.get_rng_state()) and all(p.grad is None for p in net.parameters())

    space = cfg.search_space()
    assert set(out.decisions) == {str(b) for b in space.block_ids}
    argmax = {d: a.argmax(1).tolist() for d, a in net.masked_alphas().items()}
    for d in net.decisions:
        for row, bid in enumerate(net.rows[d]):
            r = out.decisions[str(bid)][d]
            assert r.argmax == space.labels(d)[argmax[d][row]] and list(r.scores) == list(space.labels(d))
            assert r.scores[r.argmax] == PinnedScore(top1=out.top1, loss=out.loss)
    # one pinned candidate, re-scored batch by batch: the readout is the image-weighted mean of the two
    d, row = net.decisions[0], 0
    other = (argmax[d][row] + 1) % len(space.labels(d))
    pinned = {k: list(v) for k, v in argmax.items()}
    pinned[d][row] = other
    with torch.no_grad():
        from core.train.curvature import frozen_batchnorm

        with frozen_batchnorm(net):
            parts = [score(net, [b], pinned) for b in probe.batches]
    sizes = [len(y) for _, y in probe.batches]
    got = out.decisions[str(net.rows[d][row])][d].scores[space.labels(d)[other]]
    assert abs(got.top1 - sum(p.top1 * n for p, n in zip(parts, sizes)) / 40) < 1e-3
    assert abs(got.loss - sum(p.loss * n for p, n in zip(parts, sizes)) / 40) < 1e-5
    assert readout(net, probe.batches).decisions == out.decisions  # deterministic
    assert forward_passes(net) == 1 + sum(len(space.labels(d)) - 1 for d in net.decisions) * len(space.block_ids)


def test_choice_strength_and_agreement():
    def s(top1, loss=1.0):
        return PinnedScore(top1=top1, loss=loss)

    r = DecisionReadout(argmax="3", scores={"3": s(50), "5": s(62.5), "7": s(62.5, 0.9)})
    assert (r.choice, r.strength, r.agrees) == ("7", 12.5, False)  # a tie in accuracy goes to the lower loss
    tie = DecisionReadout(argmax="5", scores={"3": s(50), "5": s(50)})
    assert (tie.choice, tie.strength, tie.agrees) == ("5", 0.0, True)  # a full tie stays with the argmax
    read = PerturbationReadout(images=8, top1=50, loss=1, decisions={"10": {"kernel": r}, "11": {"kernel": tie}})
    assert read.disagreements() == [("10", "kernel", "3", "7")] and read.agreement() == (1, 2)
    alphas = {"10": {"kernel": {"3": 0.6, "5": 0.3, "7": 0.1}}, "11": {"kernel": {"3": 0.9, "5": 0.1}}}
    assert read.as_snapshot(alphas)["10"]["kernel"] == {"3": 0.0, "5": 0.0, "7": 1.0}


def test_the_budget_holds_a_probe_back_and_says_so_once():
    sched = ProbeSchedule(0.05, {"p": ProbeClock(every=1)})
    calls = []
    # no measurement yet: the estimate decides; 1 s against 10 s of work is 9 % > 5 %
    v = sched.due("p", 1, 10.0, lambda: calls.append(1) or 1.0)
    assert not v.run and v.announce and "past its budget of 5%" in v.announce and calls == [1]
    assert sched.due("p", 2, 10.0, lambda: 1.0).announce is None  # said once
    assert sched.due("p", 3, 30.0, lambda: 1.0).run  # 1 / 31 s: within 5 %
    sched.record("p", 1.0)
    assert not sched.due("p", 4, 30.0, lambda: 9.0).run  # 2 s of 32 s > 5 %: the measured cost counts
    assert sched.clocks["p"].skipped == 3
    every = ProbeSchedule(1.0, {"p": ProbeClock(every=3)})
    assert [every.due("p", k, 1.0, lambda: 0.0).run for k in range(1, 8)] == [1, 0, 0, 1, 0, 0, 1]
    exempt = ProbeSchedule(0.01, {"p": ProbeClock(every=1, exempt=True)})
    assert exempt.due("p", 1, 0.0, lambda: 100.0).run
    copy = ProbeSchedule(0.05, {"p": ProbeClock(every=1)})
    copy.load_state_dict(sched.state_dict())
    assert copy.clocks == sched.clocks


def test_the_probes_part_keeps_its_account_and_readouts_across_a_checkpoint(tiny, tmp_path):
    engine = _engine(tiny(search={"perturbation": {"images": 24}, "probe_budget": 1.0}), tmp_path)
    probes = engine.probes
    _scrambled(engine.net)
    probed = probes.after_epoch(engine.net, 2, "search", 10.0)
    assert probed.perturbation is not None and probed.curvature is not None and not probed.warnings
    assert probes.after_epoch(engine.net, 1, "warmup", 11.0).perturbation is None  # warm-up: nothing
    state = probes.state_dict()
    again = _engine(tiny(search={"perturbation": {"images": 24}, "probe_budget": 1.0}), tmp_path / "b").probes
    again.load_state_dict(state)
    assert again.readouts == probes.readouts and again.curvatures == probes.curvatures
    assert again.schedule.clocks == probes.schedule.clocks and again.search_epochs == 1
    assert again.readout_for(5) == (2, probed.perturbation) and again.readout_for(1) is None
    again.load_state_dict(
        ProbeSection.of({"search_epochs": 3, "curvatures": [[4, 0.5]]})
    )  # an older checkpoint's rules
    assert again.curvatures == [(4, 0.5)] and again.readouts == {}


def _final_state(run):
    return torch.load(run.search_ckpt, weights_only=False)["model"]


@pytest.mark.slow
def test_the_probes_on_leave_the_search_bit_identical(synthetic, start, tmp_path):
    on = synthetic(epochs=4, probe_budget=1.0, perturbation={"images": 24})
    off = synthetic(epochs=4)
    on.run.out, off.run.out = tmp_path / "on", tmp_path / "off"
    off.search.perturbation.enabled = False
    off.search.curvature.enabled = False
    states, ends = [], []
    for cfg in (on, off):
        runner, run, seen = start(cfg, retrain=False)
        assert runner.wait(600).status == "done"
        states.append(_final_state(run))
        ends.append([e for e in seen if isinstance(e, EpochEnd)])
    a, b = states
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # weights, alphas, BN buffers
    assert [e.alphas for e in ends[0]] == [e.alphas for e in ends[1]]
    read = [e.perturbation for e in ends[0]]
    assert read[0] is None and all(r is not None and r.images == 24 for r in read[1:])  # each search epoch
    assert all(e.perturbation is None for e in ends[1])
    summary = json.loads((tmp_path / "on" / "summary.json").read_text())
    assert [row[0] for row in summary["search"]["perturbation"]["agreement"]] == [2, 3, 4]
    assert summary["search"]["probes"]["perturbation"]["runs"] == 3


@pytest.mark.slow
def test_a_tight_budget_runs_the_readout_less_often_and_says_so(synthetic, start, tmp_path):
    cfg = synthetic(epochs=4, probe_budget=0.001)
    runner, run, seen = start(cfg, retrain=False)
    assert runner.wait(600).status == "done"
    warned = [e for e in seen if isinstance(e, SpaceWarning) and e.where == "search.probe_budget"]
    assert {w.message.split()[1] for w in warned} == {"curvature", "perturbation"}
    summary = json.loads(run.summary_file.read_text())
    probes = summary["search"]["probes"]
    assert all(p["skipped"] >= 1 for p in probes.values())


@pytest.mark.slow
def test_select_perturbation_takes_the_readouts_choices(synthetic, start, tmp_path):
    cfg = synthetic(epochs=3, select="perturbation", perturbation={"images": 24})
    runner, run, seen = start(cfg, retrain=False)
    assert runner.wait(600).status == "done"
    last = [e for e in seen if isinstance(e, EpochEnd)][-1]
    assert last.perturbation is not None  # exempt from the budget: the architecture is read from it
    arch = json.loads(run.arch_file.read_text())
    assert arch["source"]["select"] == "perturbation" and arch["source"]["readout_epoch"] == 3
    for block, decisions in last.perturbation.choices().items():
        got = arch["blocks"][block]
        assert str(got["kernel"]) == decisions["kernel"] and got["activation"] == decisions["activation"]
    # derive reads the same readout from the run's events, and says where the selections differ
    from typer.testing import CliRunner

    from core.api.derive import derive
    from presnet_tui.cli import app

    assert derive(run, select="perturbation").blocks == derive(run).blocks  # the run's search.select
    by_alpha = derive(run, select="alpha")
    assert "select" not in (by_alpha.source or {})
    result = CliRunner().invoke(app, ["derive", str(run.path), "--select", "perturbation"])
    assert result.exit_code == 0 and "by perturbation" in result.output
    assert last.perturbation.disagreement_line() in " ".join(result.output.split())
    differ = {b for b, *_ in last.perturbation.disagreements()}
    assert differ == {str(b) for b, a in by_alpha.blocks.items() if a != derive(run).blocks[b]}
    bad = CliRunner().invoke(app, ["derive", str(run.path), "--select", "votes"])
    assert bad.exit_code == 2 and "--select" in bad.output
    early = CliRunner().invoke(app, ["derive", str(run.path), "--epoch", "1", "--select", "perturbation"])
    assert early.exit_code == 2 and "no perturbation readout at or before epoch 1" in early.output
