#!/usr/bin/env python3
"""The retrain's learning speed on real images, against the figures recorded before (issue 43).

Trains one fixed architecture (the quickstart's network, blocks 10-13: 5x5 mish, 3x3 mish, 5x5 mish,
3x3 mish, quarter width) from scratch on the CIFAR-10 subset with ``presnet retrain`` -- the command a
user runs -- and prints its training top-1 per epoch beside the figures recorded in
``results/retrain-guard/figures.json`` (the same command at commit d8e0b70, before the held-out split,
and at later commits; each with the machine it ran on). Not a test: a retrain's curve moves a few
points with the BLAS build and thread count, so read the table, not a threshold; the test that guards
the retrain's training path exactly is ``tests/train/test_retrain_reference.py``.

    python scripts/retrain_guard.py [--epochs 4] [--seed 0] [--data-dir PATH] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIGURES = REPO / "results" / "retrain-guard" / "figures.json"
ARCH = {
    "blocks": {
        "10": {"kernel": 5, "activation": "mish"},
        "11": {"kernel": 3, "activation": "mish"},
        "12": {"kernel": 5, "activation": "mish"},
        "13": {"kernel": 3, "activation": "mish"},
    },
    "stem": "imagenet",
    "width_mult": 0.25,
    "depths": [3, 4, 6, 3],
    "num_classes": 10,
}
SUBSETS = [Path(os.environ.get("PRESNET_CIFAR_SUBSET", "/nonexistent"))] + [
    p / "shared" / "data" / "cifar10-subset" for p in (REPO.parent, REPO.parent.parent)
]


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--epochs", type=int, default=4, help="retrain epochs (the curve's first N; default 4)")
    p.add_argument("--seed", type=int, default=0, help="the retrain's seed (default 0, as recorded)")
    p.add_argument("--data-dir", type=Path, default=next((s for s in SUBSETS if (s / "train").is_dir()), None))
    p.add_argument("--out", type=Path, default=None, help="run directory to keep (default: a temporary one)")
    return p.parse_args(argv)


def train_curve(epochs: int, seed: int, data_dir: Path, out: Path) -> tuple[list[float], float | None]:
    """Per-epoch training top-1 (%) of ``presnet retrain`` and, after the last epoch, its test top-1."""
    arch = out.parent / f"{out.name}-arch.json"
    arch.write_text(json.dumps(ARCH))
    cmd = ["presnet", "retrain", str(arch), "--dataset", "imagefolder", "--data-dir", str(data_dir)]
    cmd += ["--retrain-epochs", str(epochs), "--seed", str(seed), "--out", str(out)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    curve, test = [], None
    for line in (out / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["kind"] == "retrain_epoch_end":
            curve.append(100 * event["train_top1"])
        elif event["kind"] == "retrain_done":
            test = 100 * event["test_top1"]
    return curve, test


def report(curve: list[float], test: float | None, seed: int) -> None:
    recorded = [r for r in json.loads(FIGURES.read_text())["runs"] if r["seed"] == seed]
    names = [f"{r['commit']} ({r['machine']})" for r in recorded]
    print("| epoch | now | " + " | ".join(names) + " |")
    print("|---" * (2 + len(recorded)) + "|")
    for i, now in enumerate(curve):
        then = [r["train_top1"][i] for r in recorded if i < len(r["train_top1"])]
        cells = [f"{t:.1f} % ({now - t:+.1f})" for t in then]
        print(f"| {i + 1} | {now:.1f} % | " + " | ".join(cells) + " |")
    if test is not None:
        print(f"test top-1 after {len(curve)} epochs: {test:.2f} % (recorded runs: 12 epochs; see figures.json)")


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.data_dir is None or not (args.data_dir / "train").is_dir():
        print("error: the CIFAR-10 subset was not found; pass --data-dir (class folders train/ and test/)")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "guard"
        curve, test = train_curve(args.epochs, args.seed, args.data_dir, out)
    report(curve, test, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
