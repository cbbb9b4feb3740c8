"""`presnet sweep`: scopes x seeds + baseline, killed midway and finished by the same command with
no run repeated; the same sweep on a local Ray; Table I from it (`compare`) and its figures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from core.errors import PresnetError
from core.run.events import EpochEnd, RetrainEpochEnd, RetrainStarted, SearchStarted, read_events
from core.scale.sweep import Sweep
from presnet_tui.cli.commands.sweep import parse_seeds, ray_address_argv
from tests.support import REPO, child_env, invoke

SWEEP_ARGS = ["--scopes", "s,m", "--seeds", "0,1", "--baseline"]


def tiny_sweep_yaml(folder: Path) -> Path:
    """tests/conftest.py's tiny network on digits: 2 search epochs (1 of warm-up), 1 retrain epoch."""
    cfg = {
        "network": {"width_mult": 0.125, "depths": [1, 1, 2, 1]},
        "data": {"dataset": "digits", "batch_size": 32, "val_fraction": 0.25, "augment": "pad_crop", "flip": False},
        "search": {"epochs": 2, "warmup_epochs": 1, "arch_lr": 0.05, "alphas_every": 2},
        "retrain": {"epochs": 1},
        "run": {"device": "cpu"},
    }
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def sweep_cmd(config: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "presnet_tui.cli", "sweep", "-c", str(config), *SWEEP_ARGS, "--workers", "2"] + [
        "--out",
        str(out),
    ]


def epochs_of(events: list, cls: type) -> list[int]:
    """Epoch numbers of one kind of epoch event, in file order."""
    return [e.epoch for e in events if isinstance(e, cls)]


