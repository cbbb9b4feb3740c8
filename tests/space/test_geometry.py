"""Input-size geometry (void kernel choices: inspect, warn/prune/error) and joint candidates end to end."""

from __future__ import annotations

import json
import threading

import pytest
import torch
import yaml

from core.api.derive import derive as derive_at
from core.config import quickstart
from core.run.events import read_events
from core.space import SearchSpace, joint_name, marginals, parse_joint
from core.space.arch import snapshot_to_choices
from core.space.geometry import middle_conv_inputs, prunable
from core.space.network import NetSpec, SearchNet
from core.space.proxyless import Mode, PathSampler
from core.train.data import load_search_data
from tests.support import invoke


def test_inspect_reports_map_sizes_and_void_choices():
    at32 = json.loads(invoke("inspect", "--scope", "f", "--image-size", "32", "--json").stdout)
    assert at32["search_blocks"] == list(range(1, 17))
    void = {b["id"]: b["kernel_choice_void"] for b in at32["blocks"]}
    assert [b for b, v in void.items() if v] == list(range(1, 9))
    block9 = next(b for b in at32["blocks"] if b["id"] == 9)
    effective = {"3": 3, "5": 5}
    expected = {"id": 9, "stage": 3, "input_size": 4, "effective_kernels": effective, "kernel_choice_void": False}
    assert block9 == expected
    at224 = json.loads(invoke("inspect", "--scope", "f", "--image-size", "224", "--json").stdout)
    assert not any(b["kernel_choice_void"] for b in at224["blocks"])
    table = invoke("inspect", "--scope", "s", "--image-size", "32").stdout
    assert "void" in table and "1x1" in table


def test_middle_conv_side_follows_the_strides():
    sides = middle_conv_inputs(64, "cifar")
    assert [sides[b] for b in (16, 13, 12, 9, 8, 3, 2)] == [64, 64, 32, 32, 16, 16, 8]


def test_quickstart_searches_only_real_choices():
    assert not any(g.kernel_choice_void for g in quickstart().geometry())


@pytest.fixture
def void_yaml(tmp_path):
    def write(**space):
        cfg = {
            "space": {"scope": "m", **space},
            "network": {"width_mult": 0.125, "depths": [1, 1, 2, 1]},
            "data": {"dataset": "synthetic", "synthetic_size": 96, "batch_size": 16, "val_fraction": 0.25},
            "search": {"epochs": 2, "warmup_epochs": 1},
            "run": {"device": "cpu"},
        }
        path = tmp_path / "void.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return path

    return write


def test_void_kernels_error_refuses_before_training(void_yaml, tmp_path):
    res = invoke("search", "-c", void_yaml(void_kernels="error"), "-o", tmp_path / "r")
    assert res.exit_code == 2 and "space.void_kernels" in res.stderr and "void" in res.stderr
    assert not (tmp_path / "r").exists()


def test_void_kernels_warn_prints_one_line_and_emits_an_event(void_yaml, tmp_path):
    res = invoke("search", "-c", void_yaml(), "-o", tmp_path / "r")
    assert res.exit_code == 0, res.stdout + res.stderr
    void_lines = [line for line in res.stdout.splitlines() if line.startswith("warning:") and "void" in line]
    assert len(void_lines) == 1
    warnings = [e for e in read_events(tmp_path / "r" / "events.jsonl") if e.kind == "warning"]
    void = [w for w in warnings if w.where == "space.void_kernels"]
    assert len(void) == 1 and "block(s) 1, 2" in void[0].message


