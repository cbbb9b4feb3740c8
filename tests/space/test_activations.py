"""One registry per vocabulary: the activation names of core.space build modules through one table,
and the front ends' choice lists are those names."""

from __future__ import annotations

from typing import get_args

from torch import nn

from core.config import DEVICE_KINDS, Dataset
from core.space import ACTIVATIONS, CANDIDATE_MODES, KERNELS, STEMS, Activation, CandidateMode, Kernel, Stem
from core.space.activations import INPLACE_TYPES, create_activation


def test_every_activation_name_builds_its_module_and_in_place_is_a_switch():
    assert ACTIVATIONS == get_args(Activation) and KERNELS == get_args(Kernel)
    assert STEMS == get_args(Stem) and CANDIDATE_MODES == get_args(CandidateMode)
    for name in ACTIVATIONS:
        module = create_activation(name, inplace=True)
        assert isinstance(module, nn.Module)
        if isinstance(module, INPLACE_TYPES):
            assert module.inplace is True and create_activation(name, inplace=False).inplace is False
    assert not isinstance(create_activation("gelu"), INPLACE_TYPES)  # GELU has no in-place form
    assert create_activation("leakyrelu").negative_slope == 0.01


def test_the_setup_screen_offers_the_vocabulary():
    from presnet_tui.app.screens import setup

    assert setup.CHOICES["dataset"] == list(get_args(Dataset)) and setup.CHOICES["device"] == list(DEVICE_KINDS)
    assert setup.SCOPES == ["s", "m", "l", "f", "custom"]
