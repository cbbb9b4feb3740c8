"""Tests that pin the paper (and ProxylessNAS) as built: optimisers, warm-up, the two-path
rescale on a real network, the binary-gate gradient of nested decisions, and the
geometry behind a void kernel choice."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from core.run.control import Control
from core.run.events import EventBus
from core.space import SearchSpace, scope_block_ids
from core.space.geometry import block_geometry
from core.space.network import NetSpec, SearchNet
from core.space.proxyless import MixedOp, Mode, PathSampler
from core.train.device import precision_for
from core.train.loop import LoopContext
from core.train.search_loop import SearchEngine
from core.train.step import arch_step, grad_scaler


def paper_engine(tiny, tmp_path, **search) -> SearchEngine:
    """A tiny network with the paper's optimiser settings (the config defaults)."""
    cfg = tiny(
        data={"dataset": "synthetic", "synthetic_size": 96, "batch_size": 16},
        search={"arch_lr": 1e-3, "epochs": 2, "warmup_epochs": 1, **search},
    )
    return SearchEngine(LoopContext(cfg, EventBus(), Control(), tmp_path / "search.pt", lambda: 0))


def test_optimisers_as_built_are_the_papers(tiny, tmp_path):
    engine = paper_engine(tiny, tmp_path)
    sgd, adam = engine.w_opt, engine.a_opt
    assert isinstance(sgd, torch.optim.SGD) and isinstance(adam, torch.optim.Adam)
    (w,) = sgd.param_groups
    assert (w["lr"], w["momentum"], w["nesterov"], w["weight_decay"]) == (0.05, 0.9, True, 4e-5)
    (a,) = adam.param_groups
    assert (a["lr"], tuple(a["betas"]), a["weight_decay"]) == (1e-3, (0.0, 0.999), 0.0)
    alphas = {id(p) for p in engine.net.arch_parameters()}
    assert {id(p) for p in a["params"]} == alphas  # Adam steps the alphas, and only them
    assert not alphas & {id(p) for p in w["params"]}  # SGD never touches an alpha
    assert len(w["params"]) == sum(1 for p in engine.net.parameters()) - len(alphas)


def test_no_architecture_step_during_warm_up(tiny, tmp_path):
    engine = paper_engine(tiny, tmp_path, epochs=2, warmup_epochs=1, arch_lr=0.05)
    calls: list[int] = []
    real = engine.arch_step

    def counting(x, y):
        calls.append(engine.epoch_done + 1)
        real(x, y)

    engine.arch_step = counting  # type: ignore[method-assign]
    before = [a.detach().clone() for a in engine.net.arch_parameters()]
    seen = []
    engine.bus.subscribe(seen.append)
    engine.run()
    spe = engine.loaders.train.steps_per_epoch
    assert 1 not in calls  # warm-up epoch: weight steps only
    assert calls.count(2) == spe  # one architecture step per weight step after it
    first = next(e for e in seen if e.kind == "epoch_end" and e.epoch == 1)
    assert all(len(set(p.values())) == 1 for b in first.alphas.values() for p in b.values())  # still uniform
    assert any(not torch.equal(b, a) for b, a in zip(before, engine.net.arch_parameters()))  # then they move


@pytest.mark.parametrize("joint", [False, True])
def test_arch_step_keeps_every_unsampled_probability(joint):
    """ProxylessNAS's rescale on a real network step: only the two sampled paths trade probability."""
    torch.manual_seed(0)
    depths = (1, 1, 2, 1)
    space = SearchSpace.build("m", kernels=(1, 3, 5, 7), activations=("relu", "mish", "silu", "gelu"), depths=depths)
    if joint:
        space = SearchSpace.build("m", (3, 5), ("relu", "mish", "silu"), depths, joint=True)
    net = SearchNet(NetSpec(width_mult=0.125, depths=depths), space)
    with torch.no_grad():
        for a in net.arch_parameters():
            a.normal_(0, 0.5)
    prec = precision_for(tiny_run_config(), torch.device("cpu"))
    adam = torch.optim.Adam(net.arch_parameters(), lr=0.05, betas=(0.0, 0.999))
    steps = []
    begin = net.begin_arch_step
    net.begin_arch_step = lambda s, m: steps.append(begin(s, m)) or steps[-1]  # type: ignore[method-assign]
    before = {d: torch.softmax(a.detach(), 1) for d, a in net.alphas().items()}
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    arch_step(net, PathSampler(3), Mode.TWO_PATH, adam, grad_scaler(prec), prec, x, y)
    (step,) = steps
    moved = 0.0
    for d, a in net.alphas().items():
        after = torch.softmax(a.detach(), 1)
        mask = step.masks[d]
        assert int(mask.sum(1).min()) == 2 and int(mask.sum(1).max()) == 2
        assert torch.allclose(after[~mask], before[d][~mask], atol=1e-6)
        moved = max(moved, float((after[mask] - before[d][mask]).abs().max()))
    assert moved > 1e-4  # the sampled pairs did move


