"""The GPU's precision paths (bf16/fp16 autocast, channels_last, loss scaling), run on the CPU.

A CUDA run uses bf16 autocast and channels_last by default and fp16 with loss scaling where
bf16 is unsupported; CI has no GPU, so these tests ask for the same settings explicitly on the
CPU, where torch implements them too.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from core.run.checkpoint import load_checkpoint
from core.space import SearchSpace
from core.space.network import NetSpec, SearchNet
from core.space.proxyless import Mode, PathSampler
from core.train.device import Precision
from core.train.step import arch_step, forward_loss, grad_scaler

CPU = torch.device("cpu")
SPEC = NetSpec(10, "cifar", 0.125, (1, 1, 2, 1))


def tiny_net(seed: int = 0) -> SearchNet:
    torch.manual_seed(seed)
    return SearchNet(SPEC, SearchSpace.build("f", depths=SPEC.depths))


def data(seed: int = 0, n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 16, 16, generator=g), torch.randint(0, 10, (n,), generator=g)


@pytest.mark.parametrize("mode", [Mode.TWO_PATH, Mode.ALL_PATHS])
def test_gate_gradients_under_bf16_and_channels_last_match_fp32(mode):
    """The binary gates rerun the other candidates in backward under the forward's autocast."""
    grads = {}
    for name, prec in (("fp32", Precision(CPU, None, False)), ("bf16", Precision(CPU, torch.bfloat16, True))):
        net = tiny_net()
        net.eval()  # BatchNorm on running statistics: both runs see the same normalisation
        x, y = data()
        if prec.channels_last:
            net = net.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        step = net.begin_arch_step(PathSampler(3), mode)
        loss, logits = forward_loss(net, x, y, prec)
        assert logits.dtype == (torch.bfloat16 if prec.amp_dtype else torch.float32)
        loss.backward(inputs=list(step.gates.values()))
        grads[name] = torch.cat([step.gates[d].grad.flatten() for d in ("kernel", "activation")])
    a, b = grads["fp32"], grads["bf16"]
    assert a.abs().sum() > 0
    assert F.cosine_similarity(a, b, dim=0) > 0.99, (a, b)


def test_fp16_overflowing_architecture_step_is_skipped_not_diverged():
    """An overflowed fp16 gate gradient must not reach the alphas (it used to make them inf)."""
    prec = Precision(CPU, torch.float16, False)
    net = tiny_net()
    opt = torch.optim.Adam(net.arch_parameters(), lr=0.1, betas=(0.0, 0.999))
    sampler = PathSampler(0)
    x, y = data()
    assert grad_scaler(prec).is_enabled()  # the engine's fp16 scaler is on
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**60)  # a scale that overflows fp16 (max 65504)
    before = [a.detach().clone() for a in net.arch_parameters()]
    arch_step(net, sampler, Mode.TWO_PATH, opt, scaler, prec, x, y)
    for old, new in zip(before, net.arch_parameters()):
        assert torch.equal(old, new.detach())  # skipped, not applied
    assert scaler.get_scale() < 2.0**60  # and the scale backed off
    scaler.update(256.0)
    arch_step(net, sampler, Mode.TWO_PATH, opt, scaler, prec, x, y)
    alphas = torch.cat([a.detach().flatten() for a in net.arch_parameters()])
    assert torch.isfinite(alphas).all() and alphas.abs().sum() > 0  # a sane scale updates them


def alpha_drift(run) -> float:
    last = run.epoch_history()[-1].alphas
    return max(abs(p - 1 / len(probs)) for block in last.values() for probs in block.values() for p in probs.values())


@pytest.mark.slow
def test_bf16_channels_last_search_and_retrain_learn(tiny, start):
    runner, run, _ = start(tiny(run={"amp": "bf16", "channels_last": "on"}, retrain={"epochs": 2}))
    result = runner.wait(300)
    assert result is not None and result.status == "done", result and result.message
    assert alpha_drift(run) > 0.05  # the architecture steps moved the alphas
    assert run.summary().retrain.test_top1 > 0.3  # chance is 0.1


@pytest.mark.slow
def test_fp16_search_with_loss_scaling_completes(synthetic, start):
    """fp16 convolutions are slow on a CPU: a short run on small synthetic images."""
    cfg = synthetic(epochs=3, alphas_every=1)
    cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"amp": "fp16"})})
    runner, run, _ = start(cfg)
    result = runner.wait(300)
    assert result is not None and result.status == "done", result and result.message
    assert alpha_drift(run) > 0.01  # not every architecture step was skipped
    scalers = load_checkpoint(run.search_ckpt, "search")
    assert scalers["scaler"]["scale"] > 0 and scalers["arch_scaler"]["scale"] > 0  # both were on and saved
