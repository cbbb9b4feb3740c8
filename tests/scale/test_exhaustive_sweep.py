"""End to end (slow): ``presnet sweep --exhaustive --repeats 2`` on a 2-block x 2-candidate digits
space (4 architectures, 8 retrains of the tiny network), a tiny search beside it, and ``compare``
giving the variance split, every architecture's rank and where the search's pick falls."""

from __future__ import annotations

import json

import pytest

from core.config import dump_yaml
from core.scale.sweep import Sweep
from tests.conftest import tiny_config
from tests.support import invoke

#: Blocks 4 and 5 of the tiny network (depths [1, 1, 2, 1]) see 8x8 maps at 32 px: 3x3 and 5x5 differ.
SPACE = {"scope": [4, 5], "kernels": [3, 5], "activations": ["relu"]}


@pytest.mark.slow
def test_an_exhaustive_sweep_is_a_ground_truth_a_search_is_placed_on(tmp_path):
    cfg = tiny_config(
        tmp_path,
        space=SPACE,
        data={"limit_train": 120, "batch_size": 16},
        search={"epochs": 2, "warmup_epochs": 1, "patience": 1, "probe_budget": 1.0},  # the readout every epoch
        retrain={"epochs": 1, "bn_recalib_batches": 1},
        run={"threads": 1},
    )
    file = tmp_path / "space.yaml"
    file.write_text(dump_yaml(cfg))
    out = tmp_path / "truth"
    res = invoke("sweep", "--exhaustive", "--repeats", 2, "-c", file, "--out", out, "--workers", 2)
    assert res.exit_code == 0, res.output
    sweep = Sweep.open(out)
    assert len(sweep.runs) == 8 and {r.kind for r in sweep.runs} == {"space"}
    assert all(s.state == "done" for s in sweep.statuses())
    archs = {json.dumps(json.loads(f.read_text())["blocks"], sort_keys=True) for f in (out / "archs").iterdir()}
    assert len(archs) == 4  # every architecture of the space, each at both seeds
    search = tmp_path / "search"
    ran = invoke("run", "--headless", "-c", file, "--out", search)
    assert ran.exit_code == 0, ran.output
    res = invoke("compare", out, search, "--gain", "5")
    assert res.exit_code == 0, res.output
    text = res.stdout
    assert "Ground truth, scope 4,5: 4 architectures, 8 runs" in text
    assert "architectures in this space differ by about" in text and "seeds of one architecture by" in text
    assert text.count("4:3x3/relu 5:") + text.count("4:5x5/relu 5:") >= 4  # every architecture ranked
    placed = next(line for line in text.splitlines() if line.startswith(" search "))
    assert "/4 (" in placed  # the pick's rank of 4, with its interval
    # the supernet's two orderings, each correlated with the ground truth: the alphas' and the readout's
    assert "τ alphas" in text and "τ perturbation" in text, text
    assert "2 seeds x" not in text and "3 seeds x 3 random: +" in text
    rerun = invoke("sweep", "--exhaustive", "--repeats", 2, "-c", file, "--out", out)  # resumes: nothing left
    assert rerun.exit_code == 0 and "8 done already" in " ".join(rerun.output.split())