def tiny_run_config():
    from core.config import RunConfig

    return RunConfig(device="cpu")


def _reference_forward(op: MixedOp, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """sum_k g_k * o_k(x) over every candidate, through ordinary autograd."""
    return sum(g[k] * cand(x) for k, cand in enumerate(op.candidates))


@pytest.mark.parametrize("joint", [False, True])
def test_gate_gradients_of_a_real_search_block_match_plain_autograd(joint, monkeypatch):
    """The binary gates' backward (rerun each path, dot with dL/dy) against the textbook definition:
    y = sum_k g_k o_k(x) with one-hot g at the active path, differentiated by autograd. Nested:
    the kernel decision feeds the activation decision inside the same block."""
    torch.manual_seed(1)
    depths = (1, 1, 2, 1)
    space = SearchSpace.build("m", (3, 5), ("relu", "leakyrelu", "mish"), depths, joint=joint)
    net = SearchNet(NetSpec(width_mult=0.125, depths=depths), space).double()
    x, y = torch.randn(6, 3, 32, 32, dtype=torch.float64), torch.randint(0, 10, (6,))

    step = net.begin_arch_step(PathSampler(5), Mode.ALL_PATHS)
    F.cross_entropy(net(x), y).backward(inputs=list(step.gates.values()))
    gate_grads = {d: g.grad.clone() for d, g in step.gates.items()}
    active = {d: [op.route.active for op in ops] for d, ops in net.ops.items()}

    ref_gates = {
        d: F.one_hot(torch.tensor(active[d]), len(space.candidates(d))).double().requires_grad_()
        for d in space.decisions
    }
    for ops in net.ops.values():
        for op in ops:
            op.route.gate = None
    monkeypatch.setattr(MixedOp, "forward", lambda op, inp: _reference_forward(op, inp, ref_gates[op.decision][op.row]))
    loss = F.cross_entropy(net(x), y)
    refs = torch.autograd.grad(loss, list(ref_gates.values()))
    for d, ref in zip(ref_gates, refs):
        scale = float(ref.abs().max())
        assert scale > 0
        # the gate's dot products accumulate in float32 by design: compare on the gradient's own scale
        assert torch.allclose(gate_grads[d], ref, rtol=1e-5, atol=1e-6 * scale), (d, gate_grads[d], ref)


def test_void_block_5x5_equals_the_3x3_from_its_centre():
    """Where the geometry says 'void', a 5x5 conv and the 3x3 cut from its centre compute the same map;
    where it does not, they differ (so the check can fail)."""
    torch.manual_seed(2)
    space = SearchSpace.build("f", (3, 5))
    net = SearchNet(NetSpec(width_mult=0.125), space).double().eval()
    inputs: dict[int, torch.Tensor] = {}
    for bid, op in zip(space.block_ids, net.ops["kernel"]):
        op.register_forward_hook(lambda m, inp, out, bid=bid: inputs.__setitem__(bid, inp[0]))
    with torch.no_grad():
        net(torch.randn(2, 3, 32, 32, dtype=torch.float64))
    geometry = {g.block_id: g for g in block_geometry(space.block_ids, (3, 5), 32, "imagenet")}
    for bid, op in zip(space.block_ids, net.ops["kernel"]):
        conv5 = op.candidates[space.kernels.index(5)][0]
        x = inputs[bid]
        assert x.shape[-1] == geometry[bid].input_size
        with torch.no_grad():
            conv5.weight.normal_()  # no zero taps: every weight could matter
            full = conv5(x)
            centre = F.conv2d(x, conv5.weight[:, :, 1:4, 1:4], stride=conv5.stride, padding=1)
        same = torch.allclose(full, centre, rtol=1e-9, atol=1e-9 * float(full.abs().max()))
        assert same == geometry[bid].kernel_choice_void, bid
    assert sorted(b for b, g in geometry.items() if g.kernel_choice_void) == list(range(1, 9))


def test_void_blocks_at_32_and_224_px():
    ids = scope_block_ids("f")
    at32 = {g.block_id: g.kernel_choice_void for g in block_geometry(ids, (3, 5), 32, "imagenet")}
    assert [b for b, v in at32.items() if v] == list(range(1, 9))
    assert not any(g.kernel_choice_void for g in block_geometry(ids, (3, 5), 224, "imagenet"))