def test_prune_keeps_one_kernel_per_equivalent_group_and_spends_no_alpha_on_it():
    depths = (1, 1, 2, 1)
    space = SearchSpace.build("m", (3, 5), ("relu", "mish"), depths)
    pruned = prunable(space, 32, "imagenet")
    assert pruned == ((1, 5), (2, 5))  # blocks 1-2 see 2x2 maps there; block 3 sees 4x4
    import dataclasses

    net = SearchNet(NetSpec(width_mult=0.125, depths=depths), dataclasses.replace(space, pruned=pruned))
    probs = net.probabilities()
    assert probs[1]["kernel"] == {"3": 1.0} and set(probs[3]["kernel"]) == {"3", "5"}
    with torch.no_grad():
        net.alpha_kernel[:, 0] = -3.0  # raw alphas favour 5x5 everywhere...
    choices = snapshot_to_choices({str(b): p for b, p in net.probabilities().items()}, net.space)
    assert choices[1].kernel == 3 and choices[3].kernel == 5  # ...which pruned blocks never pick
    opt = torch.optim.Adam(net.arch_parameters(), lr=0.1, betas=(0.0, 0.999))
    sampler, x, y = PathSampler(0), torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    before = net.alpha_kernel.detach().clone()
    for _ in range(3):
        step = net.begin_arch_step(sampler, Mode.TWO_PATH)
        assert not step.masks["kernel"][0, 1] and not step.masks["kernel"][1, 1]
        torch.nn.functional.cross_entropy(net(x), y).backward(inputs=list(step.gates.values()))
        net.finish_arch_backward(step)
        opt.step()
        opt.zero_grad()
        net.after_arch_update(step, Mode.TWO_PATH)
        assert net.sample_weight_paths(sampler, uniform=True)["kernel"][:2] == [0, 0]
    assert torch.equal(net.alpha_kernel.detach()[:2], before[:2])  # no alpha moved at the pruned blocks
    assert not torch.equal(net.alpha_kernel.detach()[2], before[2])


def test_joint_names_and_marginals():
    assert joint_name(5, "mish") == "5x5/mish" and parse_joint("5x5/mish") == (5, "mish")
    m = marginals({"3x3/relu": 0.1, "3x3/mish": 0.2, "5x5/relu": 0.3, "5x5/mish": 0.4})
    assert m["kernel"] == pytest.approx({"3": 0.3, "5": 0.7}) and m["activation"] == pytest.approx(
        {"relu": 0.4, "mish": 0.6}
    )


def test_joint_search_derive_retrain_and_resume(synthetic, start, tmp_path):
    """Joint candidates through the whole flow: one `op` decision per block, derive at any epoch,
    retrain, and an interrupted search resumes to exactly the uninterrupted one."""
    straight = synthetic(alphas_every=1)
    straight.space.candidates = "joint"
    straight.run.out = tmp_path / "straight"
    runner, straight_run, seen = start(straight)
    assert runner.wait(120).status == "done"
    started = next(e for e in seen if e.kind == "search_started")
    assert list(started.candidates) == ["op"] and "5x5/mish" in started.candidates["op"]
    history = straight_run.epoch_history()
    for h in history:
        assert all(set(b) == {"op"} and len(b["op"]) == 6 for b in h.alphas.values())
        arch = derive_at(straight_run, h.epoch)
        for block, probs in h.alphas.items():
            best = max(probs["op"].items(), key=lambda kv: kv[1])[0]
            assert (arch.blocks[int(block)].kernel, arch.blocks[int(block)].activation) == parse_joint(best)
    final = json.loads(straight_run.arch_file.read_text())
    assert final["blocks"] == json.loads(derive_at(straight_run).to_json())["blocks"]
    top1 = straight_run.summary()["retrain"]["test_top1"]  # the final weights' share of a fixed test set
    n_test = len(load_search_data(straight.data, straight.run.seed).test)
    done = next(e for e in seen if e.kind == "retrain_done")
    assert top1 == done.test_top1 and 0 <= top1 <= 1 and abs(top1 * n_test - round(top1 * n_test)) < 1e-6

    fired = threading.Event()

    def on_event(e, control, run):
        if e.kind == "alphas" and e.epoch == 3 and not fired.is_set():
            fired.set()
            control.interrupt()

    cut = synthetic(alphas_every=1)
    cut.space.candidates = "joint"
    cut.run.out = tmp_path / "cut"
    runner, run, _ = start(cut, on_event)
    assert runner.wait(120).status == "interrupted"
    runner, run, _ = start(cut, resume=True)
    assert runner.wait(120).status == "done"
    assert [h.alphas for h in run.epoch_history()] == [h.alphas for h in history]
    fig = tmp_path / "joint.txt"
    assert invoke("plot", run.path, "--save", fig).exit_code == 0
    text = fig.read_text()
    missing = [(b, d) for b in (1, 2, 3) for d in ("op", "kernel", "activation") if f"block {b} · {d}" not in text]
    assert not missing, text


def test_bench_runs_with_joint_candidates():
    args = "--device cpu --width 0.125 --depths 1,1,1,1 --batch-size 8 --repeats 1 --warmup 1 --epoch-images 32"
    res = invoke("bench", *args.split(), "--scopes", "s", "--candidates", "joint", "--json")
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout)
    assert result["settings"]["candidates"] == "joint"
    (scope,) = result["scopes"]
    assert scope["two_path_ratio"] > 0 and scope["darts_bytes"] >= scope["weight_bytes"]
