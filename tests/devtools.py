"""A small client of headless chromium's DevTools protocol (over aiohttp's WebSocket client), shared by the browser
tests (tests/test_web.py) and scripts/web_screenshot.py: start Debian's chromium (Chromium), connect to its page
(connect) and drive it (Tab: call, evaluate, wait_for, open, screenshot). No pytest here, so the script can use it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence


def drain(stream, keep: deque, found: threading.Event | None = None, pattern: str | None = None,
          match: list | None = None) -> threading.Thread:
    """Read a child's stderr to its end on a thread (so the pipe never fills); the last lines in `keep`; the first
    line matching `pattern` in `match`, `found` set then."""

    def run() -> None:
        for line in stream:
            keep.append(line.rstrip("\n"))
            if pattern and found is not None and not found.is_set() and (hit := re.search(pattern, line)):
                match.append(hit)
                found.set()
        if found is not None:
            found.set()  # the stream ended: whoever waits looks at `match`

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def chromium_path() -> str | None:
    """Debian's chromium, None where it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    """Debian's chromium (at `path`), headless, its DevTools on a port of its choosing (`devtools`: the HTTP
    address); `flags`, more of its command line. RuntimeError, chromium closed, when its DevTools server does not
    start within `limit` seconds."""

    def __init__(self, path: str, width: int, height: int, flags: Sequence[str] = (), limit: float = 60):
        self.profile = tempfile.mkdtemp(prefix="streamsee-chromium-")
        self.process = subprocess.Popen(
            [path, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", *flags,
             "--remote-debugging-port=0", f"--user-data-dir={self.profile}", f"--window-size={width},{height}",
             "about:blank"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.lines: deque[str] = deque(maxlen=50)
        found, match = threading.Event(), []
        drain(self.process.stderr, self.lines, found, r"DevTools listening on (ws://[^/]+)/", match)
        if not found.wait(limit) or not match:
            self.close()
            raise RuntimeError("chromium did not start its DevTools server:\n" + "\n".join(self.lines))
        self.devtools = match[0][1].replace("ws://", "http://")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


class Tab:
    """The chromium's page, driven over its DevTools WebSocket."""

    def __init__(self, socket_):
        self.socket, self.ids = socket_, iter(range(1, 10**6))

    async def call(self, method: str, **params):
        number = next(self.ids)
        await self.socket.send_json({"id": number, "method": method, "params": params})
        while (message := await self.socket.receive_json()).get("id") != number:
            pass  # an event
        if "error" in message:
            raise RuntimeError(f"{method}: {message['error']}")
        return message["result"]

    async def evaluate(self, expression: str):
        return (await self.call("Runtime.evaluate", expression=expression, returnByValue=True))["result"].get("value")

    async def wait_for(self, expression: str, limit: float = 20) -> bool:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if await self.evaluate(expression):
                return True
            await asyncio.sleep(0.1)
        return False

    async def open(self, url: str, limit: float = 20) -> None:
        """Go to `url`; RuntimeError when it has not loaded within `limit` seconds."""
        await self.call("Page.navigate", url=url)
        if not await self.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'", limit):
            raise RuntimeError(f"the page {url} did not load")

    async def screenshot(self, selector: str | None = None, *, whole_page: bool = False) -> bytes:
        """A PNG of the page as shown, or of the part of it the element `selector` picks covers, or (`whole_page`)
        of the whole page, beyond the window when the page is taller."""
        clip = {}
        if selector is not None:
            box = await self.evaluate(f"document.querySelector({json.dumps(selector)}).getBoundingClientRect().toJSON()")
            clip = {"clip": {key: box[key] for key in ("x", "y", "width", "height")} | {"scale": 1}}
        elif whole_page:
            size = (await self.call("Page.getLayoutMetrics"))["cssContentSize"]
            clip = {"clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
                    "captureBeyondViewport": True}
        return base64.b64decode((await self.call("Page.captureScreenshot", format="png", **clip))["data"])


@contextlib.asynccontextmanager
async def connect(devtools: str) -> AsyncIterator[Tab]:
    """A Tab on the page of the chromium whose DevTools answer at `devtools` (its HTTP address)."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(f"{devtools}/json/list") as response:
            target = next(t for t in await response.json() if t["type"] == "page")
        async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=2**27) as socket_:
            yield Tab(socket_)
