"""A setting declared once (core.config.settings): the commands' options, the overrides they become and
the setup screen's fields are read from the one table, so a new flag is one line there plus its test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

import core.config.settings as settings_module
from core.api.config import ConfigOverrides, resolve_config
from core.config import SETTINGS, Setting, check_key
from presnet_tui.app.screens.setup import ROWS
from presnet_tui.cli.commands.common import app, with_settings
from tests.support import REPO


def test_every_declared_key_is_a_config_value():
    for s in SETTINGS:
        check_key(s.key, where=s.flag)  # a section or a typo: one line naming it
    assert len({s.name for s in SETTINGS}) == len({s.flag for s in SETTINGS}) == len(SETTINGS)


def test_every_command_takes_exactly_the_settings_that_name_it():
    """Whether generated (run, search, retrain, baseline) or taken by hand (inspect, sweep, ...), a command
    has a declared flag, with its help and type, exactly when the declaration names that command."""
    group = get_command(app)
    commands = {name: cmd for name, cmd in group.commands.items() if name != "config"}
    wrong = []
    for name, command in commands.items():
        options = {opt: p for p in command.params for opt in p.opts}
        for s in SETTINGS:
            param = options.get(s.flag)
            matches = param is not None and param.help == s.help
            if matches != (name in s.commands):
                wrong.append(f"{name} {s.flag}: {'taken' if matches else 'not taken'}, declared {s.commands}")
            elif matches:
                kind = param.type_descriptor.annotation  # the Python type Typer read (None stripped)
                if kind is not s.kind:
                    wrong.append(f"{name} {s.flag}: {kind}, declared {s.kind.__name__}")
    assert not wrong, "\n".join(wrong)


def test_run_lists_its_settings_in_the_table_order_then_set_and_its_own():
    params = [p.name for p in get_command(app).commands["run"].params]
    declared = [s.name for s in SETTINGS if "run" in s.commands]
    assert params == ["config", "headless", *declared, "set_", "nproc", "resume_if_exists"]


def test_a_new_setting_is_one_line_of_the_table(monkeypatch):
    """The table grows by one declaration: the command takes the flag, and it reaches the config."""
    new = Setting("batch_size", "data.batch_size", int, "images per step", ("search",))
    monkeypatch.setattr(settings_module, "SETTINGS", (*SETTINGS, new))
    monkeypatch.setattr(settings_module, "BY_NAME", {s.name: s for s in settings_module.SETTINGS})
    seen: list[ConfigOverrides] = []
    probe = typer.Typer()

    @probe.command()
    @with_settings("search")
    def search(*, overrides: ConfigOverrides) -> None:
        seen.append(overrides)

    res = CliRunner().invoke(probe, ["--batch-size", "12", "--epochs", "9", "--set", "run.seed=4"])
    assert res.exit_code == 0, res.output
    cfg = resolve_config(None, seen[0])
    assert (cfg.data.batch_size, cfg.search.epochs, cfg.run.seed) == (12, 9, 4)
    assert "images per step" in CliRunner().invoke(probe, ["--help"]).output


def test_overrides_by_name_paths_resolved_and_what_a_setting_implies(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    given = ConfigOverrides(progressive="s,m", out=Path("r"), download=False, warmup_epochs=None)
    assert given.dotted() == {
        "search.progressive": "s,m",
        "space.scope": "progressive",  # implied by --progressive, unless --scope says otherwise
        "run.out": str(tmp_path / "r"),
        "data.download": False,
    }
    assert ConfigOverrides(progressive="s,m", scope="m").dotted()["space.scope"] == "m"
    with pytest.raises(TypeError, match="warmup_epoch"):
        ConfigOverrides(warmup_epoch=1)  # a front end's typo fails loudly, it is not a silent no-op


def test_the_setup_screen_shows_the_settings_that_have_a_form_label():
    on_form = [name for row in ROWS for name in row]
    assert sorted(on_form) == sorted(s.name for s in SETTINGS if s.form)
    assert len(on_form) == len(set(on_form))


def test_the_cli_builds_its_options_without_loading_the_config_model():
    code = "import presnet_tui.cli, sys; print(sorted(m for m in ('pydantic', 'torch', 'yaml') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr
