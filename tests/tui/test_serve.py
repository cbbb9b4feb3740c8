"""``presnet serve`` (issue 25): its refusals, its warning, the command it serves, and the terminal check
that lets Textual's web driver through."""

from __future__ import annotations

import io
import shlex
import sys

import pytest

from presnet_tui.cli.terminal import WEB_DRIVER, has_terminal
from presnet_tui.web.serve import is_loopback, tui_command
from tests.support import invoke


class FakeServer:
    """Stands in for textual_serve.server.Server: records what it was given, serves nothing."""

    made: list[FakeServer] = []

    def __init__(self, command: str, *, token: str, host: str, port: int, title: str) -> None:
        self.command, self.host, self.port, self.token = command, host, port, token
        FakeServer.made.append(self)

    def serve(self) -> None:
        pass


@pytest.fixture
def fake_server(monkeypatch):
    FakeServer.made = []
    token_server = pytest.importorskip("presnet_tui.web.token_server", reason="the web extra is not installed")
    monkeypatch.setattr(token_server, "TokenServer", FakeServer)
    monkeypatch.delenv("PRESNET_SERVE_TOKEN", raising=False)
    return FakeServer.made


def test_serves_the_tui_of_this_interpreter_on_loopback_by_default(fake_server, tiny_yaml):
    result = invoke("serve", "-c", tiny_yaml, "--port", 8123)
    assert result.exit_code == 0, result.output
    (server,) = fake_server
    assert (server.host, server.port) == ("127.0.0.1", 8123)
    argv = shlex.split(server.command)
    assert argv[:4] == [sys.executable, "-m", "presnet_tui.cli", "tui"]
    assert argv[4:] == ["--config", str(tiny_yaml.resolve())]
    assert f"http://127.0.0.1:8123/?token={server.token}" in result.output
    assert len(server.token) >= 40  # secrets.token_urlsafe(32)


def test_each_server_has_its_own_token_unless_given_one(fake_server, monkeypatch):
    invoke("serve")
    invoke("serve")
    assert fake_server[0].token != fake_server[1].token
    assert invoke("serve", "--token", "opt-secret").exit_code == 0
    monkeypatch.setenv("PRESNET_SERVE_TOKEN", "env-secret")
    assert invoke("serve").exit_code == 0
    assert [s.token for s in fake_server[2:]] == ["opt-secret", "env-secret"]
    refused = invoke("serve", "--token", " ")
    assert refused.exit_code == 2 and "--token" in refused.output and len(fake_server) == 4


def test_a_remote_host_needs_allow_remote_and_then_warns(fake_server):
    refused = invoke("serve", "--host", "0.0.0.0")
    assert refused.exit_code == 2 and not fake_server
    assert "--allow-remote" in refused.output and "Traceback" not in refused.output
    allowed = invoke("serve", "--host", "0.0.0.0", "--allow-remote")
    assert allowed.exit_code == 0, allowed.output
    assert "anyone who reaches that port with it can start and stop runs" in allowed.output
    assert fake_server[0].host == "0.0.0.0"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--port", "0"], "--port"),
        (["-c", "missing.yaml"], "missing.yaml"),
        (["--attach", "no-such-run"], "no-such-run"),
        (["--host", "no-such-host.invalid"], "--host"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(fake_server, args, words):
    result = invoke("serve", *args)
    assert result.exit_code == 2 and not fake_server
    assert words in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("error:")]) == 1


def test_config_and_attach_together_are_refused(fake_server, tiny_yaml, tmp_path):
    result = invoke("serve", "-c", tiny_yaml, "--attach", tmp_path)
    assert result.exit_code == 2 and "choose one of --config and --attach" in result.output


def test_without_the_web_extra_one_line_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)  # import fails as if not installed
    result = invoke("serve")
    assert result.exit_code == 2
    assert 'pip install -e ".[web]"' in result.output and "Traceback" not in result.output


def test_loopback_names_and_addresses():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")


def test_attach_path_is_absolute_in_the_served_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = shlex.split(tui_command(None, tmp_path.relative_to(tmp_path) / "run dir"))
    assert argv[-2:] == ["--attach", str(tmp_path / "run dir")]


def test_the_web_driver_counts_as_a_terminal(monkeypatch):
    """textual-serve runs `presnet tui` over pipes: the terminal check must let its driver through."""
    monkeypatch.setattr(sys, "stdin", io.StringIO())  # a pipe, as textual-serve gives it
    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    assert not has_terminal()
    monkeypatch.setenv("TEXTUAL_DRIVER", WEB_DRIVER)
    assert has_terminal()
