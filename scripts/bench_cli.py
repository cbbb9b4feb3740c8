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

``--refusals`` (issue 39) instead times every refusal of bad input a new user met (the 43 cases of issue
39 and a few more), each a fresh process until its one ``error:`` line and exit 2; the TUI's refusals
(``tui --resume``, ``tui --attach``) in a pseudo-terminal.  Each must stay under a second (``--limit``);
the script exits 1 if one does not, or if one is not a single line with exit 2.  The limit holds for
each refusal's CPU time (the wall time stretches with the machine's load), and with ``--idle`` for its
wall time as well.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import re
import resource
import select
import shutil
import signal
import socket
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


def in_pty(argv: list[str], repo: Path, cwd: Path, timeout: float = 60.0) -> tuple[float, int, str]:
    """``presnet ARGS`` in a pseudo-terminal of 80x24 until it exits: (seconds, exit code, screen text)."""
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(cwd)
        env = {**env_for(repo), "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
        os.execve(sys.executable, [sys.executable, "-m", "presnet_tui.cli", *argv], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    seen = b""
    try:
        while time.perf_counter() - start < timeout:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break  # the child closed the terminal: it has exited
                if not chunk:
                    break
                seen += chunk
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return time.perf_counter() - start, os.waitstatus_to_exitcode(status), ANSI.sub(b"", seen).decode(errors="replace")


def refusal_fixtures(tmp: Path, repo: Path) -> dict[str, Path]:
    """A finished run (the committed fixture), an idle one (config only), bad config and architecture files."""
    finished = tmp / "finished"
    shutil.copytree(repo / "tests" / "fixtures" / "run-main-d8e0b70", finished)
    subprocess.run(
        [sys.executable, "-c", IDLE, str(tmp / "idle")], env=env_for(repo), check=True, capture_output=True, cwd=repo
    )
    files = {
        "warm.yaml": b"search: {epochs: 10, warmup_epochs: 10}\n",
        "utf16.yaml": "search:\n  epochs: 3\n".encode("utf-16"),
        "latin1.yaml": "# r\u00e9glages\nsearch: {epochs: 3}\n".encode("latin-1"),
        "utf16.json": json.dumps({"blocks": {}}).encode("utf-16"),
        "broken.json": b"{not json",
    }
    for name, data in files.items():
        (tmp / name).write_bytes(data)
    return {"finished": finished, "idle": tmp / "idle", **{name: tmp / name for name in files}}


IDLE = "import sys; from core.config import load_config; from core.run.rundir import RunDir; " + (
    "RunDir.create(load_config(None, {'run.out': sys.argv[1]})).release_lock()"
)


def refusal_cases(f: dict[str, Path], port: int, live: Path, repo: Path) -> list[tuple[str, list[object]]]:
    """(case, argv) of every refusal measured; ``live``: a run another process holds."""
    fin, w = f["finished"], quickstart_warmup(repo)
    return [
        ("run --epochs -3", ["run", "--epochs", "-3"]),
        ("run --scope x", ["run", "--scope", "x"]),
        ("run --headless --epochs 2 (inside the warm-up)", ["run", "--headless", "--epochs", "2", "-o", "r"]),
        ("search --epochs 1", ["search", "--epochs", "1", "-o", "r"]),
        ("search --stop-at-epoch 2", ["search", "--stop-at-epoch", "2", "-o", "r"]),
        ("config check (warm-up fills the search)", ["config", "check", f["warm.yaml"]]),
        (
            "sweep whose runs would not search",
            ["sweep", "-c", repo / "sample_configs/paper-s.yaml", "--scopes", "s", "--epochs", "5", "--out", "sw"],
        ),
        ("run -c UTF-16 config", ["run", "--headless", "-c", f["utf16.yaml"]]),
        ("config check UTF-16 config", ["config", "check", f["utf16.yaml"]]),
        ("config check Latin-1 config", ["config", "check", f["latin1.yaml"]]),
        ("retrain UTF-16 architecture", ["retrain", f["utf16.json"], "-o", "r"]),
        (f"stop IDLE --at-epoch {w} (warm-up)", ["stop", f["idle"], "--at-epoch", w]),
        ("stop FINISHED", ["stop", fin]),
        ("resume LIVE --headless", ["resume", live, "--headless"]),
        ("run --headless --out LIVE", ["run", "--headless", "--out", live]),
        ("resume FINISHED --headless", ["resume", fin, "--headless"]),
        ("run --headless --out FINISHED", ["run", "--headless", "--out", fin]),
        ("serve --port BUSY", ["serve", "--port", port]),
        (
            "run --dataset imagefolder --data-dir /nonexistent",
            ["run", "--headless", "--dataset", "imagefolder", "--data-dir", "/nonexistent", "-o", "r"],
        ),
        (
            "run --dataset cifar10 --data-dir /nonexistent",
            ["run", "--headless", "--dataset", "cifar10", "--data-dir", "/nonexistent", "-o", "r"],
        ),
        ("run --data-dir /nonexistent (digits: no folder)", ["run", "--headless", "--data-dir", "/nonexistent"]),
        ("derive notarun", ["derive", "notarun"]),
        ("derive FINISHED --epoch 99", ["derive", fin, "--epoch", "99"]),
        ("plot notarun", ["plot", "notarun"]),
        ("compare notarun", ["compare", "notarun"]),
        ("export notarun", ["export", "notarun"]),
        ("export FINISHED -f foo", ["export", fin, "-f", "foo"]),
        ("inspect nofile.json", ["inspect", "nofile.json"]),
        ("inspect broken.json", ["inspect", f["broken.json"]]),
        ("tensorboard notarun", ["tensorboard", "notarun"]),
        ("ls /nonexistent", ["ls", "/nonexistent"]),
        ("run --kernels 4", ["run", "--kernels", "4"]),
        ("run --activations foo", ["run", "--activations", "foo"]),
        ("run -c missing.yaml", ["run", "-c", "missing.yaml"]),
        ("run --set search.epochs=abc", ["run", "--set", "search.epochs=abc"]),
        ("run --set nosuch.key=1", ["run", "--set", "nosuch.key=1"]),
        ("retrain missing.json", ["retrain", "missing.json"]),
        ("baseline --retrain-epochs 0", ["baseline", "--retrain-epochs", "0"]),
        ("stop notarun", ["stop", "notarun"]),
        ("stop --pause --continue", ["stop", fin, "--pause", "--continue"]),
        ("run --resume-if-exists without --out", ["run", "--headless", "--resume-if-exists"]),
        ("run --image-size 4", ["run", "--image-size", "4"]),
        ("run --progressive 'x;y'", ["run", "--headless", "--progressive", "x;y"]),
        ("latency --scope x", ["latency", "--scope", "x"]),
        ("plan --budget soon", ["plan", "--budget", "soon"]),
        ("sweep --scopes x", ["sweep", "--scopes", "x", "--out", "sw"]),
        ("bench --scopes x", ["bench", "--scopes", "x"]),
        ("search --headless", ["search", "--headless"]),
        ("an unknown command", ["frobnicate"]),
        ("PTY tui --resume FINISHED", ["tui", "--resume", fin]),
        ("PTY resume FINISHED (the TUI)", ["resume", fin]),
        ("PTY tui --attach notarun", ["tui", "--attach", "notarun"]),
    ]


def quickstart_warmup(repo: Path) -> int:
    code = "from core.config import quickstart; print(quickstart().search.warmup_epochs)"
    return int(
        subprocess.run(
            [sys.executable, "-c", code], env=env_for(repo), capture_output=True, text=True, check=True, cwd=repo
        ).stdout
    )


def refusal(argv: list[object], repo: Path, cwd: Path) -> tuple[float, int, list[str]]:
    """One refused command: (seconds, exit code, its non-empty output lines)."""
    args = [str(a) for a in argv]
    cpu, start = children_cpu(), time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "presnet_tui.cli", *args],
        env=env_for(repo),
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )
    elapsed = time.perf_counter() - start
    LAST_CPU[0] = children_cpu() - cpu
    return elapsed, done.returncode, [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]


