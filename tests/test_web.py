"""The browser view (streamsee.live.web): a real server on a free loopback port, real HTTP clients (http.client,
raw sockets), the command line end to end, and a real browser (Debian's chromium, headless, driven through its
DevTools protocol over aiohttp's WebSocket client: tests/devtools.py)."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from devtools import Chromium, Tab, chromium_path, connect
from needs import need

from streamsee.core.result import PathResult, Result
from streamsee.core.snapshot import Snapshot
from streamsee.live.web import BOUNDARY, BrowserView, ServeError, WebServer
from streamsee.live.web_feed import Feed

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "streamsee" / "samples" / "sample.mp4"


def picture(number: int, background=(40, 90, 160), height: int = 120, width: int = 160) -> np.ndarray:
    """A frame that differs from the one before: a moving square and its number."""
    image = np.full((height, width, 3), background, np.uint8)
    x = (number * 7) % (width - 30)
    cv2.rectangle(image, (x, 30), (x + 30, 60), (255, 255, 255), -1)
    cv2.putText(image, str(number), (5, height - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 255, 255), 2)
    return image


def snapshot(frames: int) -> Snapshot:
    return Snapshot(source_fps=25.0, analysed_fps=12.5, latency_p50_ms=40.0, latency_p95_ms=80.0, latency_max_ms=90.0,
                    stage_ms={"analyse": 30.0}, frames=frames, analysed=frames, skipped=0, dropped=0)


class Pipeline:
    """A stand-in for the pipeline's thread: a new frame, results and figures every `every` seconds, to a
    BrowserView or to one Feed of a WebServer."""

    def __init__(self, view: BrowserView | Feed, every: float = 0.02, make=picture):
        if isinstance(view, Feed):  # what a BrowserView does with them
            view = SimpleNamespace(show=view.put, observe=view.observe, update=partial(setattr, view, "snapshot"))
        self.view, self.every, self.make = view, every, make
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        number = 0
        while not self.stop.is_set():
            number += 1
            cat = number % 100 < 50  # a cat for a while, then nothing: the timeline has both
            result = Result([[0, 0, 10, 10]], [3], [0.9]) if cat else Result()
            self.view.observe([PathResult("segment", result, 1.0)], number * self.every)
            self.view.show(self.make(number))
            self.view.update(snapshot(number))
            time.sleep(self.every)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


@pytest.fixture
def served():
    """A BrowserView on a free loopback port, fed by a Pipeline; its printed lines in `lines`."""
    lines: list[str] = []
    view = BrowserView("127.0.0.1:0", source="test", notify=lines.append)
    pipeline = Pipeline(view)
    view.lines = lines
    yield view
    pipeline.close()
    view.close()


def get(port: int, path: str, headers: dict | None = None, host: str = "127.0.0.1") -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(host, port, timeout=20)
    connection.request("GET", path, headers=headers or {})
    return connection.getresponse()


def mjpeg(response: http.client.HTTPResponse, count: int) -> list[tuple[float, dict, bytes]]:
    """Up to `count` parts of a multipart/x-mixed-replace response: (when read, headers, body)."""
    parts = []
    while len(parts) < count:
        line = response.readline()
        if not line:
            break  # the server ended the stream
        if line.strip() != b"--" + BOUNDARY.encode():
            continue
        headers = {}
        while line := response.readline().strip():
            key, _, value = line.decode().partition(":")
            headers[key.lower()] = value.strip()
        parts.append((time.perf_counter(), headers, response.read(int(headers["content-length"]))))
    return parts


def events(response: http.client.HTTPResponse, until, limit: float = 20.0) -> list[tuple[str, dict]]:
    """Server-sent events (name, JSON) read until until(those so far) or `limit` seconds."""
    found, name, deadline = [], None, time.monotonic() + limit
    while time.monotonic() < deadline and not until(found):
        line = response.readline().decode().rstrip("\n")
        if not line and name is None and not found and response.isclosed():
            break
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: ") and name:
            found.append((name, json.loads(line[6:])))
            name = None
    return found


def decoded(parts) -> list[np.ndarray]:
    images = [cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR) for _, _, body in parts]
    assert all(image is not None and image.shape == (120, 160, 3) for image in images)
    return images


def test_the_page_loads(served):
    response = get(served.server.port, "/")
    page = response.read().decode()
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/html")
    assert '<img class="video"' in page and "stream.mjpg" in page and "EventSource" in page and "disconnected" in page
    assert "script-src 'sha256-" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert served.lines == [f"browser view: open http://127.0.0.1:{served.server.port}/"]


def test_the_stream_gives_distinct_jpegs_at_the_asked_rate(served):
    response = get(served.server.port, "/stream.mjpg?fps=5")
    assert response.headers["Content-Type"] == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
    parts = mjpeg(response, 6)
    response.close()
    images = decoded(parts)
    assert len({image.tobytes() for image in images}) >= 2
    assert all(headers["x-streamsee-source"] == "0" for _, headers, _ in parts)
    # frames come every 50 ms, at most 5 a second go out: 5 intervals take 1 s (scheduling may add to it)
    assert 0.9 <= parts[-1][0] - parts[0][0] < 5


def test_events_give_the_sources_changing_stats_the_classes_seen_and_a_timeline(served):
    response = get(served.server.port, "/events")
    assert response.headers["Content-Type"] == "text/event-stream"
    found = events(response, lambda found: len([1 for name, _ in found if name == "stats"]) >= 3
                   and any(name == "timeline" and message["timeline"] for name, message in found))
    response.close()
    assert found[0] == ("hello", {"sources": [{"source": "0", "name": "test"}]})
    stats = [message for name, message in found if name == "stats"]
    assert all(message["source"] == "0" and message["latency_p95_ms"] == 80.0 for message in stats)
    assert len({message["frames"] for message in stats}) >= 2  # they change
    seen = [message["seen"] for name, message in found if name == "seen"]
    assert {"segment": [{"label": "cat", "score": 0.9}]} in seen
    timeline = [message["timeline"] for name, message in found if name == "timeline"][-1]
    assert timeline[0] | {"at": 0} == {"at": 0, "path": "segment", "event": "in", "label": "cat", "score": 0.9}


def test_several_clients_at_once(served):
    results = {}

    def watch(name: str, fps: int) -> None:
        response = get(served.server.port, f"/stream.mjpg?fps={fps}")
        results[name] = mjpeg(response, 4)
        response.close()

    threads = [threading.Thread(target=watch, args=(name, fps)) for name, fps in (("a", 10), ("b", 20), ("c", 5))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert {name: len(parts) for name, parts in results.items()} == {"a": 4, "b": 4, "c": 4}
    for parts in results.values():
        assert len({image.tobytes() for image in decoded(parts)}) >= 2
    time.sleep(0.3)
    assert not served.watched  # they are gone


def test_a_client_that_never_reads_blocks_nothing_and_grows_nothing():
    noise = [np.random.default_rng(seed).integers(0, 256, (480, 640, 3), np.uint8) for seed in range(4)]  # ~200 KB JPEGs
    with BrowserView("127.0.0.1:0", notify=lambda line: None) as view:

        def waiting() -> int:
            """Bytes the server holds for its clients: their transports' buffers."""
            return max((handler.transport.get_write_buffer_size() for handler in view.server._runner.server.connections
                        if handler.transport is not None), default=0)

        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", view.server.port))
        stalled.sendall(b"GET /stream.mjpg?fps=30 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # and never reads
        deadline, number = time.monotonic() + 30, 0
        while waiting() == 0 and time.monotonic() < deadline:  # until the kernel's buffers are full
            view.show(noise[number % 4])
            number += 1
            time.sleep(0.03)
        assert view.watched and waiting() > 0, "the stalled client never held the server back"
        rss, slowest, started = resident_bytes(), 0.0, time.perf_counter()
        for number in range(600):  # 20 s of video at 30 fps, offered as fast as show() takes it, in 2 s
            before = time.perf_counter()
            view.show(noise[number % 4])
            slowest = max(slowest, time.perf_counter() - before)
            time.sleep(0.003)
        assert slowest < 0.05, f"show() took {slowest * 1000:.1f} ms once"
        assert time.perf_counter() - started < 10
        # what waits for the stalled client: at most asyncio's high-water mark (64 KiB) and one frame
        assert waiting() < 64 * 1024 + len(view.feed._jpeg[1])
        assert resident_bytes() - rss < 20 * 2**20
        # meanwhile another client is served
        pipeline = Pipeline(view)
        response = get(view.server.port, "/stream.mjpg?fps=30")
        assert len(mjpeg(response, 3)) == 3
        response.close()
        pipeline.close()
        stalled.close()


def resident_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_off_loopback_every_request_needs_the_token():
    lines: list[str] = []
    with BrowserView("0.0.0.0:0", notify=lines.append) as view:
        port, token = view.server.port, view.server.token
        assert view.server.generated and len(token) >= 32
        assert len(lines) == 1 and f":{port}/?token={token}" in lines[0]
        for path in ("/", "/stream.mjpg", "/events", "/?token=wrong", "/nothing-here"):
            response = get(port, path)
            assert response.status == 401, path
            assert token not in response.read().decode()
        assert get(port, f"/?token={token}").status == 200
        assert get(port, "/", headers={"X-Streamsee-Token": token}).status == 200
        Pipeline(view).close()  # one frame shown
        response = get(port, f"/stream.mjpg?fps=10&token={token}")
        assert response.status == 200 and len(mjpeg(response, 1)) == 1
        response.close()
    lines.clear()
    with BrowserView("0.0.0.0:0", token="my-own-token", notify=lines.append) as view:
        assert not view.server.generated and "my-own-token" not in lines[0] and "?token=YOUR-TOKEN" in lines[0]
        assert get(view.server.port, "/").status == 401
        assert get(view.server.port, "/?token=my-own-token").status == 200


def test_only_the_three_routes_answer(served):
    port = served.server.port
    for path in ("/nothing", "/../etc/passwd", "/%2e%2e/etc/passwd", "/stream.mjpg/../../etc/passwd", "/static/",
                 "/index.html", "//etc/passwd", "/stream.mjpg?source=7"):
        assert get(port, path).status == 404, path
    assert get(port, "/stream.mjpg?fps=fast").status == 400
    assert get(port, "/stream.mjpg?fps=0").status == 400
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for method in ("POST", "HEAD", "PUT"):
        connection.request(method, "/stream.mjpg", body=b"x")
        response = connection.getresponse()
        response.read()
        assert response.status == 405, method
    # on loopback, a page of another site whose name points here (DNS rebinding) gets nothing
    assert get(port, "/", headers={"Host": f"evil.example:{port}"}).status == 403
    assert get(port, "/", headers={"Host": f"localhost:{port}"}).status == 200


def test_close_ends_the_clients_and_is_safe_twice():
    view = BrowserView("127.0.0.1:0", notify=lambda line: None)
    pipeline = Pipeline(view)
    response = get(view.server.port, "/stream.mjpg?fps=10")
    assert len(mjpeg(response, 1)) == 1
    started = time.perf_counter()
    view.close()
    assert time.perf_counter() - started < 5
    assert len(mjpeg(response, 1000)) < 1000  # the stream ended
    view.close()
    pipeline.close()
    with pytest.raises(ConnectionRefusedError):
        get(view.server.port, "/")


@pytest.mark.parametrize("address", ["70000", "127.0.0.1:", "bad host:80", "::1:8080", "[nope]:80", "-1"])
def test_a_bad_address_is_a_value_error_quoting_it(address):
    with pytest.raises(ValueError, match=re.escape(repr(address))):
        BrowserView(address)


def test_a_taken_port_is_one_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServeError, match=f"^cannot serve the browser view on 127.0.0.1:{port}: the port is already"):
            BrowserView(f"127.0.0.1:{port}")
        result = subprocess.run([sys.executable, "-m", "streamsee.cli", str(SAMPLE), "--no-display", "--serve", str(port)],
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "already in use" in result.stderr and "Traceback" not in result.stderr


def test_the_command_line_says_a_bad_serve_value_in_one_line():
    for flags, quoted in ((["--serve", "99999"], "'99999'"), (["--serve", "8080", "--serve-token", "short"], "'short'")):
        result = subprocess.run([sys.executable, "-m", "streamsee.cli", str(SAMPLE), "--no-display", *flags],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and quoted in result.stderr, result.stderr


def short_clip(path: Path, frames: int = 12) -> Path:
    capture = cv2.VideoCapture(str(SAMPLE))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (640, 480))
    for _ in range(frames):
        ok, image = capture.read()
        assert ok
        writer.write(image)
    writer.release()
    capture.release()
    return path


def test_the_command_line_serves_the_run_to_a_client(tmp_path):
    clip = short_clip(tmp_path / "clip.mp4")
    process = subprocess.Popen([sys.executable, "-m", "streamsee.cli", str(clip), "--no-display", "--mode", "segment",
                                "--serve", "127.0.0.1:0"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        first = process.stderr.readline()
        port = int(re.fullmatch(r"streamsee: browser view: open http://127\.0\.0\.1:(\d+)/\n", first)[1])
        response = get(port, "/stream.mjpg?fps=30")
        parts = mjpeg(response, 100)  # until the run ends and the server with it
        rest = process.stderr.read()
        assert process.wait(timeout=120) == 0, rest
    finally:
        process.kill()
    images = [cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR) for _, _, body in parts]
    assert len(images) >= 2 and all(image is not None and image.shape == (480, 640, 3) for image in images)
    assert len({image.tobytes() for image in images}) >= 2
    assert "12 frames in" in rest


# The real browser ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium():
    """Debian's chromium, headless, shared by this module's browser tests: the HTTP address of its DevTools."""
    path = chromium_path()
    if path is None:
        need("needs Debian's chromium for the browser test (apt-get install chromium)")
    browser = Chromium(path, 1000, 700)
    try:
        yield browser.devtools
    finally:
        browser.close()


def in_browser(chromium: str, page_url: str, look) -> dict:
    """Open `page_url` in the chromium whose DevTools answer at `chromium`; what `look(tab)` (a coroutine
    function) found there."""

    async def run() -> dict:
        async with connect(chromium) as tab:
            await tab.open(page_url)
            return await look(tab)

    return asyncio.run(run())


def from_png(png: bytes) -> np.ndarray:
    """A screenshot (Tab.screenshot's PNG) as an array (BGR)."""
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)


def part(name: str, source: str | None = None) -> str:
    """JavaScript for an element of a source's panel (of the first panel when no source is named)."""
    within = f'[data-source="{source}"] ' if source is not None else ""
    return f"document.querySelector('{within}.{name}')"


@pytest.mark.slow
def test_a_real_browser_shows_the_video_the_stats_and_the_end(chromium):
    lines: list[str] = []
    view = BrowserView("0.0.0.0:0", notify=lines.append)  # with a token, as a phone on the network would see it
    pipeline = Pipeline(view, every=0.04)
    page_url = re.search(r"open (\S+)", lines[0])[1].replace(f"//{socket.gethostname()}:", "//127.0.0.1:")

    async def look(tab: Tab) -> dict:
        shown = {"live": await tab.wait_for("document.body.dataset.state === 'live'"),
                 "video": await tab.wait_for(f"{part('video')}.naturalWidth === 160"),
                 "panels": await tab.evaluate("document.querySelectorAll('.panel').length"),
                 "name": await tab.evaluate("document.getElementById('name').textContent")}
        await tab.wait_for(f"{part('stats')}.textContent.includes('frames')")
        shown["stats"] = [await tab.evaluate(f"{part('stats')}.textContent")]
        shown["screens"] = [from_png(await tab.screenshot())]
        await asyncio.sleep(1.5)
        shown["stats"].append(await tab.evaluate(f"{part('stats')}.textContent"))
        shown["screens"].append(from_png(await tab.screenshot()))
        shown["seen"] = await tab.evaluate(f"{part('seen')}.textContent")
        await asyncio.get_running_loop().run_in_executor(None, view.close)
        shown["disconnected"] = await tab.wait_for("document.getElementById('state').textContent === 'disconnected'")
        shown["greyed"] = await tab.evaluate(f"getComputedStyle({part('video')}).filter")
        return shown

    try:
        shown = in_browser(chromium, page_url, look)
    finally:
        pipeline.close()
        view.close()
    assert shown["live"] and shown["video"] and shown["panels"] == 1 and shown["name"] == "video"
    first, second = shown["screens"]
    assert first.std() > 10 and second.std() > 10  # not blank
    assert np.abs(first.astype(int) - second).sum() > 0  # the video moved
    assert shown["stats"][0] != shown["stats"][1] and "latency p95 ms" in shown["stats"][0]
    assert "segment:" in shown["seen"]
    assert shown["disconnected"] and "grayscale" in shown["greyed"]


RED, BLUE = (30, 30, 200), (200, 30, 30)  # BGR


@pytest.mark.slow
def test_a_real_browser_shows_every_source_in_its_own_panel(chromium):
    server = WebServer("127.0.0.1:0")
    feeds = {"0": server.add_feed("red camera"), "1": server.add_feed("blue camera")}
    pipelines = [Pipeline(feeds["0"], every=0.04, make=lambda number: picture(number, RED)),
                 Pipeline(feeds["1"], every=0.04, make=lambda number: picture(number, BLUE))]

    async def look(tab: Tab) -> dict:
        shown = {"live": await tab.wait_for("document.body.dataset.state === 'live'"),
                 "videos": [await tab.wait_for(f"{part('video', source)}.naturalWidth === 160") for source in feeds],
                 "filled": [await tab.wait_for(f"{part('stats', source)}.textContent.includes('frames')")
                            for source in feeds],
                 "panels": await tab.evaluate("[...document.querySelectorAll('.panel')].map((panel) => "
                                              "[panel.dataset.source, panel.querySelector('.name').textContent])"),
                 "name": await tab.evaluate("document.getElementById('name').textContent"),
                 "stats": [], "screens": []}
        for _ in range(2):
            shown["stats"].append([await tab.evaluate(f"{part('stats', source)}.textContent") for source in feeds])
            shown["screens"].append([from_png(await tab.screenshot(f'[data-source="{source}"] .video')) for source in feeds])
            await asyncio.sleep(1.0)
        shown["seen"] = [await tab.evaluate(f"{part('seen', source)}.textContent") for source in feeds]
        shown["timeline"] = [await tab.evaluate(f"{part('timeline', source)}.children.length") for source in feeds]
        await tab.open(server.url() + "?source=1")  # that one alone, as before
        shown["alone"] = await tab.wait_for(f"{part('video', '1')}.naturalWidth === 160 && "
                                            "document.querySelectorAll('.panel').length === 1")
        shown["alone screen"] = from_png(await tab.screenshot(".video"))
        return shown

    try:
        shown = in_browser(chromium, server.url(), look)
    finally:
        for pipeline in pipelines:
            pipeline.close()
        server.close()
    assert shown["live"] and shown["videos"] == [True, True] and shown["filled"] == [True, True]
    assert shown["panels"] == [["0", "red camera"], ["1", "blue camera"]] and shown["name"] == "2 sources"

    def colour(image: np.ndarray) -> str:
        blue, _, red = image.reshape(-1, 3).mean(axis=0)
        return "red" if red > blue + 60 else "blue" if blue > red + 60 else "neither"

    (red, blue), (red_later, blue_later) = shown["screens"]
    for image, later in ((red, red_later), (blue, blue_later)):
        assert image.shape[1] >= 160 and image.std() > 10 and later.std() > 10  # not blank
        assert np.abs(image.astype(int) - later).sum() > 0  # the video moved
    assert [colour(image) for image in (red, red_later, blue, blue_later)] == ["red", "red", "blue", "blue"]
    for earlier, later in zip(*shown["stats"]):
        assert "latency p95 ms" in earlier and earlier != later  # filled, and changing
    assert all("segment:" in seen for seen in shown["seen"]) and all(count > 0 for count in shown["timeline"])
    assert shown["alone"] and colour(shown["alone screen"]) == "blue"
