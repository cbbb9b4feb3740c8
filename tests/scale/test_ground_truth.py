"""The ground truth of an exhaustive sweep (planted runs with known numbers): every architecture's
rank, the variance split against a hand computation, a searched pick looked up (rank, percentile,
intervals, Kendall tau of the alphas' ordering), the space's size with void kernels counted once,
and the cap's refusal."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest

from core.api.results import compare
from core.config import Config, dump_yaml
from core.errors import PresnetError
from core.results.variance import variance_split
from core.run.events import EpochEnd
from core.scale.exhaustive import check_cap, space_architecture, space_keys, space_size
from tests.conftest import tiny_config
from tests.support import invoke

#: Blocks 10 and 11 see 4x4 maps at 32 px (imagenet stem): 3x3 and 5x5 differ at both.
SPACE = {"scope": [10, 11], "kernels": [3, 5], "activations": ["relu"]}
NETWORK = {"width_mult": 0.125, "depths": [3, 4, 6, 3], "stem": "imagenet"}


def space_config(tmp_path: Path, **space) -> Config:
    return tiny_config(tmp_path, space=SPACE | space, network=NETWORK)


def plant(folder: Path, name: str, cfg: Config, blocks: dict[int, int], top1: float, seed: int, kind: str) -> Path:
    run = folder / name
    run.mkdir(parents=True)
    cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"seed": seed})})
    (run / "config.yaml").write_text(dump_yaml(cfg))
    arch = {"blocks": {str(b): {"kernel": k, "activation": "relu"} for b, k in blocks.items()}}
    summary: dict = {"params": 1000, "retrain": {"test_top1": top1, "val_top1": top1 - 0.01}}
    if kind == "space":
        summary["architecture"] = arch | {"source": {"space": {"scope": "custom-10-11", "index": 0, "of": 4}}}
    else:
        summary |= {"architecture": arch, "search": {"scope": [10, 11], "elapsed_s": 1.0, "epochs": 2}}
    (run / "summary.json").write_text(json.dumps(summary))
    return run


#: architecture (block 10's kernel, block 11's) -> its seeds' top-1s
TRUTH = {(3, 3): [0.80, 0.82, 0.84], (3, 5): [0.70, 0.71, 0.75], (5, 3): [0.90, 0.88, 0.92], (5, 5): [0.60, 0.65, 0.61]}


def plant_truth(tmp_path: Path) -> list[Path]:
    cfg = space_config(tmp_path)
    return [
        plant(tmp_path / "gt", f"a{k10}{k11}-s{s}", cfg, {10: k10, 11: k11}, v, s, "space")
        for (k10, k11), values in TRUTH.items()
        for s, v in enumerate(values)
    ]


def alphas_event(epoch: int, kernel10: dict[str, float], kernel11: dict[str, float]) -> str:
    snap = {
        "10": {"kernel": kernel10, "activation": {"relu": 1.0}},
        "11": {"kernel": kernel11, "activation": {"relu": 1.0}},
    }
    event = EpochEnd(
        epoch=epoch, epochs=2, phase="search", train_loss=1.0, train_top1=0.5, lr=0.1, elapsed_s=1.0, alphas=snap
    )
    return event.model_dump_json() + "\n"


def test_variance_split_matches_the_anova_by_hand():
    groups = list(TRUTH.values())
    split = variance_split(groups)
    assert split is not None
    means = [np.mean(g) for g in groups]
    grand = np.mean([x for g in groups for x in g])
    msb = 3 * sum((m - grand) ** 2 for m in means) / 3
    msw = sum((x - m) ** 2 for g, m in zip(groups, means) for x in g) / 8
    assert split.within_sd == pytest.approx(math.sqrt(msw))
    assert split.between_sd == pytest.approx(math.sqrt((msb - msw) / 3))
    assert split.icc == pytest.approx((msb - msw) / (msb + 2 * msw))
    assert split.n0 == pytest.approx(3.0) and split.archs == 4 and split.runs == 12
    for lo, point, hi in (
        (*split.icc_ci95[:1], split.icc, split.icc_ci95[1]),
        (split.within_sd_ci95[0], split.within_sd, split.within_sd_ci95[1]),
        (split.between_sd_ci95[0], split.between_sd, split.between_sd_ci95[1]),
    ):
        assert lo <= point <= hi
    assert split.p_value < 0.001 and "differ by about 12.1 points; seeds of one architecture by 2.3" in split.sentence()
    assert variance_split([[0.8], [0.9]]) is None  # no architecture repeated: no within spread


def test_icc_interval_covers_the_true_share_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    hits, sims, true_icc = 0, 400, 0.5
    for _ in range(sims):
        effects = rng.normal(0, 1.0, 16)
        groups = [list(e + rng.normal(0, 1.0, 3)) for e in effects]
        split = variance_split(groups)
        assert split is not None
        hits += split.icc_ci95[0] <= true_icc <= split.icc_ci95[1]
    assert 0.91 <= hits / sims <= 0.99  # 95 % nominal; 400 simulations: Monte-Carlo sd 1.1 %


def test_ground_truth_ranks_every_architecture_and_places_a_search(tmp_path):
    runs = plant_truth(tmp_path)
    search = plant(tmp_path / "s", "search-seed0", space_config(tmp_path), {10: 5, 11: 3}, 0.5, 0, "search")
    (search / "events.jsonl").write_text(
        alphas_event(1, {"3": 0.5, "5": 0.5}, {"3": 0.5, "5": 0.5})
        + alphas_event(2, {"3": 0.3, "5": 0.7}, {"3": 0.6, "5": 0.4})
    )
    result = compare([*runs, search])
    (truth,) = result.ground_truths
    assert [a.label for a in truth.archs] == [
        "10:5x5/relu 11:3x3/relu",
        "10:3x3/relu 11:3x3/relu",
        "10:3x3/relu 11:5x5/relu",
        "10:5x5/relu 11:5x5/relu",
    ]
    assert [a.rank for a in truth.archs] == [1, 2, 3, 4] and [a.percentile for a in truth.archs] == pytest.approx(
        [100, 200 / 3, 100 / 3, 0]
    )
    assert truth.archs[0].mean == pytest.approx(0.90) and truth.archs[0].n == 3
    (placed,) = truth.placements
    assert placed.rank == 1 and placed.percentile == 100 and placed.rank_ci95 == (1, 1)
    # the alphas (epoch 2: the derive epoch, the last) order 5x5/3x3 (0.7 * 0.6) > 5x5/5x5 (0.7 * 0.4)
    # > 3x3/3x3 (0.3 * 0.6) > 3x3/5x5 (0.3 * 0.4); against the truth's order 5x5/5x5 is out of place
    # in two of the six pairs: tau = (4 - 2) / 6
    (tau,) = placed.taus
    assert tau.ordering == "alphas" and tau.tau == pytest.approx(2 / 6)
    assert tau.ci95[0] <= tau.tau <= tau.ci95[1]
    plans = result.power[0]
    assert [(p.seeds, p.random) for p in plans] == [(3, 3), (5, 3), (10, 3)]
    assert plans[0].min_gain > plans[1].min_gain > plans[2].min_gain > 0


def test_compare_prints_the_split_the_ranks_and_the_pick(tmp_path):
    runs = plant_truth(tmp_path)
    search = plant(tmp_path / "s", "search-seed0", space_config(tmp_path), {10: 3, 11: 5}, 0.5, 0, "search")
    res = invoke("compare", *runs, search, "--gain", "2")
    assert res.exit_code == 0, res.stdout
    out = res.stdout
    assert "architectures in this space differ by about 12.1 points;\n  seeds of one architecture by 2.3" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "10:5x5/relu 11:3x3/relu" in out and "search-seed0" in out and "3/4" in out
    assert "3 seeds x 3 random: +" in out and "; power for +2.0: " in out


def test_the_space_counts_void_duplicates_once(tmp_path):
    assert space_size(space_config(tmp_path)) == 4
    # At 16 px block 10 sees a 2x2 map, where a 5x5 conv computes what a 3x3 does (one architecture);
    # block 13 (stage 2's first, before its stride) sees 4x4, where they differ.
    small = tiny_config(tmp_path, space=SPACE | {"scope": [10, 13]}, network=NETWORK, data={"image_size": 16})
    keys = space_keys(small)
    assert len(keys) == 2 and {k[0] for k in keys} == {(10, 3, "relu")}
    arch = space_architecture(small, 1)
    assert arch.blocks[10].kernel == 3 and arch.blocks[13].kernel == 5
    assert arch.source == {"space": {"scope": "custom-10-13", "index": 1, "of": 2}}


def test_a_space_over_the_cap_is_refused_naming_what_fits(tmp_path):
    big = space_config(tmp_path, scope=[10, 11, 12, 13], activations=["relu", "mish", "leakyrelu"])
    with pytest.raises(PresnetError) as err:
        check_cap(big, 64)
    text = str(err.value)
    assert "1,296 architectures, over the cap of 64" in text and "--scopes 10,11 (36 architectures)" in text
    assert check_cap(big, 2000) == 1296


def test_the_cli_refuses_an_oversized_exhaustive_sweep_before_any_step(tmp_path):
    cfg = tmp_path / "big.yaml"
    big = space_config(tmp_path, scope=[10, 11, 12], activations=["relu", "mish", "leakyrelu"])  # 6^3
    cfg.write_text(dump_yaml(big))
    out = tmp_path / "sweep"
    t0 = time.monotonic()
    res = invoke("sweep", "--exhaustive", "--repeats", 2, "-c", cfg, "--out", out)
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert res.exit_code == 2 and not out.exists() and time.monotonic() - t0 < 5 and len(lines) == 1
    assert "scope 10,11,12 has 216 architectures, over the cap of 64" in lines[0]
    assert "--scopes 10,11 (36 architectures)" in lines[0]
    res = invoke("sweep", "--repeats", 2, "-c", cfg, "--out", out)
    assert res.exit_code == 2 and "--exhaustive" in res.output and not out.exists()
    res = invoke("sweep", "--exhaustive", "--random", 2, "-c", cfg, "--out", out, "--cap", 500)
    assert res.exit_code == 2 and "no baseline or random runs" in res.output and not out.exists()


def test_plan_power_sizes_a_table_from_a_pilot_and_refuses_one_without_repeats(tmp_path):
    runs = plant_truth(tmp_path)
    flags = [x for r in runs for x in ("--power", r)]
    res = invoke("plan", *flags, "--seeds", 5, "--random", 3, "--gain", 10)
    assert res.exit_code == 0, res.output
    out = " ".join(res.stdout.split())
    assert "5 seeds x 3 random: +" in out and "power for +10.0:" in out and "3 seeds x" not in out
    res = invoke("plan", *flags, "--json")
    plans = json.loads(res.stdout)["plans"]
    assert [(p["seeds"], p["random"]) for p in plans] == [(3, 3), (5, 3), (10, 3)]
    res = invoke("plan", "--power", runs[0], "--power", runs[3])  # one run per architecture
    assert res.exit_code == 2 and "no architecture retrained twice" in res.output
