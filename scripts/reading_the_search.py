"""Issue 37's experiment: which reading of a search picks the better architecture, measured against an
exhaustive ground truth (issue 36: digits, blocks 10-11, kernels {3, 5} x activations {relu, mish}, 16
architectures, each retrained with repeats).

Searches of seeds 0-4 on that space (``results/reading_the_search/space.yaml``: the ground truth's own
search settings, the perturbation readout on at every search epoch), then at each search's derive
epoch (the epoch its architecture comes from): the alphas' argmax, the perturbation readout's choice
and K random architectures, each looked up in the ground truth (no retraining).  Per selection: mean
ground-truth test top-1 with a 95 % t interval over the seeds, percentile in the space, Kendall tau
(scipy) of the selection's ordering of all 16 architectures against the ground truth's, and per
decision how many seeds agree.

    # the searches (CPU: nice, one thread), then the analysis
    python scripts/reading_the_search.py search --seeds 0 1 2 3 4
    python scripts/reading_the_search.py analyse --truth PATH/k35-relu-mish

The orderings: alpha -- the product of the decisions' softmax probabilities (what the argmax
maximises); perturbation -- the sum of the decisions' pinned accuracies (each decision read with the
others at their argmax: an additive reading, exact only where decisions do not interact); random --
a random permutation (seeded), the reference for tau = 0.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "reading_the_search"
DECISIONS = [("10", "kernel"), ("10", "activation"), ("11", "kernel"), ("11", "activation")]


def search(seeds: list[int], runs: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    for s in seeds:
        cmd = ["nice", "-n", "10", sys.executable, "-m", "presnet_tui.cli", "search", "-c", str(OUT / "space.yaml")]
        subprocess.run([*cmd, "--seed", str(s), "-o", str(runs / f"rts-seed{s}")], env=env, check=True)


def load_truth(folder: Path) -> dict[tuple[str, ...], dict[str, float]]:
    """(b10 kernel, b10 activation, b11 kernel, b11 activation) -> test mean, sd, n (archs.csv)."""
    out = {}
    with open(folder / "archs.csv") as f:
        for row in csv.DictReader(f):
            key = (row["b10_kernel"], row["b10_activation"], row["b11_kernel"], row["b11_activation"])
            out[key] = {"test_mean": float(row["test_mean"]), "test_sd": float(row["test_sd"] or 0), "n": int(row["n"])}
    return out


def read_search(run: Path) -> dict:
    """The derive epoch's alphas and perturbation readout of one search."""
    summary = json.loads((run / "summary.json").read_text())["search"]
    epoch = summary["stop_rule"]["architecture_epoch"]
    ends = {}
    for line in (run / "events.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e.get("kind") == "epoch_end":
            ends[e["epoch"]] = e
    read = max((k for k, e in ends.items() if k <= epoch and e.get("perturbation")), default=None)
    return {"epoch": epoch, "alphas": ends[epoch]["alphas"], "readout": ends[read]["perturbation"], "read_epoch": read}


def key_of(choice: dict[str, dict[str, str]]) -> tuple[str, ...]:
    return tuple(choice[b][d] for b, d in DECISIONS)


def pick(readout: dict) -> dict[str, dict[str, str]]:
    """The readout's choice per decision (core.run.readout.DecisionReadout.choice's rule)."""
    from core.run.readout import PerturbationReadout

    return PerturbationReadout.model_validate(readout).choices()


def orderings(found: dict, space: list[tuple[str, ...]]) -> dict[str, list[float]]:
    alphas, readout = found["alphas"], found["readout"]["decisions"]
    alpha = [sum(math.log(max(alphas[b][d][k[i]], 1e-12)) for i, (b, d) in enumerate(DECISIONS)) for k in space]
    pert = [sum(readout[b][d]["scores"][k[i]]["top1"] for i, (b, d) in enumerate(DECISIONS)) for k in space]
    return {"alpha": alpha, "perturbation": pert}


def interval(values: list[float]) -> tuple[float, float, float]:
    m = float(np.mean(values))
    if len(values) < 2:
        return m, float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, len(values) - 1) * stats.sem(values))
    return m, m - half, m + half


