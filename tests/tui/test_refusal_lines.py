"""Issue 39's refusals: one line, exit 2, in under a second -- checked before torch loads -- and the TUI's
``e`` refuses an epoch that has already ended, naming the TUI's action rather than a CLI flag."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import pytest

from core.config import load_config
from core.run.rundir import RunDir
from presnet_tui.app.screens.dialogs import NumberScreen
from presnet_tui.app.screens.search import SearchScreen
from tests.support import REPO, child_env
from tests.tui.test_snapshots import search_events
from tests.tui_hosts import FixedSession, Host, settle

#: Runs ``presnet ARGS`` and says on stderr's last line whether torch was imported.
PROBE = (
    "import sys, runpy\n"
    "sys.argv = ['presnet', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('presnet_tui.cli', run_name='__main__')\n"
    "finally:\n    print('torch loaded' if 'torch' in sys.modules else 'no torch', file=sys.stderr)\n"
)


def refused(*args: object, cwd=None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *map(str, args)], env=child_env(), capture_output=True, text=True, cwd=cwd
    )
    *lines, torch_line = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:"), done.stderr
    assert torch_line == "no torch", f"{args}: refused only after torch loaded"
    return lines[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["run", "--headless", "--dataset", "imagefolder", "--data-dir", "/nonexistent"], "data_dir does not exist"),
        (["run", "--headless", "--dataset", "cifar10", "--data-dir", "/nonexistent"], "cifar10 not found"),
        (["run", "--headless", "--data-dir", "/nonexistent"], "reads no data folder"),
        (["derive", "notarun"], "no such directory"),
        (["export", "notarun"], "no such directory"),
        (["tensorboard", "notarun"], "no such directory"),
        (["inspect", "nofile.json"], "architecture file not found"),
        (["retrain", "nofile.json"], "architecture file not found"),
    ],
)
def test_refusals_that_loaded_torch_first_now_refuse_before_it(tmp_path, args, words):
    assert words in refused(*args, cwd=tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_derive_of_an_epoch_past_the_history_and_an_unknown_export_format_refuse_before_torch(tmp_path):
    run = REPO / "tests" / "fixtures" / "run-main-d8e0b70"
    assert "no epoch 99" in refused("derive", run, "--epoch", "99")
    assert "unsupported format 'foo'" in refused("export", run, "-f", "foo", "-o", tmp_path / "m.foo")


def test_serve_on_a_port_in_use_is_one_line_naming_the_port():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = refused("serve", "--port", port)
    assert f"port {port}" in line and "in use" in line and "--port" in line


class ConfiguredSession(FixedSession):
    """Fixed events, in a run directory with a config (the ``e`` dialog reads its warm-up)."""

    def __init__(self, events: list, run_dir: RunDir) -> None:
        super().__init__(events)
        self.run_dir = run_dir
        self.asked: list[int] = []

    def stop_at(self, epoch: int) -> None:
        self.asked.append(epoch)


def test_e_refuses_an_epoch_that_has_ended_naming_the_tui_action(tmp_path):
    run = RunDir.create(load_config(None, {"run.out": str(tmp_path / "run")}))
    run.release_lock()
    session = ConfiguredSession(search_events(8), run)  # epochs 1..8 have ended

    async def scenario():
        app = Host(lambda: SearchScreen(session))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("e")
            assert isinstance(app.screen, NumberScreen)
            await pilot.press("end", "backspace", "8", "enter")  # epoch 8 is over
            await pilot.pause(0.3)
            text = " ".join(str(n.message) for n in app._notifications)
            assert "e (stop at)" in text and "epoch 8 has already ended" in text and "--at-epoch" not in text
            assert session.asked == []
            await pilot.press("e")
            await pilot.press("end", "backspace", "9", "enter")
            await pilot.pause(0.3)
            assert session.asked == [9]

    asyncio.run(scenario())


def test_a_stop_asked_for_at_the_last_epoch_is_recorded_as_completed(synthetic, start):
    """The search ends there anyway: `user` would say someone cut it short (issue 39)."""
    runner, run, events = start(synthetic(epochs=2, stop_at_epoch=2), retrain=False)
    assert runner.wait(120).status == "done"
    (stopped,) = [e for e in events if e.kind == "search_stopped"]
    assert (stopped.epoch, stopped.reason) == (2, "completed")
    assert run.summary().search.stop_reason == "completed"
