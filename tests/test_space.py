"""Search space layout: block ids, scopes, parameter counts, super-network passes."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
import torchvision

from core.errors import PresnetError
from core.network import NetSpec, SearchNet, build_plain, count_params
from core.proxyless import Mode, PathSampler
from core.space import SearchSpace, block_positions, scope_block_ids


def test_plain_network_is_torchvision_resnet50():
    ours = build_plain(NetSpec())
    theirs = torchvision.models.resnet50(num_classes=10)
    assert count_params(ours) == count_params(theirs) == 23_528_522
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}


@pytest.mark.parametrize(
    "scope,ids", [("s", [1, 2, 3]), ("m", list(range(1, 10))), ("l", list(range(1, 14))), ("f", list(range(1, 17)))]
)
def test_scopes(scope, ids):
    assert scope_block_ids(scope) == ids


def test_block_ids_count_from_the_deepest():
    pos = {p.block_id: (p.stage, p.index) for p in block_positions()}
    assert pos[1] == (3, 2) and pos[3] == (3, 0) and pos[4] == (2, 5) and pos[16] == (0, 0)
    # other depths follow the same rule
    pos = {p.block_id: (p.stage, p.index) for p in block_positions((1, 1, 2, 1))}
    assert pos[1] == (3, 0) and pos[2] == (2, 1) and pos[5] == (0, 0)


def test_same_id_same_block_whatever_the_scope():
    spec = NetSpec(width_mult=0.125)
    for scope in ("s", "f", [2, 7]):
        net = SearchNet(spec, SearchSpace.build(scope))
        block7 = net.net.layer3[2]  # stage 3 holds ids 9..4: id 7 is its third block
        assert (type(block7).__name__ == "SearchBottleneck") == (7 in net.space.block_ids)


@pytest.mark.parametrize("bad", ["x", [0], [17], []])
def test_bad_scope(bad):
    with pytest.raises(PresnetError):
        scope_block_ids(bad)


@pytest.mark.parametrize("scope", ["s", "m", "l", "f"])
def test_supernet_forward_backward_every_scope(scope):
    space = SearchSpace.build(scope, kernels=(3, 5), activations=("relu", "leakyrelu", "mish"))
    net = SearchNet(NetSpec(width_mult=0.125), space)
    sampler = PathSampler(0)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    net.sample_weight_paths(sampler)
    F.cross_entropy(net(x), y).backward()
    assert all(p.grad is not None for p in net.net.fc.parameters())
    step = net.begin_arch_step(sampler, Mode.TWO_PATH)
    F.cross_entropy(net(x), y).backward(inputs=list(step.gates.values()))
    net.finish_arch_backward(step)
    assert net.alpha_kernel.grad.shape == (len(space.block_ids), 2)
    assert net.alpha_kernel.grad.abs().sum() > 0 and net.alpha_activation.grad.abs().sum() > 0


def test_argmax_network_matches_plain_build():
    space = SearchSpace.build("s")
    net = SearchNet(NetSpec(width_mult=0.125), space)
    with torch.no_grad():
        net.alpha_kernel[0, 1] = 2.0  # block 1 -> 5x5
        net.alpha_activation[2, 2] = 2.0  # block 3 -> mish
    choices = net.argmax_choices()
    assert choices[1].kernel == 5 and choices[3].activation == "mish" and choices[2].kernel == 3
    plain = build_plain(NetSpec(width_mult=0.125), choices)
    assert plain.layer4[2].conv2.kernel_size == (5, 5)
    assert type(plain.layer4[0].act2).__name__ == "Mish"


def test_core_imports_without_ui_libraries():
    code = (
        "import sys, core, core.engine, core.job, core.runner, core.pipeline, core.arch, core.config;"
        "bad = [m for m in ('textual', 'typer', 'rich', 'plotext') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
