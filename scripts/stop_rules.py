"""Which stop is best? One long search per (dataset, seed), every stop rule replayed over its epochs.

Each search runs long with ``stop_rule: none`` (it records every epoch's alphas and curvature and
never stops early). Afterwards the margin rule and the curvature rule are replayed over its
``epoch_end`` events (:func:`core.api.stops.rule_verdicts`), and the architecture derived at

- (a) the end of the search,
- (b) the margin rule's converged epoch (the end, if it never converged),
- (c) the curvature rule's rollback epoch (the end, if it never fired)

is retrained from scratch with the search's seed: each distinct architecture once per seed (same
architecture and seed give the same result). The rules keep their published or configured
parameters: nothing here is tuned, least of all on the test figures.

    python scripts/stop_rules.py OUT search digits|cifar [SEEDS]   # the long searches (SEEDS: 0,1,2)
    python scripts/stop_rules.py OUT retrain digits|cifar [SEEDS]  # derive at each rule's epoch, retrain
    python scripts/stop_rules.py OUT report                  # table (markdown) + docs/stop-rules.png
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from core.api.derive import derive
from core.api.stops import curvature_points, rule_verdicts
from core.results.stats import mean_ci95
from core.run.events import EpochEnd, Unstable
from core.run.rundir import RunDir
from core.space.arch import save_arch

REPO = Path(__file__).resolve().parents[1]

SEEDS = (0, 1, 2, 3, 4)
RULES = ("end", "margin", "curvature")
SUBSETS = [Path(os.environ.get("PRESNET_CIFAR_SUBSET", "/nonexistent"))] + [
    p / "shared" / "data" / "cifar10-subset" for p in (REPO.parent, REPO.parent.parent)
]
CIFAR_SUBSET = next((p for p in SUBSETS if (p / "train").is_dir()), SUBSETS[-1])
LONG = {"stop_rule": "none", "auto_stop": False}
#: the curvature probe of both: 32 validation images (one batch), 10 Lanczos steps (the quickstart's)
PROBE = {"images": 32, "steps": 10}
DATASETS: dict[str, dict[str, Any]] = {
    # the quickstart (sample_configs/quickstart.yaml) but long: a 66-epoch schedule (60 architecture
    # epochs after its 6-epoch warm-up; the margin rule converged at epoch 22 in the one quickstart seed of
    # five that converged on this machine, so 3x that), and 20 retrain epochs instead of 40 (the CPU time
    # of one session; 20 reached 94.6 % mean validation top-1 against 96.0 % for 40, BENCHMARKS.md)
    "digits": {
        "base": REPO / "sample_configs" / "quickstart.yaml",
        "search": {"epochs": 66, "warmup_epochs": 6, "curvature": PROBE, **LONG},
        "retrain": {"epochs": 20},
    },
    # sample_configs/cifar10-subset.yaml at quarter width on 400 training images (limit_train; a quarter
    # of them train the alphas, as in the quickstart), batch 32, patience 3 (its default 10 cannot settle
    # in so few epochs), the quickstart's all-paths estimator and arch_lr 0.03 (a few hundred architecture
    # steps only), a 16-epoch schedule, 2 retrain epochs: cut for the same shared CPU, and still not run
    # to the end there (killed at epoch 3 to let digits finish; BENCHMARKS.md says so)
    "cifar": {
        "base": REPO / "sample_configs" / "cifar10-subset.yaml",
        "network": {"width_mult": 0.25},
        "data": {"data_dir": str(CIFAR_SUBSET), "limit_train": 400, "val_fraction": 0.25, "batch_size": 32},
        "search": {
            "epochs": 16,
            "warmup_epochs": 2,
            "patience": 3,
            "estimator": "all_paths",
            "arch_lr": 0.03,
            "curvature": PROBE,
            **LONG,
        },
        "retrain": {"epochs": 2},
    },
}


if os.environ.get("STOP_RULES_SMOKE"):  # the pipeline end to end in a minute: no figure worth reading
    SEEDS = (0,)
    for _spec in DATASETS.values():
        _spec["search"]["epochs"] = _spec["search"].get("warmup_epochs", 6) + 3
        _spec["retrain"]["epochs"] = 1


def config(dataset: str, seed: int) -> dict[str, Any]:
    spec = DATASETS[dataset]
    out = yaml.safe_load(Path(spec["base"]).read_text())
    for section, values in spec.items():
        if section != "base":
            out.setdefault(section, {}).update(values)
    out.setdefault("run", {}).update({"seed": seed, "device": "cpu", "threads": 1})
    out["run"].pop("runs_dir", None)
    return out


def presnet(*args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "presnet_tui.cli", *args], env=env, check=True, stdout=subprocess.DEVNULL)


def config_file(out: Path, dataset: str, seed: int) -> Path:
    path = out / f"{dataset}-{seed}.yaml"
    path.write_text(yaml.safe_dump(config(dataset, seed)))
    return path


def search(out: Path, dataset: str, seeds: tuple[int, ...] = SEEDS) -> None:
    for seed in seeds:
        run = out / f"{dataset}-{seed}"
        if (run / "summary.json").exists() and "search" in json.loads((run / "summary.json").read_text()):
            continue
        cfg = config_file(out, dataset, seed)
        if run.exists():
            presnet("resume", str(run), "--headless")
        else:
            presnet("search", "-c", str(cfg), "--out", str(run))
        print(f"searched {run}", flush=True)


def epochs_of(run: Path) -> tuple[Any, list[EpochEnd], list[Unstable]]:
    rd = RunDir.open(run)
    events = rd.events()
    return rd, [e for e in events if isinstance(e, EpochEnd)], [e for e in events if isinstance(e, Unstable)]


def rule_epochs(run: Path) -> dict[str, int]:
    rd, ends, _ = epochs_of(run)
    v = rule_verdicts(rd.config(), ends)
    return {"end": v.last, "margin": v.epoch_for("margin"), "curvature": v.epoch_for("curvature")}


def retrain(out: Path, dataset: str, seeds: tuple[int, ...] = SEEDS) -> None:
    for seed in seeds:
        run = out / f"{dataset}-{seed}"
        epochs = rule_epochs(run)
        done: dict[str, Path] = {}  # architecture (its blocks, as JSON) -> its retrain's run directory
        chosen: dict[str, str] = {}  # rule -> the retrain that measured its architecture
        for rule in RULES:
            arch = derive(RunDir.open(run), epochs[rule])
            key = json.dumps(arch.model_dump(mode="json")["blocks"], sort_keys=True)
            if key not in done:
                arch_file = out / f"{dataset}-{seed}-{rule}.arch.json"
                save_arch(arch_file, arch)
                target = out / f"{dataset}-{seed}-retrain-{rule}"
                summary = target / "summary.json"
                if not (summary.exists() and "retrain" in json.loads(summary.read_text())):
                    cfg = config_file(out, dataset, seed)
                    if target.exists():
                        presnet("resume", str(target), "--headless")
                    else:
                        presnet("retrain", str(arch_file), "-c", str(cfg), "--out", str(target), "--allow-unsearched")
                done[key] = target
                print(f"retrained {target}", flush=True)
            chosen[rule] = str(done[key])
        (out / f"{dataset}-{seed}-rules.json").write_text(json.dumps({"epochs": epochs, "retrain": chosen}, indent=1))


def test_top1(retrain_dir: Path) -> float:
    return float(json.loads((retrain_dir / "summary.json").read_text())["retrain"]["test_top1"])


def erratic(run: Path, anchor: int) -> dict[str, float]:
    """The alphas' movement: mean total variation per decision and epoch right after ``anchor`` (the
    margin rule's epoch) and over the last 10 epochs, and the settled decisions lost after it."""
    _, ends, unstable = epochs_of(run)
    tv = {
        e.epoch: statistics.fmean(v for d in e.alpha_change.values() for v in d.values())
        for e in ends
        if e.alpha_change
    }
    last = max(tv)
    after = [tv[k] for k in range(anchor + 1, min(anchor + 11, last + 1)) if k in tv]
    tail = [tv[k] for k in range(last - 9, last + 1) if k in tv]
    return {
        "tv_after": statistics.fmean(after) if after else float("nan"),
        "tv_tail": statistics.fmean(tail),
        "lost_after": sum(1 for u in unstable if u.epoch > anchor),
        "flips_after": sum(1 for u in unstable if u.epoch > anchor and u.reason == "flip"),
    }


