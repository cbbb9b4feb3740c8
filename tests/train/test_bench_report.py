"""The typed bench report: where an untyped measurement enters it, and an older report still renders."""

from __future__ import annotations

import pytest

from core.perf.bench_report import ProbeBench, ProgressBench, as_record
from presnet_tui.cli.views.bench import probe_line


def test_a_measurement_enters_the_report_only_under_the_records_keys():
    probes = {"search_iteration_s": 0.5, "probe_budget": 0.05, "curvature_s": 0.1, "curvature_share_paper": 0.01}
    assert as_record(ProbeBench, probes) == probes  # optional keys may be absent (a disabled probe)
    with pytest.raises(ValueError, match=r"unknown keys \['curvatur_s'\]"):
        as_record(ProbeBench, {"curvatur_s": 0.1})
    with pytest.raises(ValueError, match=r"missing keys \['writes'\]"):
        as_record(ProgressBench, {k: 1.0 for k in ProgressBench.__required_keys__ - {"writes"}})


def test_an_older_report_without_the_perturbation_probe_still_renders():
    old = {"scope": "s", "curvature_s": 0.25, "curvature_share_paper": 0.02}
    assert probe_line(old) == "(9) curvature probe, s: 0.250 s = 2.00%"
