#!/usr/bin/env python3
"""Event latency of the two views (issue 30): how long the TUI's model and the headless view take to
take in one event, on a recorded event stream.  Not a test: wall-clock figures; say the load.

    OMP_NUM_THREADS=1 python scripts/bench_fold.py [--repeats 7] [--passes 200] [--events FILE]

Run it with ``PYTHONPATH=<checkout>`` to measure another checkout (e.g. the code before a change):
it only uses names both versions have (``RunModel.apply``, ``HeadlessView.handle``, ``RunDir``).
Each repeat folds the stream ``--passes`` times into fresh views; the figure is the time per event
(median of the repeats, and their range).
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

from rich.console import Console

from core.run.rundir import RunDir
from presnet_tui.cli.views.headless import HeadlessView
from presnet_tui.shared.model import RunModel

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "run-main-d8e0b70"


def per_event_us(events: list, make, feed, passes: int) -> float:
    start = time.perf_counter()
    for _ in range(passes):
        view = make()
        for e in events:
            feed(view, e)
    return (time.perf_counter() - start) / (passes * len(events)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--passes", type=int, default=200)
    parser.add_argument("--run", type=Path, default=FIXTURE, help="a run directory whose events.jsonl to replay")
    args = parser.parse_args()
    events = RunDir.open(args.run).events()
    cases = {
        "TUI model (RunModel.apply)": (RunModel, lambda m, e: m.apply(e)),
        "headless view (HeadlessView.handle)": (
            lambda: HeadlessView(Console(file=io.StringIO(), width=120)),
            lambda v, e: v.handle(e),
        ),
    }
    print(f"{len(events)} events from {args.run}, {args.passes} passes per repeat, n = {args.repeats} repeats\n")
    print("| view | µs per event, median | range |")
    print("|---|---:|---:|")
    for name, (make, feed) in cases.items():
        runs = [per_event_us(events, make, feed, args.passes) for _ in range(args.repeats)]
        print(f"| {name} | {statistics.median(runs):.1f} | {min(runs):.1f}–{max(runs):.1f} |")


if __name__ == "__main__":
    main()
