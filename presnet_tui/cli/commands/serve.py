"""``presnet serve``: the same Textual app in a browser tab, through textual-serve (the ``web`` extra).

textual-serve starts one ``presnet tui`` process per open tab, over pipes with Textual's web driver
(:mod:`presnet_tui.cli.terminal` lets that through).  What may be served where is decided in
:mod:`presnet_tui.web.serve` (loopback unless ``--allow-remote``, a free port), and every request needs
the server's token (:mod:`presnet_tui.web.token_server`); from another machine, tunnel:
``ssh -L 8000:localhost:8000 HOST``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.errors import PresnetError, import_extra
from presnet_tui.cli.commands.common import app, console, err_console, user_errors
from presnet_tui.web.serve import REMOTE_WARNING, check_inputs, check_port, is_loopback, tui_command


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
