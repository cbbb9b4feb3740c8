"""The ProxylessNAS gradient estimator against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from core.space import SearchSpace
from core.space.network import NetSpec, SearchNet
from core.space.proxyless import MixedOp, Mode, PathSampler, alpha_grad_from_gates, path_mask, rescale_pair


class Scale(nn.Module):
    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = c

    def forward(self, x):
        return self.c * x


def toy(active: int, paths: tuple[int, ...]):
    op = MixedOp([Scale(1.0), Scale(2.0), Scale(-1.0)], "kernel")
    op.row = 0
    gates = torch.zeros(1, 3, requires_grad=True)
    op.set_route(active, paths, gates[0])
    x = torch.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    w = torch.tensor([[0.5, -1.0, 2.0]])  # L = <w, y>, so dL/dy = w and <w, x> = 4.5
    y = op(x)
    (y * w).sum().backward()
    return y, x, gates


def test_two_path_gate_and_alpha_gradients():
    y, x, gates = toy(active=1, paths=(0, 1))
    assert torch.allclose(y, 2 * x.detach())  # only the active path's output
    assert torch.allclose(x.grad, 2 * torch.tensor([[0.5, -1.0, 2.0]]))  # and its input gradient
    assert torch.allclose(gates.grad, torch.tensor([[4.5, 9.0, 0.0]]))  # <dL/dy, o_k(x)> for the pair only
    alpha = torch.tensor([[0.1, 0.5, -0.3]])
    grad = alpha_grad_from_gates(alpha, gates.grad, path_mask([(0, 1)], 3, torch.device("cpu")))
    # by hand: q = softmax(0.1, 0.5) = (0.401312, 0.598688); grad_0 = q0*q1*(g0 - g1) = -1.081174
    q0 = 1 / (1 + math.exp(0.4))
    assert abs(grad[0, 0].item() - q0 * (1 - q0) * (4.5 - 9.0)) < 1e-6
    assert abs(grad[0, 0].item() - (-1.081174)) < 1e-5
    assert abs(grad[0, 1].item() - 1.081174) < 1e-5
    assert grad[0, 2].item() == 0.0


def test_all_paths_alpha_gradient_matches_double_sum():
    y, x, gates = toy(active=0, paths=(0, 1, 2))
    assert torch.allclose(gates.grad, torch.tensor([[4.5, 9.0, -4.5]]))
    alpha = torch.tensor([[0.1, 0.5, -0.3]])
    grad = alpha_grad_from_gates(alpha, gates.grad, torch.ones(1, 3, dtype=torch.bool))
    p = torch.softmax(alpha[0], 0).tolist()
    g = [4.5, 9.0, -4.5]
    expected = [sum(g[j] * p[j] * ((i == j) - p[i]) for j in range(3)) for i in range(3)]
    assert torch.allclose(grad[0], torch.tensor(expected), atol=1e-6)


def test_rescale_keeps_unsampled_probabilities():
    old = torch.tensor([[0.2, -0.4, 1.0, 0.3]])
    mask = torch.tensor([[True, False, True, False]])
    new = old.clone()
    new[0, 0] += 0.7
    new[0, 2] -= 0.2
    before = torch.softmax(old, 1)
    rescale_pair(new, old, mask)
    after = torch.softmax(new, 1)
    assert torch.allclose(after[0, 1], before[0, 1]) and torch.allclose(after[0, 3], before[0, 3])
    assert torch.allclose(after[0, 0] + after[0, 2], before[0, 0] + before[0, 2])
    assert after[0, 0] > before[0, 0]  # the update itself survives


def test_weight_step_leaves_unsampled_candidates_untouched():
    net = SearchNet(NetSpec(width_mult=0.125, depths=(1, 1, 2, 1)), SearchSpace.build("m", depths=(1, 1, 2, 1)))
    opt = torch.optim.SGD(net.weight_parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=4e-5)
    sampler = PathSampler(1)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    drawn = net.sample_weight_paths(sampler)
    unsampled = [
        p
        for op in net.ops["kernel"]
        for k, cand in enumerate(op.candidates)
        if k != drawn["kernel"][op.row]
        for p in cand.parameters()
    ]
    sampled = [p for op in net.ops["kernel"] for p in op.candidates[drawn["kernel"][op.row]].parameters()]
    before = [p.detach().clone() for p in unsampled]
    opt.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(net(x), y).backward()
    opt.step()
    assert all(p.grad is None for p in unsampled)
    assert all(torch.equal(a, p) for a, p in zip(before, unsampled))
    assert all(p not in opt.state for p in unsampled)
    assert all("momentum_buffer" in opt.state[p] for p in sampled)
    assert net.alpha_kernel.grad is None


def test_sampler_is_deterministic_and_two_paths_are_distinct():
    logits = torch.randn(5, 3).double().numpy()
    a, b = PathSampler(7), PathSampler(7)
    for _ in range(20):
        da, db = a.draw(logits, Mode.TWO_PATH), b.draw(logits, Mode.TWO_PATH)
        assert da == db
        assert all(len(set(p)) == 2 and act in p for p, act in zip(da.paths, da.active))
    state = a.state()
    expected = [a.draw(logits, Mode.TWO_PATH) for _ in range(5)]
    c = PathSampler(99)
    c.load_state(state)
    assert [c.draw(logits, Mode.TWO_PATH) for _ in range(5)] == expected


def test_sampler_frequencies_follow_softmax():
    """One path with p = softmax(alpha); a pair drawn without replacement, then its active path by q."""
    logits = np.array([[0.0, 1.0, -1.0]])
    p = np.exp(logits[0]) / np.exp(logits[0]).sum()
    sampler = PathSampler(0)
    n = 20_000
    single = np.bincount([sampler.draw(logits, Mode.WEIGHT).active[0] for _ in range(n)], minlength=3) / n
    assert np.allclose(single, p, atol=0.015)
    pairs: dict[tuple[int, int], int] = {}
    for _ in range(n):
        d = sampler.draw(logits, Mode.TWO_PATH)
        key = tuple(sorted(d.paths[0]))
        pairs[key] = pairs.get(key, 0) + 1
    # P({i, j}) = p_i p_j / (1 - p_i) + p_j p_i / (1 - p_j)
    for (i, j), count in pairs.items():
        expected = p[i] * p[j] / (1 - p[i]) + p[j] * p[i] / (1 - p[j])
        assert abs(count / n - expected) < 0.015


def test_host_copy_of_alphas_is_reused_until_they_change():
    net = SearchNet(NetSpec(width_mult=0.125, depths=(1, 1, 2, 1)), SearchSpace.build("m", depths=(1, 1, 2, 1)))
    first = net.host_alphas()
    assert net.host_alphas() is first  # no second device-to-host copy for the same alphas
    opt = torch.optim.Adam(net.arch_parameters(), lr=0.1)
    net.alpha_kernel.grad = torch.ones_like(net.alpha_kernel)
    net.alpha_activation.grad = torch.zeros_like(net.alpha_activation)
    opt.step()
    after_step = net.host_alphas()
    assert after_step is not first and np.allclose(after_step[0], net.alpha_kernel.detach().numpy())
    mask = torch.zeros_like(net.alpha_kernel, dtype=torch.bool)
    mask[:, 0] = True
    old = net.alpha_kernel.detach().clone() - 1.0
    rescale_pair(net.alpha_kernel, old, mask)  # what after_arch_update does
    assert np.allclose(net.host_alphas()[0], net.alpha_kernel.detach().numpy())