def analyse(truth_dir: Path, runs: Path, seeds: list[int], k: int) -> None:
    truth = load_truth(truth_dir)
    space = sorted(truth)
    gt = [truth[a]["test_mean"] for a in space]
    best = space[int(np.argmax(gt))]
    rows, picks, raw = [], {"alpha": [], "perturbation": []}, {}
    for s in seeds:
        found = read_search(runs / f"rts-seed{s}")
        argmax = {b: {d: max(p, key=p.get) for d, p in ds.items()} for b, ds in found["alphas"].items()}
        chosen = {"alpha": key_of(argmax), "perturbation": key_of(pick(found["readout"]))}
        order = orderings(found, space)
        rng = np.random.default_rng([37, s])
        randoms = [space[i] for i in rng.integers(0, len(space), size=k)]
        tau_random = stats.kendalltau(rng.permutation(len(space)), gt).statistic
        read = found["readout"]
        raw[str(s)] = {"derive_epoch": found["epoch"], "alphas": found["alphas"], "readout": read}
        strengths = [
            max(v["top1"] for v in r["scores"].values()) - r["scores"][r["argmax"]]["top1"]
            for ds in read["decisions"].values()
            for r in ds.values()
        ]
        row = {
            "seed": s,
            "derive_epoch": found["epoch"],
            "readout_epoch": found["read_epoch"],
            "readout_images": read["images"],
            "readout_supernet_top1": read["top1"],
            "readout_max_strength": max(strengths),
        }
        for name, key in chosen.items():
            picks[name].append(key)
            acc = truth[key]["test_mean"]
            row |= {
                f"{name}_arch": " ".join(key),
                f"{name}_truth": acc,
                f"{name}_percentile": 100 * sum(g < acc for g in gt) / (len(gt) - 1),
                f"{name}_tau": float(stats.kendalltau(order[name], gt).statistic),
            }
        row |= {
            "random_truth": float(np.mean([truth[a]["test_mean"] for a in randoms])),
            "random_percentile": float(
                np.mean([100 * sum(g < truth[a]["test_mean"] for g in gt) / 15 for a in randoms])
            ),
            "random_tau": float(tau_random),
        }
        rows.append(row)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "readouts.json").write_text(json.dumps(raw, indent=1) + "\n")  # the derive epochs' alphas and readouts
    write(rows, picks, truth, best, k, truth_dir)


def write(rows: list[dict], picks: dict, truth: dict, best: tuple[str, ...], k: int, truth_dir: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "per_seed.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    table = {}
    for name in ("alpha", "perturbation", "random"):
        acc = [r[f"{name}_truth"] for r in rows]
        tau = [r[f"{name}_tau"] for r in rows]
        table[name] = {
            "truth_mean_ci95": interval(acc),
            "percentile_mean": float(np.mean([r[f"{name}_percentile"] for r in rows])),
            "tau_mean_ci95": interval(tau),
        }
    diff = [r["perturbation_truth"] - r["alpha_truth"] for r in rows]
    test = stats.permutation_test(
        (diff,), np.mean, permutation_type="samples", alternative="two-sided", n_resamples=np.inf
    )  # exact sign flips of the paired differences
    table["perturbation_minus_alpha"] = {"mean": float(np.mean(diff)), "p_exact": float(test.pvalue)}
    agreement = {}
    for name, keys in picks.items():
        agreement[name] = {}
        for i, (b, d) in enumerate(DECISIONS):
            votes = [key[i] for key in keys]
            top, n = max(((v, votes.count(v)) for v in set(votes)), key=lambda t: t[1])
            agreement[name][f"{b} {d}"] = {"modal": top, "seeds": n, "of": len(votes), "truth_best": best[i]}
    result = {
        "n_seeds": len(rows),
        "k_random": k,
        "truth": "/".join(truth_dir.parts[-3:]),
        "space": {" ".join(a): v for a, v in sorted(truth.items())},
        "truth_best": " ".join(best),
        "selections": table,
        "seed_agreement": agreement,
    }
    (OUT / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    for name, t in table.items():
        if "truth_mean_ci95" not in t:
            print(f"perturbation - alpha: {100 * t['mean']:+.2f} points, paired exact p {t['p_exact']:.3f}")
            continue
        m, lo, hi = t["truth_mean_ci95"]
        tm, tlo, thi = t["tau_mean_ci95"]
        print(
            f"{name:13s} truth {100 * m:.2f} % [{100 * lo:.2f}, {100 * hi:.2f}]"
            f"  percentile {t['percentile_mean']:.0f}"
            f"  tau {tm:+.2f} [{tlo:+.2f}, {thi:+.2f}]"
        )
    for name, a in agreement.items():
        print(
            name, ", ".join(f"{d}: {v['modal']} {v['seeds']}/{v['of']} (best {v['truth_best']})" for d, v in a.items())
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["search", "analyse"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--runs", type=Path, default=ROOT / "runs")
    p.add_argument("--truth", type=Path, default=ROOT / "results" / "ground_truth" / "k35-relu-mish")
    p.add_argument("--k", type=int, default=20, help="random architectures per seed")
    a = p.parse_args()
    if a.what == "search":
        search(a.seeds, a.runs)
    else:
        analyse(a.truth, a.runs, a.seeds, a.k)


if __name__ == "__main__":
    main()
