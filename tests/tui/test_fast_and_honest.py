"""Issue 25: refusals come before torch loads, the TUI starts without it, help shows no `<bool>`, and a
resumed retrain does not claim to start from scratch."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap

from rich.console import Console

from core.run.events import RetrainStarted
from presnet_tui.cli.views.headless import HeadlessView
from tests.support import REPO, child_env, invoke


def torch_loaded_after(code: str) -> tuple[bool, str]:
    """Run ``code`` in a fresh interpreter; whether torch got imported, and what it printed to stderr."""
    probe = textwrap.dedent(code) + "\nimport sys\nprint('torch' in sys.modules)\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], env=child_env(), cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1] == "True", done.stderr


CLI_CALL = """
from presnet_tui.cli import app
try:
    app({args!r}, prog_name="presnet")
except SystemExit as exit_:
    assert exit_.code == {code}, exit_.code
"""


def test_a_bad_option_value_is_refused_before_torch_loads():
    for args in (["run", "--epochs", "-3"], ["run", "--scope", "x"], ["search", "--scope", "x"]):
        loaded, err = torch_loaded_after(CLI_CALL.format(args=args, code=2))
        assert not loaded, args
        assert err.count("error:") == 1


#: Holds a run directory's lock (the RunDir object must stay alive: its lock goes with it).
HOLDER = """
import sys, time
from core.config import quickstart
from core.run.rundir import RunDir
q = quickstart()
run = RunDir.create(q.model_copy(update={"run": q.run.model_copy(update={"out": sys.argv[1]})}))
print("held", flush=True)
time.sleep(120)
"""


def test_a_second_writer_is_refused_before_torch_loads(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLDER,
            str(tmp_path / "live"),
        ],
        env=child_env(),
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        for args in (
            ["resume", str(tmp_path / "live"), "--headless"],
            ["run", "--headless", "-o", str(tmp_path / "live")],
        ):
            loaded, err = torch_loaded_after(CLI_CALL.format(args=args, code=2))
            assert not loaded, args
            assert "live" in err or "in use" in err or "running" in err, err
    finally:
        holder.kill()
        holder.wait()


def test_the_tui_starts_without_torch():
    """What `presnet tui` imports before its first paint (torch comes later, on a worker thread)."""
    loaded, _ = torch_loaded_after("import presnet_tui.cli, presnet_tui.app.app, presnet_tui.app.screens.setup")
    assert not loaded


def test_help_shows_no_bool_placeholder_on_flags():
    for args in (["run", "--help"], ["resume", "--help"], ["serve", "--help"], ["config", "show", "--help"]):
        result = invoke(*args)
        assert result.exit_code == 0 and "<bool>" not in result.output, args
    assert "<path>" in invoke("run", "--help").output  # options that take a value keep their placeholder


def test_a_resumed_retrain_says_where_it_resumes():
    out = io.StringIO()
    view = HeadlessView(Console(file=out, width=120))
    common = {"epochs": 6, "params": 10, "baseline_params": 20, "steps_per_epoch": 3, "architecture": {}}
    view.handle(RetrainStarted(**common, start_epoch=4, resumed=True))
    view.handle(RetrainStarted(**common))
    first, second = out.getvalue().splitlines()[:2]
    assert "resumed at epoch 4/6" in first and "from scratch" not in first
    assert "from scratch" in second
