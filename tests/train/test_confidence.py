"""Every derived architecture carries its confidence; a search that took no architecture step says
so and is refused downstream; auto-stop with a real margin and patience on a real (tiny) search."""

from __future__ import annotations

import json

import pytest

from core.run.events import Progress
from core.space.arch import load_arch
from core.train.convergence import Confidence, ConvergenceTracker, confidence
from tests.support import invoke


def kernel_snapshot(p3: float) -> dict:
    return {"1": {"kernel": {"3": p3, "5": 1 - p3}, "activation": {"relu": 0.5, "mish": 0.5}}}


def test_confidence_reports_choice_probability_margin_and_the_trackers_verdict():
    tracker = ConvergenceTracker(patience=2, margin=0.2)
    for epoch, p3 in ((1, 0.7), (2, 0.75)):
        tracker.update(epoch, kernel_snapshot(p3))
    conf = confidence(kernel_snapshot(0.75), tracker, arch_steps=10)
    k, a = conf.decisions
    assert (k.block, k.decision, k.choice, k.settled) == (1, "kernel", "3", True) and abs(k.margin - 0.5) < 1e-9
    assert a.settled is False and a.margin == 0.0
    assert (conf.settled, conf.total) == (1, 2)
    assert conf.line() == "1 of 2 decisions settled; unsettled: 1 activation (margin 0.00)"
    # a snapshot whose argmax moved away from what the tracker judged is not settled
    assert confidence(kernel_snapshot(0.3), tracker, 10).decisions[0].settled is False
    assert Confidence.from_dict(conf.as_dict()) == conf
    unsearched = confidence(kernel_snapshot(0.75), tracker, arch_steps=0)
    assert unsearched.settled == 0 and not unsearched.searched and "warm-up" in unsearched.line()


@pytest.mark.slow
def test_auto_stop_with_a_margin_and_patience_on_a_real_search(tiny, start):
    margin, patience = 0.3, 2
    cfg = tiny(
        search={
            "epochs": 12,
            "warmup_epochs": 1,
            "arch_lr": 0.2,
            "patience": patience,
            "margin": margin,
            "auto_stop": True,
        },
        retrain={"epochs": 1},
    )
    runner, run, seen = start(cfg, retrain=False)
    result = runner.wait(300)
    assert result is not None and result.status == "done", result and result.message
    summary = run.summary().search.model_dump()
    assert summary["stop_reason"] == "converged" and summary["epochs"] < 12
    assert summary["settled"] == summary["decisions_total"] == 2 * len(summary["block_ids"])
    history = run.epoch_history()
    # at the converged epoch every decision leads by the margin, with the argmax it held for `patience` epochs
    last = history[-1].alphas
    for block, decisions in last.items():
        for decision, probs in decisions.items():
            top, second = sorted(probs.values(), reverse=True)[:2]
            assert top - second >= margin, probs
            leader = max(probs, key=probs.__getitem__)
            for h in history[-patience:]:
                held = h.alphas[block][decision]
                assert max(held, key=held.__getitem__) == leader
    # and it had not converged one epoch earlier (else it would have stopped there)
    converged = [e.epoch for e in seen if e.kind == "converged"]
    assert converged == [history[-1].epoch]
    assert all(d["margin"] >= margin and d["settled"] for d in summary["decisions"])
    arch = load_arch(run.arch_file)
    assert arch.source["settled"] == summary["settled"] and arch.source["decisions"] == summary["decisions"]


@pytest.mark.slow
def test_a_search_stopped_in_its_warm_up_says_so_and_is_refused_downstream(synthetic, start, tmp_path):
    def stop_in_warmup(event, control, run):  # in the second warm-up epoch: the first one is in the history
        if isinstance(event, Progress) and event.phase == "warmup" and event.epoch == 2:
            control.request_stop()

    runner, run, seen = start(synthetic(epochs=3, warmup_epochs=2), on_event=stop_in_warmup, retrain=False)
    assert runner.wait(120).status == "done"
    search = run.summary().search.model_dump()
    assert search["searched"] is False and search["arch_steps"] == 0 and search["settled"] == 0
    assert search["decisions_total"] > 0
    warnings = [e for e in seen if e.kind == "warning" and e.where == "search.decisions"]
    assert len(warnings) == 1 and "no architecture step" in warnings[0].message
    for res in (
        invoke("derive", run.path),
        invoke("retrain", run.arch_file, "-o", tmp_path / "r"),
        invoke("plot", run.path),
    ):
        assert res.exit_code == 2 and ("warm-up" in res.stderr), res.stderr
    assert not (tmp_path / "r").exists()
    assert "no architecture steps" in invoke("plot", run.path).stderr
    assert invoke("derive", run.path, "--allow-unsearched", "--json").exit_code == 0


@pytest.mark.slow
def test_summary_search_section_and_architecture_file_agree_on_each_decision(synthetic, start):
    runner, run, seen = start(synthetic(epochs=3), retrain=False)
    assert runner.wait(120).status == "done"
    search = run.summary().search.model_dump()
    arch = json.loads(run.arch_file.read_text())
    assert search["searched"] is True and search["arch_steps"] > 0
    assert arch["source"]["decisions"] == search["decisions"]
    chosen = {(d["block"], d["decision"]): d["choice"] for d in search["decisions"]}
    for block, choice in arch["blocks"].items():
        assert chosen[(int(block), "kernel")] == str(choice["kernel"])
        assert chosen[(int(block), "activation")] == choice["activation"]
    for d in search["decisions"]:
        assert 0 < d["p"] <= 1 and 0 <= d["margin"] <= d["p"]
    derived = [e for e in seen if e.kind == "architecture"][0]
    confidence = derived.confidence.model_dump()  # a typed record; as JSON, the summary's keys
    assert confidence == {k: search[k] for k in confidence}


@pytest.mark.slow
def test_headless_log_closes_with_the_settled_count(tiny_yaml, tmp_path):
    import re

    res = invoke("search", "-c", tiny_yaml, "-o", tmp_path / "r")
    assert res.exit_code == 0, res.stderr
    search = json.loads((tmp_path / "r" / "summary.json").read_text())["search"]
    line = f"{search['settled']} of {search['decisions_total']} decisions settled"
    assert line in res.stdout.split("architecture →")[1]  # after the search, in the closing lines
    if search["settled"] < search["decisions_total"]:
        assert re.search(r"warning:.*unsettled: \d+ (kernel|activation) \(margin 0\.\d\d\)", res.stdout)
