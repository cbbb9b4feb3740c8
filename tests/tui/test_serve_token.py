"""``presnet serve``'s token (issue 40), against the real server in its own process: without the token,
or with a wrong one, every HTTP and websocket request gets 403 and no app process starts; with it, the
page, its assets and its websocket work; the token never reaches the server's log.  (The page in
Chromium, token and all: tests/tui/test_web.py.)"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import child_env
from tests.tui.test_web import free_port, wait_for_port

aiohttp = pytest.importorskip("aiohttp", reason="the web extra is not installed")
pytest.importorskip("textual_serve", reason="the web extra is not installed")

TOKEN = "tok-" + "x" * 40


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc: no psutil here)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``presnet serve`` with a known token from the environment; its output kept to read the log."""
    tmp = tmp_path_factory.mktemp("serve")
    port = free_port()
    log = (tmp / "serve.log").open("w")
    env = child_env() | {"PRESNET_SERVE_TOKEN": TOKEN, "COLUMNS": "300"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "presnet_tui.cli", "serve", "--port", str(port)],
        cwd=tmp,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port, proc)
        yield proc, f"http://127.0.0.1:{port}", tmp / "serve.log"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
        log.close()


async def status_of(url: str, cookies: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> int:
    async with aiohttp.ClientSession(cookies=cookies) as session:
        async with session.get(url, headers=headers, allow_redirects=False) as response:
            return response.status


async def websocket_status(url: str, cookies: dict[str, str] | None = None) -> int | str:
    """The handshake's answer: an HTTP status if refused, ``"open"`` (and the first frame) if accepted."""
    async with aiohttp.ClientSession(cookies=cookies) as session:
        try:
            async with session.ws_connect(url.replace("http", "ws") + "/ws?width=80&height=24") as ws:
                await asyncio.wait_for(ws.receive(), 60)
                return "open"
        except aiohttp.WSServerHandshakeError as refused:
            return refused.status


def test_no_token_or_a_wrong_one_is_403_and_starts_no_app(server):
    proc, url, _ = server
    cookie = f"presnet-token-{url.rsplit(':', 1)[1]}"
    wrong = {cookie: "tok-" + "y" * 40}
    for path in ("/", "/ws", "/static/js/textual.js", "/download/x", "/no-such-page", "/?token=nope"):
        assert asyncio.run(status_of(url + path)) == 403, path
        assert asyncio.run(status_of(url + path, cookies=wrong)) == 403, path
    assert asyncio.run(status_of(url + "/", headers={"Authorization": "token nope"})) == 403
    assert asyncio.run(websocket_status(url)) == 403
    assert asyncio.run(websocket_status(url, cookies=wrong)) == 403
    time.sleep(1.0)
    assert children(proc.pid) == []  # textual-serve started no `presnet tui` for any of them


def test_the_token_lets_in_the_page_its_assets_and_its_websocket(server):
    proc, url, log = server

    async def visit() -> tuple[int, str, dict[str, str], int, str]:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:  # an IP host
            async with session.get(f"{url}/?token={TOKEN}&fontsize=14", allow_redirects=False) as first:
                location = first.headers["Location"]
                assert "HttpOnly" in first.headers["Set-Cookie"] and "SameSite=Strict" in first.headers["Set-Cookie"]
            cookies = {c.key: c.value for c in session.cookie_jar}
            async with session.get(url + location) as page:
                html = await page.text()
            async with session.get(url + "/static/js/textual.js") as script:
                script_status = script.status
            return first.status, location, cookies, script_status, html

    first, location, cookies, script_status, html = asyncio.run(visit())
    assert first == 302 and location == "/?fontsize=14"  # the token leaves the address bar
    assert list(cookies.values()) == [TOKEN] and script_status == 200
    assert 'data-session-websocket-url="ws://127.0.0.1:' in html
    assert asyncio.run(status_of(url + "/", headers={"Authorization": f"token {TOKEN}"})) == 200
    assert asyncio.run(websocket_status(url, cookies=cookies)) == "open"  # a real app answered
    time.sleep(1.0)
    text = log.read_text()
    assert f"?token={TOKEN}" in text  # printed once, in the URL to open ...
    assert text.count(TOKEN) == 1  # ... and nowhere else: the access log has it blanked
    assert "token=[redacted]" in text