@pytest.fixture(scope="module")
def killed_and_finished(tmp_path_factory):
    """Start the sweep, SIGKILL it (and its run processes) once a run has finished, rerun the same
    command; returns the sweep directory and what the finished runs looked like before the rerun."""
    folder = tmp_path_factory.mktemp("sweep")
    config, out = tiny_sweep_yaml(folder), folder / "sw"
    proc = subprocess.Popen(
        sweep_cmd(config, out),
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    done: dict[str, tuple[int, int]] = {}
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            summaries = sorted(out.glob("runs/*/summary.json"))
            done = {
                p.parent.name: (p.stat().st_mtime_ns, (p.parent / "events.jsonl").stat().st_size)
                for p in summaries
                if "test_top1" in json.loads(p.read_text()).get("retrain", {})
            }
            if done:
                break
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole sweep: front end and run processes, mid-step
        proc.wait()
    assert done, f"no run finished before the kill: {proc.stderr.read().decode() if proc.stderr else ''}"
    states_before = {s.name: s.state for s in Sweep.open(out).statuses()}
    rerun = subprocess.run(sweep_cmd(config, out), env=child_env(), capture_output=True, text=True, timeout=400)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    return out, done, states_before


@pytest.mark.slow
def test_killed_sweep_is_finished_by_the_same_command_without_repeating_a_run(killed_and_finished):
    out, done_before, states_before = killed_and_finished
    assert set(states_before.values()) - {"done"}, "the kill came after the whole sweep: nothing to resume"
    sweep = Sweep.open(out)
    assert len(sweep.runs) == 6 and all(s.state == "done" for s in sweep.statuses())
    assert set(json.loads((out / "sweep.json").read_text())["states"].values()) == {"done"}
    for name, (mtime, size) in done_before.items():  # finished runs were skipped, not touched
        run = out / "runs" / name
        assert (run / "summary.json").stat().st_mtime_ns == mtime and (run / "events.jsonl").stat().st_size == size
    for run in sweep.runs:
        events = read_events(sweep.run_dir(run) / "events.jsonl")
        search, retrain = epochs_of(events, EpochEnd), epochs_of(events, RetrainEpochEnd)
        assert search == ([1, 2] if run.kind == "search" else []), (run.name, search)
        assert retrain == [1], (run.name, retrain)
        fresh = [e for e in events if isinstance(e, SearchStarted | RetrainStarted) and not e.resumed]
        assert len(fresh) == (2 if run.kind == "search" else 1), run.name  # started once, never from scratch again
    for name, state in states_before.items():  # an interrupted run went on through its own resume
        log = (out / "logs" / f"{name}.log").read_text()
        assert (" resume " in log) == (state in ("incomplete", "failed")), (name, state, log)


@pytest.mark.slow
def test_compare_gives_table_one_rows_with_n_per_scope(killed_and_finished):
    out, _, _ = killed_and_finished
    res = invoke("compare", out, "--json")
    assert res.exit_code == 0, res.stderr
    rows = {r["scope"]: r for r in json.loads(res.stdout)}
    assert set(rows) == {"baseline", "s", "m"}
    for r in rows.values():
        assert r["n"] == 2 and 0 < r["top1_mean"] <= 1 and r["top1_std"] >= 0 and r["params_mean"] > 0
    assert rows["m"]["blocks"] == 3 and 0 <= rows["m"]["blocks_agreeing"] <= 3  # depths [1,1,2,1]: m = blocks 1-3
    md = invoke("compare", out, "--markdown").stdout
    assert md.startswith("| model") and md.count("\n") == 5
    csv = invoke("compare", out, "--csv").stdout.splitlines()
    assert csv[0].startswith("scope,model,n,params_mean,flops_mean,image_size,top1_mean,top1_std") and len(csv) == 4


def image_stats(path: Path) -> tuple[int, int, float]:
    import matplotlib.image

    pixels = matplotlib.image.imread(str(path))
    return pixels.shape[0], pixels.shape[1], float(pixels[..., :3].var())


@pytest.mark.slow
def test_figures_for_a_run_and_a_sweep(killed_and_finished, tmp_path):
    out, _, _ = killed_and_finished
    for target, name in ((out / "runs" / "m-seed0", "fig3.png"), (out, "table1.png")):
        fig = tmp_path / name
        res = invoke("plot", target, "--save", fig)
        assert res.exit_code == 0, res.stderr
        height, width, variance = image_stats(fig)
        assert height > 300 and width > 400 and variance > 1e-3, (name, height, width, variance)
    svg = tmp_path / "fig3.svg"
    assert invoke("plot", out / "runs" / "s-seed1", "--save", svg).exit_code == 0
    assert svg.read_text().lstrip().startswith("<?xml")
    assert invoke("plot", out, "--save", tmp_path / "t.txt").exit_code == 2  # a sweep is an image only


@pytest.mark.slow
def test_the_same_sweep_through_a_local_ray(tmp_path):
    pytest.importorskip("ray")
    config = tiny_sweep_yaml(tmp_path)
    out = tmp_path / "sw-ray"
    env = {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # Ray's local workers start from this process's environment
    try:
        res = invoke("sweep", "-c", config, *SWEEP_ARGS, "--ray", "--device", "cpu", "--out", out)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "(ray)" in (out / "logs" / "m-seed1.log").read_text()  # placed by a Ray task
    rows = {r["scope"]: r["n"] for r in json.loads(invoke("compare", out, "--json").stdout)}
    assert rows == {"baseline": 2, "s": 2, "m": 2}


def test_bad_sweep_arguments_fail_before_any_run(tmp_path):
    config = tiny_sweep_yaml(tmp_path)
    out = tmp_path / "sw"
    for args, where in (
        (["--scopes", "s,x"], "--scopes"),
        (["--scopes", "s,s"], "--scopes"),
        (["--seeds", "0,a", "--scopes", "s"], "--seeds"),
        (["--seeds", "1,1", "--scopes", "s"], "--seeds"),
        (["--scopes", ";"], "--scopes"),  # (no --scopes at all: the config's own scope)
        (["--scopes", "10-"], "--scopes"),
        (["--scopes", "s", "--workers", "0"], "--workers"),
        (["--scopes", "s", "--workers", "2", "--ray"], "--workers"),
        (["--scopes", "s", "--epochs", "0"], "search.epochs"),
        (["--scopes", "s", "--image-size", "3"], "data.image_size"),
        (["--scopes", "s", "--dataset", "imagefolder", "--data-dir", tmp_path / "nope"], "nope"),
    ):
        res = invoke("sweep", "-c", config, "--out", out, *args)
        assert res.exit_code == 2, (args, res.stdout, res.stderr)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and where in lines[0], (args, res.stderr)
        assert not out.exists(), args  # nothing created, nothing started


def test_a_sweep_directory_refuses_another_sweep(tmp_path):
    from core.config import load_config

    config = tiny_sweep_yaml(tmp_path)
    Sweep.create_or_open(tmp_path / "sw", ["s"], [0], False, load_config(config))
    again = Sweep.create_or_open(tmp_path / "sw", ["s"], [0], False, load_config(config))
    assert [r.name for r in again.runs] == ["s-seed0"]
    res = invoke("sweep", "-c", config, "--scopes", "s", "--seeds", "0", "--epochs", "5", "--out", tmp_path / "sw")
    assert res.exit_code == 2 and "another config (search.epochs" in res.stderr
    res = invoke("sweep", "-c", config, "--scopes", "m", "--out", tmp_path / "sw")
    assert res.exit_code == 2 and "holds another sweep" in res.stderr
    with again.lock():  # a front end is running this sweep: a second one must not start its runs
        res = invoke("sweep", "-c", config, "--scopes", "s", "--seeds", "0", "--out", tmp_path / "sw")
    assert res.exit_code == 2 and "another presnet sweep is running" in res.stderr
    assert not (tmp_path / "sw" / "runs" / "s-seed0").exists()


def test_seed_ranges_and_ray_address_syntax():
    assert parse_seeds("0-2,5") == [0, 1, 2, 5]
    argv = ["presnet", "sweep", "--scopes", "s", "--ray", "10.0.0.1:6379", "--seeds", "0"]
    assert ray_address_argv(argv)[4:7] == ["--ray", "--ray-address", "10.0.0.1:6379"]
    assert ray_address_argv(["presnet", "sweep", "--ray", "--seeds", "0"]) == [
        "presnet",
        "sweep",
        "--ray",
        "--seeds",
        "0",
    ]


async def _wait(pilot, cond, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out waiting for the app"
        await pilot.pause(0.1)


def test_tui_attach_lists_a_sweeps_runs_and_refuses_to_open_a_pending_one(tmp_path):
    import asyncio

    from core.config import load_config
    from presnet_tui.app.app import PresnetApp
    from presnet_tui.app.screens.sweep import SweepScreen

    sweep = Sweep.create_or_open(tmp_path / "sw", ["s", "m"], [3], True, load_config(tiny_sweep_yaml(tmp_path)))

    async def scenario():
        app = PresnetApp(attach=sweep.path)
        async with app.run_test(size=(100, 24)) as pilot:
            screen = app.screen
            assert isinstance(screen, SweepScreen)
            table = screen.query_one("DataTable")
            assert table.row_count == 3 and {s.state for s in screen.statuses} == {"pending"}
            await pilot.press("enter")
            await pilot.pause(0.2)
            assert app.screen is screen  # nothing to open yet

    asyncio.run(scenario())


@pytest.mark.slow
def test_tui_attach_opens_a_run_of_a_finished_sweep(killed_and_finished):
    import asyncio

    from presnet_tui.app.app import PresnetApp
    from presnet_tui.app.screens.sweep import AttachedRunScreen, SweepScreen

    out, _, _ = killed_and_finished

    async def scenario():
        app = PresnetApp(attach=out)
        async with app.run_test(size=(100, 30)) as pilot:
            sweep_screen = app.screen
            assert isinstance(sweep_screen, SweepScreen) and sweep_screen.query_one("DataTable").row_count == 6
            assert {s.state for s in sweep_screen.statuses} == {"done"}
            await pilot.press("down", "enter")  # the second run: m-seed0
            await _wait(pilot, lambda: isinstance(app.screen, AttachedRunScreen))
            run_screen = app.screen
            await _wait(pilot, lambda: run_screen.model.retrain_done is not None)
            assert run_screen.session.run_dir.path.name == "m-seed0" and run_screen.model.epochs_done == 2
            await pilot.press("escape")
            await _wait(pilot, lambda: app.screen is sweep_screen)

    asyncio.run(scenario())


def test_local_workers_are_pinned_to_gpus_and_split_the_cpu(tmp_path, monkeypatch):
    """Without GPUs here, the pinning is checked on what each run process is given: its
    CUDA_VISIBLE_DEVICES and thread count (the process itself only records them)."""
    from core.config import load_config
    from core.scale.placement import run_local

    sweep = Sweep.create_or_open(tmp_path / "sw", ["s", "m"], [0, 1], False, load_config(tiny_sweep_yaml(tmp_path)))
    env = "os.environ['CUDA_VISIBLE_DEVICES'] + ' ' + os.environ['OMP_NUM_THREADS']"
    record = f"import os, sys; open(sys.argv[1], 'w').write({env})"

    def command(self, run, entry, threads=None):
        return [sys.executable, "-c", record, str(tmp_path / f"{run.name}.env")]

    monkeypatch.setattr(Sweep, "command", command)
    seen: list[set[str]] = []
    result = run_local(
        sweep,
        2,
        entry=[sys.executable],
        gpus=2,
        threads=3,
        poll_s=0.05,
        on_poll=lambda ss: seen.append({s.name for s in ss if s.state == "running"}),
    )
    envs = {r.name: (tmp_path / f"{r.name}.env").read_text().split() for r in sweep.runs}
    assert {gpu for gpu, _ in envs.values()} == {"0", "1"} and {t for _, t in envs.values()} == {"3"}
    assert max(len(r) for r in seen) <= 2 and not result.interrupted  # never more than 2 at once


def test_missing_optional_packages_name_their_extra(tmp_path, monkeypatch):
    config = tiny_sweep_yaml(tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    res = invoke("sweep", "-c", config, "--scopes", "s", "--ray", "--out", tmp_path / "sw")
    assert res.exit_code == 2 and 'pip install -e ".[ray]"' in res.stderr and not (tmp_path / "sw").exists()
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    res = invoke("plot", tmp_path, "--save", tmp_path / "fig.png")  # not a run: the run check comes first
    assert res.exit_code == 2
    from presnet_tui.cli.views.figures import table1

    with pytest.raises(PresnetError, match=r'pip install -e "\.\[plots\]"'):
        table1([], tmp_path / "t.png")


def test_a_watcher_sees_running_runs_only_while_the_sweep_holds_its_lock(tmp_path):
    from core.config import load_config

    sweep = Sweep.create_or_open(tmp_path / "sw", ["s"], [0, 1], False, load_config(tiny_sweep_yaml(tmp_path)))
    started = sweep.run_dir(sweep.runs[0])
    started.mkdir(parents=True)
    (started / "config.yaml").write_text(sweep.config_file(sweep.runs[0]).name)  # begun, nothing written yet
    sweep.manifest.states = {"s-seed0": "running", "s-seed1": "pending"}
    sweep.save()
    assert [s.state for s in sweep.observed_statuses()] == ["incomplete", "pending"]  # killed, or never watched
    with sweep.lock():
        assert [s.state for s in sweep.observed_statuses()] == ["running", "pending"]


def test_sweep_modules_import_without_ui_or_optional_packages():
    """core.scale.sweep and core.results.table are engine code (no UI); Ray and matplotlib load only when used."""
    code = (
        "import sys, core.scale.sweep, core.scale.placement, core.results.table;"
        "bad = [m for m in ('textual', 'typer', 'rich', 'ray', 'matplotlib') if m in sys.modules];"
        "import presnet_tui.cli.views.figures;"
        "bad += [m for m in ('ray', 'matplotlib') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env())
    assert out.returncode == 0, out.stdout + out.stderr