LAST_CPU = [0.0]  #: the CPU seconds of the last :func:`refusal`


def refusals(repo: Path, repeats: int, limit: float, idle: bool, save: Path | None = None) -> int:
    """Every refusal ``repeats`` times; prints the table and returns the number of failed cases.  The
    limit holds for the CPU time (what the command costs, whatever the load); ``idle`` (a machine with
    nothing else running) holds the wall time to it as well."""
    rows, bad = [], 0
    with tempfile.TemporaryDirectory() as tmp_name, socket.socket() as busy:
        tmp = Path(tmp_name)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        fixtures = refusal_fixtures(tmp, repo)
        live = tmp / "live"
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(live)], env=env_for(repo), stdout=subprocess.PIPE, text=True, cwd=repo
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            for name, argv in refusal_cases(fixtures, busy.getsockname()[1], live, repo):
                work = tmp / "cwd"
                work.mkdir(exist_ok=True)
                times, cpus, lines, code = [], [], [], 2
                for _ in range(repeats):
                    if name.startswith("PTY "):
                        cpu = children_cpu()
                        elapsed, code, text = in_pty([str(a) for a in argv], repo, work)
                        cpus.append(children_cpu() - cpu)  # os.waitpid reaped it: counted as a child
                        lines = [line for line in text.splitlines() if line.strip()]
                    else:
                        elapsed, code, lines = refusal(argv, repo, work)
                        cpus.append(LAST_CPU[0])
                    times.append(elapsed)
                    shutil.rmtree(work, ignore_errors=True)
                    work.mkdir()
                one_line = code == 2 and len(lines) == 1 and lines[0].startswith("error:")
                fast = statistics.median(cpus) < limit and (not idle or statistics.median(times) < limit)
                bad += not (one_line and fast)
                label = name.removeprefix("PTY ") + (" (pty)" if name.startswith("PTY ") else "")
                rows.append((label, times, cpus, one_line, fast, lines[0] if lines else ""))
        finally:
            holder.kill()
            holder.wait()
    load = os.getloadavg()
    if save is not None:  # every repeat's figures, behind the table
        cases = [
            {"case": name, "wall_s": times, "cpu_s": cpus, "one_line_exit_2": one_line, "under_limit": fast}
            for name, times, cpus, one_line, fast, _ in rows
        ]
        meta = {"cpus": os.cpu_count(), "load_average": load, "repeats": repeats, "limit_s": limit}
        save.write_text(json.dumps({**meta, "cases": cases}, indent=1) + "\n")
    print(
        f"repo {repo} · {os.cpu_count()} CPUs · load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} · "
        f"n = {repeats} · limit {limit:g} s\n"
    )
    print("| # | refusal | wall median (s) | wall max (s) | CPU median (s) | one line, exit 2 | under the limit |")
    print("|---:|---|---:|---:|---:|---|---|")
    for i, (name, times, cpus, one_line, fast, line) in enumerate(rows, 1):
        shape = "yes" if one_line else f"**no**: {line[:60]}"
        print(
            f"| {i} | `{name}` | {statistics.median(times):.2f} | {max(times):.2f} | {statistics.median(cpus):.2f} | "
            f"{shape} | {'yes' if fast else '**no**'} |"
        )
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout to measure (default: this one)")
    parser.add_argument("--refusals", action="store_true", help="time every refusal instead (issue 39)")
    parser.add_argument("--limit", type=float, default=1.0, help="with --refusals: the most seconds one may take")
    parser.add_argument("--idle", action="store_true", help="with --refusals: hold the wall time to the limit too")
    parser.add_argument("--save", type=Path, help="with --refusals: every repeat's wall and CPU seconds (JSON)")
    args = parser.parse_args()
    repo, n = args.repo.resolve(), args.repeats
    if args.refusals:
        raise SystemExit(1 if refusals(repo, n, args.limit, args.idle, args.save) else 0)
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
