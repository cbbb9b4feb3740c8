"""``presnet serve``: the same Textual app in a browser tab, through textual-serve (the ``web`` extra).

textual-serve starts one ``presnet tui`` process per open tab, over pipes with Textual's web driver
(:mod:`presnet_tui.cli.terminal` lets that through).  Whoever reaches the port drives that app -- starts and
stops runs as this user -- so it binds the loopback interface unless told otherwise (``--allow-remote``),
and every request needs the server's token (:mod:`presnet_tui.web.token_server`), since every account on a
shared machine reaches loopback; from another machine, tunnel: ``ssh -L 8000:localhost:8000 HOST``.
"""

from __future__ import annotations

import errno
import ipaddress
import shlex
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from core.errors import PresnetError, import_extra
from presnet_tui.cli.commands.common import app, console, err_console, user_errors

REMOTE_WARNING = (
    "warning: serving on {host}:{port}, not only this machine: the token travels in clear over HTTP, and "
    "anyone who reaches that port with it can start and stop runs as you. Prefer the default 127.0.0.1 "
    "and `ssh -L {port}:localhost:{port} HOST`."
)


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1; a name is looked up (a name that resolves elsewhere is remote)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError as err:
        hint = "use an address like 127.0.0.1"
        raise PresnetError(f"cannot resolve host {host!r}", where="--host", hint=hint) from err
    return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def tui_command(config: Path | None, attach: Path | None) -> str:
    """The shell command textual-serve runs per tab: this interpreter, this checkout's CLI, absolute paths."""
    args = [sys.executable, "-m", "presnet_tui.cli", "tui"]
    if attach is not None:
        args += ["--attach", str(attach.resolve())]
    if config is not None:
        args += ["--config", str(config.resolve())]
    return shlex.join(args)


def check_inputs(config: Path | None, attach: Path | None, host: str, allow_remote: bool) -> None:
    """Refuse bad input before the server starts: one line each, exit 2."""
    if config is not None and attach is not None:
        raise PresnetError("choose one of --config and --attach", where="presnet serve", hint="one per server")
    if config is not None:
        from core.config import load_config

        load_config(config)  # a broken config fails here, not in every browser tab
    if attach is not None:
        from core.api.rundirs import RunDir
        from core.api.sweeps import Sweep, is_sweep

        Sweep.open(attach) if is_sweep(attach) else RunDir.open(attach)
    if not allow_remote and not is_loopback(host):
        raise PresnetError(
            f"{host} is reachable from other machines",
            where="--host",
            hint="add --allow-remote if anyone who reaches the port may start and stop runs, or tunnel over SSH",
        )


def check_port(host: str, port: int) -> None:
    """Refuse a port another process listens on, in one line, before the server prints its banner
    (the server's own failure is a stack of lines about paths and permissions)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return  # an unresolvable host was refused by check_inputs already
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is free
        try:
            probe.bind(address)
        except OSError as err:
            what = "is in use (another server listens there)" if err.errno == errno.EADDRINUSE else err.strerror
            raise PresnetError(
                f"port {port} on {host} {what}",
                where="--port",
                hint=f"choose another port (e.g. --port {port + 1 if port < 65535 else 8000}) or stop that server",
            ) from None


@app.command()
def serve(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config for the setup screen")] = None,
    attach: Annotated[Path | None, typer.Option("--attach", help="watch a run directory, or a sweep's runs")] = None,
    host: Annotated[str, typer.Option(help="address to bind; other than loopback needs --allow-remote")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    allow_remote: Annotated[
        bool, typer.Option("--allow-remote", help="allow a --host other machines can reach (token only!)")
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(envvar="PRESNET_SERVE_TOKEN", show_envvar=True, help="the URL's token (default: a random one)"),
    ] = None,
) -> None:
    """The TUI in a browser tab (textual-serve): one app per tab; tunnel with ssh -L 8000:localhost:8000 HOST."""
    with user_errors():
        check_inputs(config, attach, host, allow_remote)
        check_port(host, port)
        import_extra("textual_serve.server", "web", where="presnet serve", what="textual-serve")
        if token is not None and not token.strip():
            raise PresnetError("the token is empty", where="--token", hint="leave it out for a random one")
    from presnet_tui.web import token_server

    secret = token or token_server.new_token()
    if not is_loopback(host):
        err_console.print(REMOTE_WARNING.format(host=host, port=port), style="yellow", highlight=False, soft_wrap=True)
    url = token_server.served_url(host, port, secret)
    console.print(f"presnet serve: open {url} (Ctrl+C stops the server)", highlight=False, soft_wrap=True)
    server = token_server.TokenServer(tui_command(config, attach), token=secret, host=host, port=port, title="presnet")
    server.serve()
