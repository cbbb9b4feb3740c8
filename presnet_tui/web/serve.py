"""What ``presnet serve`` settles before its server starts: the address it may bind, a free port, and the
command textual-serve runs for each browser tab.

Whoever reaches the port drives the app -- starts and stops runs as this user -- so the server binds the
loopback interface unless told otherwise (``--allow-remote``), and every request needs the server's
token (:mod:`presnet_tui.web.token_server`), since every account on a shared machine reaches loopback.
"""

from __future__ import annotations

import errno
import ipaddress
import shlex
import socket
import sys
from pathlib import Path

from core.errors import PresnetError

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
