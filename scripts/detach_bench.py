"""Issue 29's three figures: the live progress channel's cost per step, the latency from an event on disk
to the attached screen, and the time from SIGTERM to a worker's exit.

    python scripts/detach_bench.py [--n 20] [--kills 5]

Prints each with its n and spread.  (1) is core.perf.progress_cost at the tiny run's measured step
time (``presnet bench`` prints it at the plain ResNet-50 step as its figure (8)).  (2) drives the real
app (Textual's pilot) attached to a run directory whose lock this script holds, appends one epoch_end
line at a time, and waits until the screen has taken it in and redrawn.  (3) starts tiny headless runs,
sends SIGTERM inside the second epoch, and times the ``suspended`` event and the exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

CONFIG = {
    "space": {"scope": "m"},
    "network": {"width_mult": 0.125, "depths": [1, 1, 2, 1]},
    "data": {"dataset": "synthetic", "synthetic_size": 640, "batch_size": 16, "val_fraction": 0.25},
    "search": {"epochs": 4, "warmup_epochs": 1, "alphas_every": 2},
    "retrain": {"epochs": 1},
    "run": {"device": "cpu", "threads": 1, "seed": 7},
}
CLI = [sys.executable, "-m", "presnet_tui.cli"]


def spread(xs: list[float]) -> str:
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"mean {statistics.mean(xs):.3f} s, sd {sd:.3f}, min {min(xs):.3f}, max {max(xs):.3f} (n={len(xs)})"


def sigterm_to_exit(tmp: Path, kills: int) -> tuple[list[float], list[float], list[float]]:
    """(SIGTERM -> suspended event, SIGTERM -> exit, the runs' step times) over ``kills`` runs."""
    cfg = tmp / "c.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG))
    rng = random.Random(29)
    to_event, to_exit, steps = [], [], []
    for i in range(kills):
        run = tmp / f"kill-{i}"
        proc = subprocess.Popen(
            [*CLI, "run", "--headless", "-c", str(cfg), "--out", str(run)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        events = run / "events.jsonl"
        while '"epoch_end"' not in (events.read_text() if events.exists() else ""):
            time.sleep(0.05)
        time.sleep(rng.uniform(0.1, 0.8))  # somewhere inside epoch 2
        sent = time.time()
        proc.terminate()
        code = proc.wait(120)
        exited = time.time()
        assert code == 143, f"exit {code}"
        lines = [json.loads(line) for line in events.read_text().splitlines()]
        (suspended,) = [e for e in lines if e["kind"] == "suspended"]
        ends = [e for e in lines if e["kind"] == "epoch_end"]
        steps.append(ends[0]["elapsed_s"] / json.loads(events.read_text().splitlines()[0])["steps_per_epoch"])
        to_event.append(suspended["time"] - sent)
        to_exit.append(exited - sent)
    return to_event, to_exit, steps


def attach_latency(tmp: Path, n: int) -> list[float]:
    """Seconds from an epoch_end line appended to the event file to the attached screen's redraw with it."""
    from core.run import lock
    from core.run.events import EpochEnd, read_events
    from presnet_tui.app.app import PresnetApp

    source = tmp / "kill-0"
    run = tmp / "attached"
    run.mkdir()
    (run / "config.yaml").write_text((source / "config.yaml").read_text())
    events = read_events(source / "events.jsonl")
    first_end = next(i for i, e in enumerate(events) if isinstance(e, EpochEnd))
    template = events[first_end]
    assert isinstance(template, EpochEnd)
    (run / "events.jsonl").write_text("".join(e.model_dump_json() + "\n" for e in events[: first_end + 1]))
    held = lock.acquire(run)
    out: list[float] = []

    async def scenario() -> None:
        app = PresnetApp(attach=run)
        async with app.run_test(size=(100, 30)) as pilot:
            screen = app.screen
            while screen.model.epochs_done < 1:
                await pilot.pause(0.05)
            for k in range(2, n + 2):
                await pilot.pause(random.uniform(0.3, 0.9))  # events arrive at any moment of the UI's cycle
                line = template.model_copy(update={"epoch": k, "epochs": n + 1}).model_dump_json() + "\n"
                t0 = time.monotonic()
                with open(run / "events.jsonl", "a") as f:
                    f.write(line)
                while not (screen.model.epochs_done == k and screen.redraws._last >= t0):
                    await pilot.pause(0.005)
                out.append(time.monotonic() - t0)

    try:
        asyncio.run(scenario())
    finally:
        held.release()
    return out


def quit_latency(tmp: Path, n: int) -> list[float]:
    """Seconds from ``q`` on the setup screen (pressed 0-2 s after it appeared, while torch may still be
    loading for its network count) to the app's process gone, under tmux at 100x30."""
    import shutil

    tmux_bin = shutil.which("tmux")
    assert tmux_bin, "tmux is needed for the quit latency"
    rng = random.Random(5)
    out = []
    for i in range(n):
        sock = f"presnet-quit-{i}"
        tmux = [tmux_bin, "-L", sock]
        cmd = " ".join([*CLI, "tui"])
        subprocess.run([*tmux, "new-session", "-d", "-s", "q", "-x", "100", "-y", "30", "-c", str(tmp)], check=True)
        subprocess.run([*tmux, "set-option", "-t", "q", "remain-on-exit", "on"], check=True)
        subprocess.run([*tmux, "respawn-pane", "-k", "-t", "q", cmd], check=True)

        def pane(fmt: str, tmux: list[str] = tmux) -> str:
            return subprocess.run([*tmux, "display", "-p", "-t", "q", fmt], capture_output=True, text=True).stdout

        while (
            "Search scope"
            not in subprocess.run([*tmux, "capture-pane", "-p", "-t", "q"], capture_output=True, text=True).stdout
        ):
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 2.0))
        subprocess.run([*tmux, "send-keys", "-t", "q", "q"], check=True)
        t0 = time.monotonic()
        while pane("#{pane_dead}").strip() != "1":
            time.sleep(0.01)
        out.append(time.monotonic() - t0)
        subprocess.run([*tmux, "kill-server"], check=False)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="events for the latency")
    parser.add_argument("--kills", type=int, default=5, help="runs to SIGTERM")
    parser.add_argument("--quit", type=int, default=0, help="only this: quit latency over N tries (tmux)")
    args = parser.parse_args()
    if args.quit:
        with tempfile.TemporaryDirectory() as d:
            print(f"(4) q on the setup screen -> process gone: {spread(quit_latency(Path(d), args.quit))}")
        return
    from core.perf.progress_cost import bench_progress

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        to_event, to_exit, steps = sigterm_to_exit(tmp, args.kills)
        step_s = statistics.mean(steps)
        cost = bench_progress(step_s)
        lo, hi = cost["spread_emitting_s"]
        print(
            f"(1) progress channel: {cost['per_step_s'] * 1e6:.1f} us per step = {cost['ratio']:.3%} of this run's "
            f"{step_s * 1e3:.1f} ms step (emitting tick + progress.json {cost['emitting_tick_s'] * 1e6:.0f} us, "
            f"median of 5 rounds, range {lo * 1e6:.0f}-{hi * 1e6:.0f})"
        )
        latency = attach_latency(tmp, args.n)
        print(f"(2) event on disk -> attached screen redrawn: {spread(latency)}")
        print(f"(3) SIGTERM -> suspended event (checkpoint written): {spread(to_event)}")
        print(f"    SIGTERM -> process exit: {spread(to_exit)}")


if __name__ == "__main__":
    main()
