"""The served view's door: textual-serve behind a per-server token, as Jupyter does.

On a shared machine every local account reaches 127.0.0.1, so binding loopback keeps out other
machines but not other users; whoever reaches the page starts and stops runs as its owner.  So every
request -- the page, its static files, its websocket -- must carry the server's token, or it gets 403
and no app process is started.  textual-serve is an aiohttp application: the check is an aiohttp
middleware on it (:meth:`TokenServer._make_app`), so it runs before any of textual-serve's handlers.

The token arrives once in the printed URL (``/?token=...``); the answer sets it as a cookie
(HttpOnly, SameSite=Strict, named for the port so two servers on one host keep theirs apart) and
redirects to the same page without it, so that the page's assets and websocket -- whose URLs
textual-serve's JavaScript builds without our query -- carry it, and the address bar, history and
``Referer`` headers do not.  Comparisons are constant time (:func:`hmac.compare_digest`); the access
log has any ``token=`` value blanked, so the token is never written beyond the printed URL.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from rich.logging import RichHandler
from textual_serve.server import Server

#: The environment variable a token may come from (kept out of ``ps``, unlike a command-line option).
TOKEN_ENV = "PRESNET_SERVE_TOKEN"
SECRET_IN_LOG = re.compile(r"(token=)[^&\s\"']*", re.IGNORECASE)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def new_token() -> str:
    """A fresh token per server: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def cookie_name(port: int) -> str:
    """Cookies ignore ports: one name per port, so servers on one host do not overwrite each other."""
    return f"presnet-token-{port}"


def served_url(host: str, port: int, token: str) -> str:
    """The URL to open: the only place the token is printed."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


class RedactTokens(logging.Filter):
    """Blanks every ``token=`` value in a log record (aiohttp's access log writes whole request lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = SECRET_IN_LOG.sub(r"\1[redacted]", record.getMessage())
        record.args = ()
        return True


class TokenServer(Server):
    """textual-serve's server, with every route behind the token."""

    def __init__(self, command: str, *, token: str, host: str, port: int, title: str) -> None:
        super().__init__(command, host=host, port=port, title=title)
        self.token = token
        self.cookie = cookie_name(port)

    def initialize_logging(self) -> None:
        """textual-serve's logging, less what could write the token: request lines, traceback locals."""
        super().initialize_logging()
        logging.getLogger("aiohttp.access").addFilter(RedactTokens())
        for handler in logging.getLogger().handlers:
            if isinstance(handler, RichHandler):
                handler.tracebacks_show_locals = False

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self.gate)
        return app

    def allows(self, offered: str | None) -> bool:
        """Constant-time comparison of what the request offered with the server's token."""
        return offered is not None and hmac.compare_digest(offered.encode(), self.token.encode())

    @web.middleware
    async def gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """403 unless the query, the cookie or an ``Authorization: token ...`` header holds the token."""
        in_query = request.query.get("token")
        if self.allows(in_query):
            raise self.admit(request)
        header = request.headers.get("Authorization", "")
        offered = header[6:] if header.lower().startswith("token ") else request.cookies.get(self.cookie)
        if in_query is None and self.allows(offered):
            return await handler(request)
        raise web.HTTPForbidden(text="403: presnet serve needs its token: open the URL it printed\n")

    def admit(self, request: web.Request) -> web.HTTPFound:
        """The token in the URL: set the cookie and send the browser to the same page without it."""
        rest = request.rel_url.with_query([(k, v) for k, v in request.query.items() if k != "token"])
        response = web.HTTPFound(location=str(rest))
        response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/")
        return response

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        """textual-serve's page, its websocket and static URLs on the host the browser used.

        textual-serve builds them from ``--host``; a page opened as ``localhost`` (an SSH tunnel) would
        then open its websocket on ``127.0.0.1``, a different cookie host, and be refused.
        """
        scheme = "https" if request.secure else "http"
        try:
            font_size = int(request.query.get("fontsize", "16"))
        except ValueError:
            font_size = 16
        static = request.app.router["static"].url_for(filename="/")
        return {
            "font_size": font_size,
            "app_websocket_url": f"{'wss' if request.secure else 'ws'}://{request.host}/ws",
            "config": {"static": {"url": f"{scheme}://{request.host}{static}".rstrip("/") + "/"}},
            "application": {"name": self.title},
        }
