"""Search space layout: block ids, scopes, parameter counts, super-network passes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision

from core.errors import PresnetError
from core.space import (
    SearchSpace,
    block_positions,
    scope_block_ids,
    validate_activations,
    validate_kernels,
    validate_scope,
)
from core.space.arch import snapshot_to_choices
from core.space.network import NetSpec, SearchNet, build_plain, count_params
from core.space.proxyless import Mode, PathSampler


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
    choices = snapshot_to_choices({str(b): p for b, p in net.probabilities().items()}, net.space)
    assert choices[1].kernel == 5 and choices[3].activation == "mish" and choices[2].kernel == 3
    plain = build_plain(NetSpec(width_mult=0.125), choices)
    assert plain.layer4[2].conv2.kernel_size == (5, 5)
    assert type(plain.layer4[0].act2).__name__ == "Mish"


def test_core_imports_without_ui_libraries():
    """Every module under core/ imports without a front end's library; none of them parses arguments."""
    code = (
        "import importlib, pkgutil, sys, core;"
        "[importlib.import_module(m.name) for m in pkgutil.walk_packages(core.__path__, 'core.')];"
        "bad = [m for m in ('textual', 'typer', 'rich', 'plotext', 'ray', 'matplotlib') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    core_dir = Path(__file__).resolve().parents[2] / "core"
    parsers = [p for p in core_dir.rglob("*.py") if "argparse" in p.read_text()]
    assert not parsers, parsers


@pytest.mark.parametrize(
    "given,expected", [(" M ", "m"), ("1,2,5", [1, 2, 5]), ("5, 1,1", [1, 5]), ([3, 1], [1, 3]), ((2,), [2])]
)
def test_scope_reads_letters_lists_and_text_alike(given, expected):
    assert validate_scope(given) == expected


def test_kernels_and_activations_from_text_or_lists():
    assert validate_kernels("5,3,5") == validate_kernels([5, 3]) == (5, 3)
    assert validate_activations(" ReLU,mish") == validate_activations(["relu", "MISH"]) == ("relu", "mish")


@pytest.mark.parametrize(
    "field,value,config_value",
    [("kernels", "4", [4]), ("activations", "tanh", ["tanh"]), ("scope", "17", [17]), ("scope", "1,x", "1,x")],
)
def test_one_wording_per_rule_in_the_space_a_config_and_an_architecture(field, value, config_value):
    """The command line, a config file and core.space give the same message for the same mistake."""
    from core.config import ConfigError, validate

    rule = {"kernels": validate_kernels, "activations": validate_activations, "scope": validate_scope}[field]
    with pytest.raises(PresnetError) as direct:
        rule(value) if field != "scope" else scope_block_ids(validate_scope(value))
    with pytest.raises(ConfigError) as from_config:
        validate({"space": {field: config_value}})
    assert direct.value.message in from_config.value.problems[0]
    assert from_config.value.problems[0].startswith(f"space.{field}")


def test_architecture_files_share_the_space_wording():
    from core.space.arch import parse_arch

    with pytest.raises(PresnetError) as arch_err:
        parse_arch({"blocks": {"1": {"kernel": 4}}}, "a.json")
    with pytest.raises(PresnetError) as space_err:
        validate_kernels([4])
    assert space_err.value.message in arch_err.value.line()


def test_snapshot_argmax_breaks_ties_towards_the_first_candidate():
    from core.space.arch import decision_argmax, snapshot_to_choices

    assert decision_argmax({"3": 0.5, "5": 0.5}) == ("3", 0.5)
    space = SearchSpace.build([1], kernels=[3, 5], activations=["relu", "mish"])
    snap = {"1": {"kernel": {"3": 0.4, "5": 0.6}, "activation": {"relu": 0.5, "mish": 0.5}}}
    choice = snapshot_to_choices(snap, space)[1]
    assert (choice.kernel, choice.activation) == (5, "relu")


def test_supernet_facts_match_a_real_build():
    from core.space.facts import supernet_facts

    spec = NetSpec(width_mult=0.125, depths=(1, 1, 2, 1))
    space = SearchSpace.build("m", depths=spec.depths)
    facts = supernet_facts(space, spec)  # on the meta device
    assert facts.supernet_params == sum(p.numel() for p in SearchNet(spec, space).weight_parameters())
    assert facts.baseline_params == count_params(build_plain(spec))
    assert facts.architectures == space.size and facts.block_ids == space.block_ids
