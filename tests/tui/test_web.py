"""``presnet serve`` in a real browser (issue 25): headless Chromium through Playwright is refused the
page without the server's token (issue 40), opens it with the token, sees the setup screen, starts a
tiny search with Ctrl+S, sees the search screen, saves a screenshot.

Debian's ``chromium`` is used (Playwright's own browser download is not reachable here); without it the
test is skipped, saying why.  The terminal is drawn on a canvas, so the test reads the screen's text from
the websocket frames textual-serve sends to the page (Textual's output, escape codes stripped).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from core.api.handle import RunHandle
from tests.support import child_env

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and Path(p).is_file()), None)
ANSI = re.compile(r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07]*\x07|.)")

WEB_TOKEN = "web-test-token-0123456789"

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"presnet serve exited with {proc.returncode}"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"presnet serve did not listen on {port} in {timeout} s")


@pytest.fixture
def served(tiny_yaml, tmp_path):
    """``presnet serve -c tiny.yaml`` on a free port (in its own process group: the apps it starts go too),
    with its token (issue 40) from the environment; yields the page's address and its token."""
    pytest.importorskip("textual_serve", reason="the web extra is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "presnet_tui.cli", "serve", "-c", str(tiny_yaml), "--port", str(port)],
        cwd=tmp_path,
        env=child_env() | {"PRESNET_SERVE_TOKEN": WEB_TOKEN},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def assert_goes_on(run: Path) -> None:
    """The run's event file still grows and its lock is held: its worker lives on."""
    size = (run / "events.jsonl").stat().st_size
    deadline = time.monotonic() + 60
    while (run / "events.jsonl").stat().st_size == size:
        assert time.monotonic() < deadline, "the run stopped with its page"
        time.sleep(0.5)
    assert RunHandle.attach(run).is_alive()


def open_with_token(page, served: str, frames: list[str]) -> None:
    """Refused without the token (403, no app: no frames), then in with it, which leaves the address bar."""
    refused = page.goto(served)
    assert refused is not None and refused.status == 403 and not frames
    page.goto(f"{served}/?token={WEB_TOKEN}")
    assert "token" not in page.url  # the redirect took it out of the address bar


def test_the_tui_in_headless_chromium(served, tiny_yaml, tmp_path):
    """Also (issue 29): closing the page mid-search detaches -- the run goes on -- and a new page offers
    to attach to it."""
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (test extra)")
    if CHROMIUM is None:
        pytest.skip("no Chromium: install Debian's chromium (apt-get install -y chromium)")
    config = yaml.safe_load(tiny_yaml.read_text())
    config["search"]["epochs"] = 40  # still searching when the page closes (each tab reads the file afresh)
    tiny_yaml.write_text(yaml.safe_dump(config))
    frames: list[str] = []

    def screen_text() -> str:
        return ANSI.sub("", "".join(frames))

    def wait_for(page, *words: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not all(w in screen_text() for w in words):
            assert time.monotonic() < deadline, f"{words} not on screen; last: {screen_text()[-600:]!r}"
            page.wait_for_timeout(250)

    def on_frame(payload: str | bytes) -> None:
        frames.append(payload if isinstance(payload, str) else payload.decode("utf-8", "replace"))

    run: Path | None = None
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1100, "height": 700})
                page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
                open_with_token(page, served, frames)
                wait_for(page, "Search scope", "Candidate kernels")
                page.locator("textarea").first.focus()  # xterm.js takes keys through its hidden textarea
                page.keyboard.press("Control+s")
                wait_for(page, "Overview", "Curves", "epoch")
                wait_for(page, "━ 3x3", timeout_s=120)  # the first alphas drawn live: the legend of their lines
                page.wait_for_timeout(1500)  # let the frame paint before the picture
                shot = tmp_path / "web.png"
                page.screenshot(path=str(shot))
                (run,) = list((tmp_path / "runs").iterdir())  # the search really started: its run directory
                page.close()  # the tab goes, and with it its app process
                assert_goes_on(run)
                frames.clear()
                page = browser.new_page(viewport={"width": 1100, "height": 700})
                page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
                open_with_token(page, served, frames)
                wait_for(page, "Live runs", run.name)  # the new page offers the run to attach to
            finally:
                browser.close()
    finally:
        if run is not None:  # the worker is in a session of its own: the server's group kill misses it
            handle = RunHandle.attach(run)
            handle.suspend()
            handle.wait(timeout=60)
    assert shot.stat().st_size > 10_000  # a picture of something, not an empty page
