"""Fig. 3 for joint candidates shows the pairs and their marginals, and reads in greyscale (issue 25)."""

from __future__ import annotations

import re

import pytest

from presnet_tui.shared.trajectory import trajectory_from_events
from tests.tui.test_tui_input_size import PAIRS, joint_events

pytest.importorskip("matplotlib")


def test_joint_fig3_has_the_pairs_the_marginals_and_a_dash_pattern_per_line(tmp_path):
    from presnet_tui.cli.views.figures import fig3

    out = tmp_path / "fig3.svg"
    fig3(trajectory_from_events(joint_events()), ["1", "2"], out, stop_epoch=3)
    svg = out.read_text()
    assert "block 1 · kernel/activation pairs" in svg
    assert "block 2 · kernel (marginal)" in svg and "block 2 · activation (marginal)" in svg
    assert all(f"<!-- {pair} -->" in svg for pair in PAIRS)  # one legend entry per pair line
    dashes = set(re.findall(r"stroke-dasharray: ([0-9.,]+)", svg))
    assert len(dashes) >= 3  # solid lines have none: four pairs need at least three dash patterns
