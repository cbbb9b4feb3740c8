"""compare --wide shows, per row, where the perturbation readout agreed with the alphas' argmax at the
architectures' epochs (summary.json's ``search.perturbation``)."""

from __future__ import annotations

import json
from pathlib import Path

from core.api.results import compare
from presnet_tui.cli.views import compare as compare_view
from tests.scale.test_compare_stats import invoke, plant_all


def _with_readout(path: Path, disagreements: list[list[str]]) -> None:
    s = json.loads((path / "summary.json").read_text())
    s["search"] |= {
        "select": "alpha",
        "perturbation": {
            "agreement": [[5, 4 - len(disagreements), 4]],
            "epoch": 5,
            "choices": {"1": {"kernel": "5", "activation": "mish"}, "2": {"kernel": "3", "activation": "relu"}},
            "disagreements": disagreements,
        },
    }
    (path / "summary.json").write_text(json.dumps(s))


def test_the_readouts_agreement_is_summed_over_a_rows_runs(tmp_path):
    search = plant_all(tmp_path, "search", [0.90, 0.92])
    _with_readout(search[0], [["1", "kernel", "3", "5"]])
    _with_readout(search[1], [])
    rows = {r.kind: r for r in compare(search + plant_all(tmp_path, "random", [0.85])).rows}
    assert (rows["search"].pt_agreeing, rows["search"].pt_decisions) == (7, 8)
    assert compare_view.readout(rows["search"]) == "7/8" and compare_view.readout(rows["random"]) == "-"
    res = invoke("compare", *search, "--wide")
    assert res.exit_code == 0 and "PT=α" in res.stdout and "7/8" in res.stdout
