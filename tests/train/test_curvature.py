"""The curvature probe: exact on small operators, measured each search epoch, and invisible to the search."""

from __future__ import annotations

import json

import torch

from core.run.events import EpochEnd
from core.train.curvature import CurvatureProbe, entropy, lanczos_top, largest_eigenvalue
from core.train.loop import LoopContext
from core.train.search_loop import SearchEngine
from core.train.seeds import stream


def test_lanczos_is_exact_with_as_many_steps_as_dimensions():
    g = torch.Generator().manual_seed(3)
    a = torch.randn(12, 12, generator=g, dtype=torch.float64)
    h = a + a.T
    top = float(torch.linalg.eigvalsh(h).max())
    assert abs(lanczos_top(lambda v: h @ v, 12, 12, torch.Generator().manual_seed(0)) - top) < 1e-9
    # fewer steps: a lower bound on the top eigenvalue (a Ritz value), never above it
    assert lanczos_top(lambda v: h @ v, 12, 3, torch.Generator().manual_seed(0)) <= top + 1e-9


def test_entropy_is_normalised():
    assert entropy({"a": 0.5, "b": 0.5}) == 1.0
    assert entropy({"a": 1.0, "b": 0.0}) == 0.0
    assert 0 < entropy({"a": 0.7, "b": 0.2, "c": 0.1}) < 1


def _engine(cfg, tmp_path):
    from core.run.control import Control
    from core.run.events import EventBus

    return SearchEngine(LoopContext(cfg, EventBus(), Control(), tmp_path / "ckpt.pt", lambda: 0))


def test_the_probe_matches_the_exact_hessian_and_touches_nothing(tiny, tmp_path):
    # 40 images in batches of 32: the subset spans two batches, whose losses the Hessian averages
    cfg = tiny(
        space={"scope": "s"}, search={"epochs": 3, "warmup_epochs": 1, "curvature": {"images": 40, "steps": 200}}
    )
    engine = _engine(cfg, tmp_path)
    net = engine.net
    with torch.no_grad():  # alphas off zero, as after some architecture steps
        for a in net.arch_parameters():
            a.copy_(torch.randn(a.shape, generator=torch.Generator().manual_seed(1)))
    state = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    probe = engine.probes.curvature
    assert probe is not None and [len(y) for _, y in probe.batches] == [32, 8]
    value = probe.measure(net)
    # the search's state is bit-identical: weights, alphas, BatchNorm buffers, global RNG, no grads
    after = net.state_dict()
    assert all(torch.equal(state[k], after[k]) for k in state)
    assert torch.equal(rng, torch.get_rng_state())
    assert all(p.grad is None for p in net.parameters())

    # the exact Hessian of the same relaxed loss, by torch.autograd.functional.hessian
    alphas = net.arch_parameters()
    shapes = [a.shape for a in alphas]

    def loss_of(flat: torch.Tensor) -> torch.Tensor:
        parts, i = [], 0
        for s in shapes:
            parts.append(flat[i : i + s.numel()].view(s))
            i += s.numel()
        originals = [a.data for a in alphas]
        total = flat.new_zeros(())
        with _swapped(net, parts):
            for x, y in probe.batches:
                net.set_softmax_weighted()
                total = total + torch.nn.functional.cross_entropy(net(x), y)
        del originals
        return total / len(probe.batches)

    flat = torch.cat([a.detach().reshape(-1) for a in alphas])
    with _frozen(net):
        h = torch.autograd.functional.hessian(loss_of, flat)
    exact = float(torch.linalg.eigvalsh(h.double()).max())
    assert abs(value - exact) <= 1e-3 * max(1.0, abs(exact)), (value, exact)
    assert largest_eigenvalue(net, probe.batches, 200, probe.seed) == value  # deterministic


class _swapped:
    """Route the alphas through ``parts`` (so the Hessian reference differentiates them)."""

    def __init__(self, net, parts):
        self.net, self.parts = net, parts

    def __enter__(self):
        self.saved = {}
        for d, part in zip(self.net.decisions, self.parts):
            self.saved[d] = self.net._parameters.pop(f"alpha_{d}")
            setattr(self.net, f"alpha_{d}", part)

    def __exit__(self, *exc):
        for d, p in self.saved.items():
            delattr(self.net, f"alpha_{d}")
            self.net.register_parameter(f"alpha_{d}", p)
        self.net.set_argmax()


def _frozen(net):
    from core.train.curvature import frozen_batchnorm

    return frozen_batchnorm(net)


def _final_state(run):
    return torch.load(run.search_ckpt, weights_only=False)["model"]


def test_curvature_on_leaves_the_search_bit_identical(synthetic, start, tmp_path):
    on = synthetic(epochs=4)
    off = synthetic(epochs=4)
    on.run.out, off.run.out = tmp_path / "on", tmp_path / "off"
    on.search.probe_budget = 1.0  # every due epoch measured (the budget's hold-back: test_perturbation)
    off.search.curvature.enabled = False
    states, ends = [], []
    for cfg in (on, off):
        runner, run, seen = start(cfg, retrain=False)
        assert runner.wait(120).status == "done"
        states.append(_final_state(run))
        ends.append([e for e in seen if isinstance(e, EpochEnd)])
    a, b = states
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [e.alphas for e in ends[0]] == [e.alphas for e in ends[1]]
    curv = [e.curvature for e in ends[0]]
    assert curv[0] is None and all(c is not None and c == c and abs(c) < float("inf") for c in curv[1:])
    assert all(e.curvature is None for e in ends[1])
    summary = json.loads((tmp_path / "on" / "summary.json").read_text())
    assert [e for e, _ in summary["search"]["curvature"]] == [2, 3, 4]
    assert summary["search"]["stop_rule"] == {"rule": "none", "fired": False, "fired_at": None, "architecture_epoch": 4}
    assert set(ends[0][-1].entropy) == {str(b) for b in on.search_space().block_ids}


def test_every_n_epochs_and_the_fixed_subset_come_from_their_own_stream(tiny, tmp_path):
    cfg = tiny(search={"curvature": {"every": 3, "images": 40}})
    probe = _engine(cfg, tmp_path).probes.curvature
    assert isinstance(probe, CurvatureProbe)
    assert [probe.due(k) for k in range(1, 8)] == [True, False, False, True, False, False, True]
    assert probe.seed == stream(cfg.run.seed, "curvature")
    assert [len(y) for _, y in probe.batches] == [32, 8]
