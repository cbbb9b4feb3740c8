#!/usr/bin/env python3
"""Write an exhaustive sweep's raw numbers (and the searches placed on it) as CSV/JSON (issue 36).

    python scripts/ground_truth_export.py SWEEP_DIR [SEARCH_RUN ...] --out results/ground_truth/NAME

Writes ``runs.csv`` (one row per finished retrain), ``archs.csv`` (one row per architecture: mean,
sd, rank) and, with searches, ``searches.json`` (each pick, its rank and percentile with their
intervals, Kendall tau of the alphas' ordering, and the alpha snapshot at the derive epoch), plus
``summary.json`` (the variance split and the power of planned Table I designs).  Every figure comes
from ``core`` (the code ``presnet compare`` runs), so the files and the terminal agree.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
from pathlib import Path

from core.api.results import compare
from core.results.ground_truth import _key_of
from core.results.orderings import alpha_snapshot, derive_epoch
from core.results.table import collect
from core.run.rundir import RunDir
from core.scale.exhaustive import key_label, space_keys
from core.scale.sweep import Sweep


def _decisions(label: str) -> dict[str, str]:
    out = {}
    for part in label.split():
        block, _, choice = part.partition(":")
        kernel, _, activation = choice.partition("/")
        out[f"b{block}_kernel"], out[f"b{block}_activation"] = kernel.partition("x")[0], activation
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sweep", type=Path)
    ap.add_argument("searches", type=Path, nargs="*")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    result = compare([args.sweep, *args.searches])
    (truth,) = result.ground_truths
    sweep = Sweep.open(args.sweep)
    keys = space_keys(sweep.run_config(sweep.runs[0]))  # the enumeration the sweep's arch indices follow
    order = {key_label(k): i for i, k in enumerate(keys)}
    runs = [r for r in collect([args.sweep]) if r.kind == "space"]
    rows = []
    for r in runs:
        label = key_label(_key_of(r.choices))
        rows.append(
            {
                "arch_index": order[label],
                "arch": label,
                **_decisions(label),
                "seed": r.seed,
                "val_top1": r.val_top1,
                "test_top1": r.top1,
                "params": r.params,
                "epochs": RunDir(r.path).summary().retrain.epochs,
            }  # type: ignore[union-attr]
        )
    rows.sort(key=lambda x: (x["seed"], x["arch_index"]))
    with open(args.out / "runs.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with open(args.out / "archs.csv", "w", newline="") as f:
        w = csv.writer(f)
        first = _decisions(truth.archs[0].label)
        w.writerow(["arch_index", "arch", *first, "n", "test_mean", "test_sd", "rank", "percentile", "val_mean"])
        for a in sorted(truth.archs, key=lambda a: order[a.label]):
            w.writerow(
                [
                    order[a.label],
                    a.label,
                    *_decisions(a.label).values(),
                    a.n,
                    a.mean,
                    a.sd,
                    a.rank,
                    a.percentile,
                    a.val_mean,
                ]
            )
    searches = []
    for p, path in zip(truth.placements, args.searches, strict=True):
        run = RunDir(path)
        searches.append(
            dataclasses.asdict(p)
            | {"path": str(path), "derive_epoch": derive_epoch(run), "alphas": alpha_snapshot(run)}
        )
    (args.out / "searches.json").write_text(json.dumps(searches, indent=2) + "\n")
    summary = {
        "split": dataclasses.asdict(truth.split) if truth.split else None,
        "power": [dataclasses.asdict(p) for p in result.power[0]],
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {len(rows)} runs, {len(truth.archs)} architectures, {len(searches)} searches to {args.out}")


if __name__ == "__main__":
    main()