def paired_p(a: list[float], b: list[float]) -> float | None:
    """Two-sided exact paired permutation p (sign flips of the per-seed differences)."""
    if len(a) < 2 or all(x == y for x, y in zip(a, b)):
        return None if len(a) < 2 else 1.0
    from scipy.stats import permutation_test

    res = permutation_test(
        (a, b), lambda x, y: statistics.fmean(x) - statistics.fmean(y), permutation_type="samples", vectorized=False
    )
    return float(res.pvalue)


def report(out: Path) -> None:
    rows, per = [], {}
    for dataset in DATASETS:
        for seed in SEEDS:
            rules_file = out / f"{dataset}-{seed}-rules.json"
            if not rules_file.exists():
                continue
            r = json.loads(rules_file.read_text())
            run = out / f"{dataset}-{seed}"
            top = {rule: test_top1(Path(r["retrain"][rule])) for rule in RULES}
            _, ends, _ = epochs_of(run)
            v = rule_verdicts(RunDir.open(run).config(), ends)
            row = {
                "dataset": dataset,
                "seed": seed,
                **{f"{k}_epoch": e for k, e in r["epochs"].items()},
                "margin_fired": v.margin is not None,
                "curvature_detected": v.curvature.detected if v.curvature else None,
                "distinct": len(set(r["retrain"].values())),
                **{f"{k}_top1": t for k, t in top.items()},
                **erratic(run, r["epochs"]["margin"]),
            }
            rows.append(row)
            per.setdefault(dataset, []).append(row)
    print(
        "| data | seed | end | margin converged | curvature detected → rollback | distinct archs | "
        "top-1 end | top-1 margin | top-1 curvature | TV after margin / last 10 | settled lost after margin |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        cd = f"{r['curvature_detected']} → {r['curvature_epoch']}" if r["curvature_detected"] else "did not fire"
        me = r["margin_epoch"] if r["margin_fired"] else "did not converge"
        print(
            f"| {r['dataset']} | {r['seed']} | {r['end_epoch']} | {me} | {cd} | {r['distinct']} | "
            f"{100 * r['end_top1']:.2f} | {100 * r['margin_top1']:.2f} | {100 * r['curvature_top1']:.2f} | "
            f"{r['tv_after']:.4f} / {r['tv_tail']:.4f} | {r['lost_after']} ({r['flips_after']} flips) |"
        )
    print("\n| data | rule | n | epoch (mean, range) | test top-1 mean ± 95 % t-interval |")
    print("|---|---|---|---|---|")
    for dataset, rs in per.items():
        for rule in RULES:
            vals = [100 * r[f"{rule}_top1"] for r in rs]
            ci = mean_ci95(vals)
            ep = [r[f"{rule}_epoch"] for r in rs]
            half = f" ± {(ci[1] - ci[0]) / 2:.2f}" if ci else ""
            print(
                f"| {dataset} | {rule} | {len(vals)} | {statistics.fmean(ep):.1f} ({min(ep)}-{max(ep)}) | "
                f"{statistics.fmean(vals):.2f}{half} % |"
            )
    print("\n| data | pair | mean difference (pp) | paired permutation p (exact, two-sided) |")
    print("|---|---|---|---|")
    for dataset, rs in per.items():
        for a, b in itertools.combinations(RULES, 2):
            xa, xb = [100 * r[f"{a}_top1"] for r in rs], [100 * r[f"{b}_top1"] for r in rs]
            p = paired_p(xa, xb)
            diff = statistics.fmean(x - y for x, y in zip(xa, xb))
            print(f"| {dataset} | {a} − {b} | {diff:+.2f} | {'-' if p is None else f'{p:.3f}'} |")
    figure(out, per)


def figure(out: Path, per: dict[str, list[dict[str, Any]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(per), 2, figsize=(11, 3.4 * len(per)), squeeze=False)
    for row, (dataset, rs) in enumerate(per.items()):
        ax_c, ax_tv = axes[row]
        for r in rs:
            run = out / f"{dataset}-{r['seed']}"
            _, ends, _ = epochs_of(run)
            pts = curvature_points(ends)
            (line,) = ax_c.plot([e for e, _ in pts], [v for _, v in pts], lw=1, label=f"seed {r['seed']}")
            c = line.get_color()
            if r["margin_fired"]:
                ax_c.axvline(r["margin_epoch"], color=c, ls=":", lw=1)
            if r["curvature_detected"]:
                val = dict(pts)
                ax_c.plot([r["curvature_detected"]], [val[r["curvature_detected"]]], "x", color=c, ms=8)
                ax_c.plot([r["curvature_epoch"]], [val[r["curvature_epoch"]]], "o", color=c, mfc="none", ms=8)
            tv = [
                (e.epoch, statistics.fmean(v for d in e.alpha_change.values() for v in d.values()))
                for e in ends
                if e.alpha_change and e.phase == "search"
            ]
            ax_tv.plot([e for e, _ in tv], [v for _, v in tv], lw=1, color=c)
            if r["margin_fired"]:
                ax_tv.axvline(r["margin_epoch"], color=c, ls=":", lw=1)
        ax_c.set_yscale("log")
        ax_c.set_title(
            f"{dataset}: largest Hessian eigenvalue (x detection, o rollback, : margin converged)", fontsize=8
        )
        ax_c.set_xlabel("epoch")
        ax_c.legend(fontsize=7)
        ax_tv.set_title(f"{dataset}: mean total variation of the alphas per epoch", fontsize=8)
        ax_tv.set_xlabel("epoch")
    fig.tight_layout()
    target = REPO / "docs" / "stop-rules.png"
    fig.savefig(target, dpi=110)
    print(f"\nfigure: {target}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """``OUT search|retrain DATASET [SEEDS]`` or ``OUT report`` (the module docstring's three lines)."""
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="folder of the searches, retrains and report")
    parser.add_argument("what", choices=("search", "retrain", "report"), help="which step")
    parser.add_argument("dataset", nargs="?", choices=sorted(DATASETS), help="search and retrain: which data")
    parser.add_argument("seeds", nargs="?", default=",".join(map(str, SEEDS)), help="comma-separated seeds")
    args = parser.parse_args(argv)
    if args.what != "report" and args.dataset is None:
        parser.error(f"{args.what} needs a dataset ({' or '.join(sorted(DATASETS))})")
    return args


if __name__ == "__main__":
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.what == "report":
        report(args.out)
    else:
        seeds = tuple(int(x) for x in args.seeds.split(","))
        {"search": search, "retrain": retrain}[args.what](args.out, args.dataset, seeds)
