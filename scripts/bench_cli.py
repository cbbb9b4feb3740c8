#!/usr/bin/env python3
"""Latency of the command line and the TUI as a user feels it (issue 25), as a Markdown table.

Each case is a fresh process, run ``--repeats`` times; the table gives the median and the range.
Not a test: these are wall-clock times on a (possibly shared) machine -- say what load you measured at.

    OMP_NUM_THREADS=1 python scripts/bench_cli.py [--repeats 5] [--repo PATH]

``--repo`` measures another checkout (e.g. the code before a change) with this same script.

Cases:
- ``presnet --help`` and ``presnet run --help``: until the help is printed and the process exits;
- a bad option value (``run --epochs -3``, ``run --scope x``): until the one-line refusal, exit 2;
- a second writer (``resume RUN --headless``, ``run --headless --out RUN`` while another process holds RUN's
  lock): until the refusal, exit 2;
- ``presnet tui`` first paint: in a pseudo-terminal of 80x24, until the setup screen's text appears
  (the process is then ended; no CPU column: it is killed, not waited for as a finished child).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import resource
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ANSI = re.compile(rb"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07]*\x07|.)")


def env_for(repo: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}


#: CPU seconds (user + system) of each finished child, beside its wall time: on a shared machine the
#: wall time stretches with the load, the CPU time much less.
CPU: dict[str, list[float]] = {}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], repo: Path, want_code: int, case: str = "") -> float:
    cpu, start = children_cpu(), time.perf_counter()
    done = subprocess.run(argv, env=env_for(repo), capture_output=True, cwd=repo, check=False)
    elapsed = time.perf_counter() - start
    CPU.setdefault(case, []).append(children_cpu() - cpu)
    if done.returncode != want_code:
        raise SystemExit(f"{argv}: exit {done.returncode}, expected {want_code}\n{done.stderr.decode()[-800:]}")
    return elapsed


def repeat(n: int, case: str, argv: list[str], repo: Path, want_code: int) -> tuple[str, list[float]]:
    return case, [timed(argv, repo, want_code, case) for _ in range(n)]


def first_paint(repo: Path, text: bytes = b"Search scope", timeout: float = 60.0) -> float:
    """``presnet tui`` in a pty of 80x24: seconds until ``text`` is on the screen."""
    cli = [sys.executable, "-m", "presnet_tui.cli", "tui"]
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: the TUI, in the pty
        os.chdir(repo)
        os.execve(sys.executable, cli, {**env_for(repo), "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"})
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    seen = b""
    try:
        while time.perf_counter() - start < timeout:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(fd, 65536)
                except OSError:
                    break
                if text in ANSI.sub(b"", seen):
                    return time.perf_counter() - start
        raise SystemExit(f"presnet tui: {text!r} not painted in {timeout} s")
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)


HL = ["--headless"]

HOLDER = textwrap.dedent(
    """
    import sys, time
    from core.config import quickstart
    from core.run.rundir import RunDir
    cfg = quickstart().model_copy(update={"run": quickstart().run.model_copy(update={"out": sys.argv[1]})})
    run = RunDir.create(cfg)   # takes the lock, writes config.yaml
    print("held", flush=True)
    time.sleep(600)
    """
)


def second_writer_cases(repo: Path, repeats: int) -> dict[str, list[float]]:
    """Another process holds a run directory's lock; two ways of writing into it are refused."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "live"
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(run)], env=env_for(repo), stdout=subprocess.PIPE, text=True
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            cli = [sys.executable, "-m", "presnet_tui.cli"]
            return dict(
                [
                    repeat(
                        repeats,
                        "`resume RUN --headless`, RUN live elsewhere",
                        [*cli, "resume", str(run), "--headless"],
                        repo,
                        2,
                    ),
                    repeat(
                        repeats,
                        "`run --headless --out RUN`, RUN live elsewhere",
                        [*cli, "run", "--headless", "--out", str(run)],
                        repo,
                        2,
                    ),
                ]
            )
        finally:
            holder.kill()
            holder.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout to measure (default: this one)")
    args = parser.parse_args()
    repo, n = args.repo.resolve(), args.repeats
    cli = [sys.executable, "-m", "presnet_tui.cli"]
    cases = dict(
        [
            repeat(n, "`python -c pass` (the floor: interpreter start)", [sys.executable, "-c", "pass"], repo, 0),
            repeat(n, "`presnet --help`", [*cli, "--help"], repo, 0),
            repeat(n, "`presnet run --help`", [*cli, "run", "--help"], repo, 0),
            repeat(n, "`run --epochs -3` refused", [*cli, "run", "--epochs", "-3"], repo, 2),
            repeat(n, "`run --scope x` refused", [*cli, "run", "--scope", "x"], repo, 2),
        ]
    )
    cases.update(second_writer_cases(repo, n))
    cases["`presnet tui` first paint (80x24 pty)"] = [first_paint(repo) for _ in range(n)]
    load = os.getloadavg()
    print(f"repo {repo} · {os.cpu_count()} CPUs · load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} · n = {n}\n")
    print("| case | wall median (s) | wall min – max (s) | CPU median (s) |")
    print("|---|---:|---:|---:|")
    for name, times in cases.items():
        cpu = f"{statistics.median(CPU[name]):.2f}" if name in CPU else "–"
        print(f"| {name} | {statistics.median(times):.2f} | {min(times):.2f} – {max(times):.2f} | {cpu} |")


if __name__ == "__main__":
    main()
