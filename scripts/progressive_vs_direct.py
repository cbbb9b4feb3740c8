"""Progressive (stage 2 first, then stage 1) against a direct search of the same blocks, seeds 0-2.

Runs ``presnet run --headless`` once per (dataset, method, seed), one after another, and prints a
markdown table of what each run's own files say: search epochs and wall time, why it stopped,
decisions settled, retrained test top-1 (the last epoch's, never the best).  Used for
BENCHMARKS.md ("Progressive search, measured"); settings are the constants below, not tuned.

    python scripts/progressive_vs_direct.py OUT_DIR [digits|cifar[:direct,progressive,progressive-half]]...
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SUBSETS = [Path(os.environ.get("PRESNET_CIFAR_SUBSET", "/nonexistent"))] + [
    p / "shared" / "data" / "cifar10-subset" for p in (REPO.parent, REPO.parent.parent)
]
CIFAR_SUBSET = next((p for p in SUBSETS if (p / "train").is_dir()), SUBSETS[-1])
STAGE2, WIDER = [10, 11, 12, 13], [10, 11, 12, 13, 14, 15, 16]
COMMON = {
    "network": {"width_mult": 0.25},
    "run": {"device": "cpu", "threads": 1},
}
DATASETS = {
    # the quickstart's settings, with a cap of 20 search epochs and 20 retrain epochs
    "digits": {
        "data": {"dataset": "digits", "val_fraction": 0.25, "batch_size": 64, "augment": "pad_crop", "flip": False},
        "search": {"epochs": 20, "warmup_epochs": 2, "arch_lr": 0.01, "alphas_every": 2, "patience": 3},
        "retrain": {"epochs": 20},
    },
    # sample_configs/cifar10-subset.yaml's settings at quarter width on 1,500 training images, shortened
    # (12 search and 5 retrain epochs) to fit a shared 2-core CPU
    "cifar": {
        "data": {
            "dataset": "imagefolder",
            "data_dir": str(CIFAR_SUBSET),
            "val_fraction": 0.1,
            "augment": "crop_resize",
            "limit_train": 1500,
        },
        "search": {"epochs": 12, "warmup_epochs": 2, "arch_lr": 0.005, "patience": 3},
        "retrain": {"epochs": 5},
    },
}
METHODS = {
    "direct": {"space": {"scope": WIDER}, "search": {"auto_stop": True}},
    # no stage budget: a stage ends only when its decisions settle (or at the cap)
    "progressive": {"space": {"scope": "progressive"}, "search": {"progressive": [STAGE2, WIDER]}},
    # each stage gets at most half the cap (the one choice made here; nothing else differs)
    "progressive-half": {"space": {"scope": "progressive"}, "search": {"progressive": [STAGE2, WIDER]}},
}


def config(dataset: str, method: str, seed: int) -> dict:
    out: dict = {}
    for part in (COMMON, DATASETS[dataset], METHODS[method], {"run": {"seed": seed}}):
        for section, values in part.items():
            out.setdefault(section, {}).update(values)
    if method == "progressive-half":
        out["search"]["stage_epochs"] = out["search"]["epochs"] // 2
    return out


def settled_decisions(run: Path) -> tuple[int, int]:
    """(settled, total): decisions frozen at a stage's end (settled by construction: freeze_unsettled is off)
    and the others settled at the last epoch's end (each decision counted once)."""
    frozen: set[tuple[str, str]] = set()
    last: dict = {}
    for line in (run / "events.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e["kind"] == "stage_end":
            frozen |= {(b, d) for b, ds in e["frozen"].items() for d in ds}
        elif e["kind"] == "epoch_end":
            last = e.get("settled", {})
    settled = frozen | {(b, d) for b, ds in last.items() for d, ok in ds.items() if ok}
    return len(settled), len(WIDER) * 2


def main(out: Path, plan: list[tuple[str, list[str]]]) -> None:
    rows = []
    for dataset, methods in plan:
        for method in methods:
            for seed in (0, 1, 2):
                run = out / f"{dataset}-{method}-{seed}"
                if not (run / "summary.json").exists() or "retrain" not in json.loads(
                    (run / "summary.json").read_text()
                ):
                    cfg = out / f"{run.name}.yaml"
                    cfg.write_text(yaml.safe_dump(config(dataset, method, seed)))
                    args = ["run", "--headless", "-c", str(cfg), "--out", str(run)]
                    if run.exists():
                        args = ["resume", str(run), "--headless"]
                    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
                    subprocess.run(
                        [sys.executable, "-m", "presnet_tui.cli", *args], env=env, check=True, stdout=subprocess.DEVNULL
                    )
                s = json.loads((run / "summary.json").read_text())
                settled, total = settled_decisions(run)
                rows.append(
                    (
                        dataset,
                        method,
                        seed,
                        s["search"]["epochs"],
                        s["search"]["elapsed_s"],
                        s["search"]["stop_reason"],
                        settled,
                        total,
                        s["retrain"]["test_top1"],
                    )
                )
                print(*rows[-1], flush=True)
    print("\n| data | method | seed | search epochs | search wall s | stop | settled | top-1 |")
    print("|---|---|---|---|---|---|---|---|")
    for d, m, seed, ep, wall, why, st, tot, top1 in rows:
        print(f"| {d} | {m} | {seed} | {ep} | {wall:.0f} | {why} | {st}/{tot} | {100 * top1:.1f} % |")
    print("\n| data | method | n | search epochs | search wall s | settled | top-1 (mean ± sd) |")
    print("|---|---|---|---|---|---|---|")
    for d, methods in plan:
        for m in methods:
            rs = [r for r in rows if r[0] == d and r[1] == m]

            def mean(i: int, rs: list = rs) -> float:
                return statistics.mean(r[i] for r in rs)

            sd = statistics.stdev(100 * r[8] for r in rs)
            print(
                f"| {d} | {m} | {len(rs)} | {mean(3):.1f} | {mean(4):.0f} | {mean(6):.1f}/{rs[0][7]} | "
                f"{100 * mean(8):.1f} ± {sd:.1f} % |"
            )


def parse_args(argv: list[str] | None = None) -> tuple[Path, list[tuple[str, list[str]]]]:
    """``OUT [DATASET[:METHOD,METHOD...]]...`` (default: every dataset with direct and progressive)."""
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="folder of the runs")
    parser.add_argument(
        "plan", nargs="*", default=list(DATASETS), help=f"DATASET[:METHOD,...], DATASET one of {', '.join(DATASETS)}"
    )
    args = parser.parse_args(argv)
    plan = [
        (a.partition(":")[0], a.partition(":")[2].split(",") if ":" in a else ["direct", "progressive"])
        for a in args.plan
    ]
    for dataset, _ in plan:
        if dataset not in DATASETS:
            parser.error(f"unknown dataset {dataset!r} (use one of {', '.join(DATASETS)})")
    return args.out, plan


if __name__ == "__main__":
    main(*parse_args())
