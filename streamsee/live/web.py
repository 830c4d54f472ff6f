"""The browser view: a page with the annotated video (MJPEG), the run's statistics, the classes seen now and a
short timeline of detections, served by aiohttp on its own thread and event loop while the pipeline runs.

    >>> with BrowserView("127.0.0.1:8080", source="sample.mp4") as view:   # the URL is printed on stderr
    ...     view.show(annotated)                 # the newest frame: a reference is kept, nothing encoded here
    ...     view.observe(outputs, timestamp)     # the classes seen, the timeline
    ...     view.update(snapshot)                # the statistics

It does not slow the pipeline: the pipeline's thread only swaps references under a lock. A frame is encoded
to JPEG in the event loop's executor only when a client of /stream.mjpg wants one (at its `?fps=N`, default
10, at most MAX_FPS), once per frame however many clients watch, and never while none does (`watched`; the
pipeline draws frames for the browser only then). Each client is its own coroutine writing to its socket:
a client that does not read fills asyncio's transport buffer (64 KiB), which pauses its coroutine alone;
when it reads again it gets the newest frame, not those in between; one stalled for STALLED s is dropped.

Safe by default: 127.0.0.1 unless a host is given, and there requests naming another Host are refused (DNS
rebinding); another host needs a token (given, or made by secrets.token_urlsafe and printed once) on every
request, as ?token= or the header X-Streamsee-Token. Routes: / (web_page.PAGE), /stream.mjpg, /events
(server-sent events); anything else is 404 and nothing is read from disk.

Several sources: the server holds one Feed per source (WebServer.add_feed), each with an id that every frame
(header X-Streamsee-Source) and every event ("source") carries; /stream.mjpg?source=ID picks one.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import json
import math
import secrets
import socket
import sys
import threading
from collections.abc import Callable
from contextlib import suppress
from urllib.parse import quote

import numpy as np
from aiohttp import web

from streamsee.core.config import RunConfig, parse_serve
from streamsee.core.resource import Resource
from streamsee.core.result import PathResult
from streamsee.core.snapshot import Snapshot
from streamsee.live.web_feed import Feed
from streamsee.live.web_page import CSP, PAGE

DEFAULT_FPS = 10.0    # /stream.mjpg frames a second unless ?fps= says otherwise
MAX_FPS = 30.0        # the most a client may ask for
POLL = 0.02           # seconds between looks for a new frame
EVENTS_EVERY = 0.25   # seconds between looks for new figures to send on /events
KEEPALIVE = 15.0      # seconds of quiet after which /events sends a comment line
STALLED = 30.0        # seconds a client may leave one write unfinished before it is dropped
BOUNDARY = "streamseeframe"


class ServeError(OSError):
    """The browser view cannot listen where asked (the port taken, the address not this machine's)."""


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _host_named(request: web.Request) -> str:
    """The host the request's Host header names ("" when it names none or is not one)."""
    try:
        return request.url.host or ""
    except ValueError:
        return ""


class WebServer(Resource):
    """The HTTP server, on its own thread and event loop from construction to close(), serving the feeds added
    to it. `address` is "[HOST:]PORT" (port 0: any free one; `port` says which). ServeError when it cannot
    listen there; ValueError quoting the address or token when they are not ones."""

    def __init__(self, address: str = "127.0.0.1:0", token: str | None = None):
        self.host, port = parse_serve(address)
        RunConfig(serve_token=token)  # checks it
        self.generated = token is None and not is_loopback(self.host)
        self.token = secrets.token_urlsafe(24) if self.generated else token
        self.feeds: dict[str, Feed] = {}
        self.closed = False
        self.port = port
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="streamsee-web", daemon=True)
        self._thread.start()
        try:
            self.port = asyncio.run_coroutine_threadsafe(self._start(port), self._loop).result(timeout=30)
        except BaseException:
            self.close()
            raise

    def add_feed(self, name: str) -> Feed:
        feed = Feed(str(len(self.feeds)), name)
        self.feeds[feed.id] = feed
        return feed

    def url(self, with_token: bool = True) -> str:
        """The page's URL (this machine's name for a wildcard host), with the token when one is asked."""
        host = socket.gethostname() if self.host in ("0.0.0.0", "::") else self.host
        host = f"[{host}]" if ":" in host else host
        token = f"?token={quote(self.token, safe='')}" if self.token and with_token else ""
        return f"http://{host}:{self.port}/{token}"

    async def _start(self, port: int) -> int:
        self._stopping = asyncio.Event()
        app = web.Application(middlewares=[self._guard], client_max_size=4096)
        app.router.add_get("/", self._page, allow_head=False)
        app.router.add_get("/stream.mjpg", self._stream, allow_head=False)
        app.router.add_get("/events", self._events, allow_head=False)
        app.on_response_prepare.append(self._headers)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, port).start()
        except OSError as error:
            why = "the port is already in use" if error.errno == errno.EADDRINUSE else (error.strerror or str(error))
            raise ServeError(f"cannot serve the browser view on {self.host}:{port}: {why}") from None
        return self._runner.addresses[0][1]

    def close(self) -> None:
        """Stop serving (every client's connection ends) and the thread (safe to call twice)."""
        if self.closed:
            return
        self.closed = True
        with suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()

    async def _stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
        await asyncio.get_running_loop().shutdown_default_executor()

    @web.middleware
    async def _guard(self, request: web.Request, handler):
        if self.token is None and not is_loopback(_host_named(request)):
            raise web.HTTPForbidden(text="this server answers to its loopback address only\n")
        if self.token is not None:
            given = request.query.get("token") or request.headers.get("X-Streamsee-Token") or ""
            if not secrets.compare_digest(given.encode(), self.token.encode()):
                raise web.HTTPUnauthorized(text="a token is needed: open the URL streamsee printed\n")
        return await handler(request)

    @staticmethod
    async def _headers(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.update({"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                                 "Referrer-Policy": "no-referrer", "Content-Security-Policy": CSP})

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def _pause(self, seconds: float) -> None:
        """Sleep, waking at once when the server stops."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def _feed(self, request: web.Request) -> Feed:
        wanted = request.query.get("source")
        feed = self.feeds.get(wanted) if wanted is not None else next(iter(self.feeds.values()), None)
        if feed is None:
            raise web.HTTPNotFound(text="no such source\n")
        return feed

    async def _send(self, request: web.Request, response: web.StreamResponse, data: bytes) -> None:
        """Write, dropping the client when one write takes STALLED s (it stopped reading)."""
        try:
            await asyncio.wait_for(response.write(data), STALLED)
        except TimeoutError:
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("the client stopped reading") from None

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        """/stream.mjpg?fps=N&source=ID: the newest frame as JPEG at most N times a second."""
        feed = self._feed(request)
        text = request.query.get("fps", str(DEFAULT_FPS))
        try:
            fps = float(text)
        except ValueError:
            fps = math.nan
        if not 0 < fps < math.inf:
            raise web.HTTPBadRequest(text=f"fps must be a number > 0 (at most {MAX_FPS:g} are sent), not {text[:20]!r}\n")
        interval = 1 / min(fps, MAX_FPS)
        response = web.StreamResponse(headers={"Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}"})
        await response.prepare(request)
        loop, number = asyncio.get_running_loop(), 0
        feed.watchers += 1
        try:
            while not self._stopping.is_set():
                frame = await feed.jpeg(after=number)
                if frame is None:
                    await self._pause(POLL)
                    continue
                due = loop.time() + interval
                number, data = frame
                head = (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n"
                        f"X-Streamsee-Source: {feed.id}\r\n\r\n").encode()
                await self._send(request, response, head + data + b"\r\n")
                await self._pause(due - loop.time())
        except ConnectionError:
            pass
        finally:
            feed.watchers -= 1
        return response

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """/events: `hello` (the sources), then `stats`, `seen` and `timeline` of each source as they change."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)

        async def send(event: str, message: dict) -> None:
            await self._send(request, response, f"event: {event}\ndata: {json.dumps(message)}\n\n".encode())

        loop, sent = asyncio.get_running_loop(), {}
        try:
            await self._send(request, response, b"retry: 2000\n\n")
            await send("hello", {"sources": [{"source": feed.id, "name": feed.name} for feed in self.feeds.values()]})
            quiet_since, last = loop.time(), False
            while not last:
                last = self._stopping.is_set()  # one more pass once the server stops: the run's final figures
                for feed in list(self.feeds.values()):
                    snapshot, (changes, seen, timeline) = feed.snapshot, feed.detections()
                    if snapshot is not None and sent.get((feed.id, "stats")) is not snapshot:
                        sent[feed.id, "stats"] = snapshot
                        await send("stats", {"source": feed.id, "name": feed.name, **snapshot.to_json()})
                        quiet_since = loop.time()
                    if sent.get((feed.id, "seen")) != changes:
                        sent[feed.id, "seen"] = changes
                        await send("seen", {"source": feed.id, "seen": seen})
                        await send("timeline", {"source": feed.id, "timeline": timeline})
                if loop.time() - quiet_since > KEEPALIVE:
                    await self._send(request, response, b": still here\n\n")
                    quiet_since = loop.time()
                if not last:
                    await self._pause(EVENTS_EVERY)
        except ConnectionError:
            pass
        return response


class FeedView:
    """One source's view in the browser, used like its Window and TerminalView: show(image) hands over the
    newest frame (and is always True: the browser never ends a run), observe(outputs, timestamp) the results,
    update(snapshot) the statistics; `watched` while a client watches its video."""

    def __init__(self, feed: Feed):
        self.feed = feed

    @property
    def watched(self) -> bool:
        return self.feed.watchers > 0

    def show(self, image: np.ndarray) -> bool:
        self.feed.put(image)
        return True

    def observe(self, outputs: list[PathResult], timestamp: float) -> None:
        self.feed.observe(outputs, timestamp)

    def update(self, snapshot: Snapshot, force: bool = False) -> None:
        self.feed.snapshot = snapshot


class BrowserView(FeedView, Resource):
    """The browser view of a run: the server, and a FeedView per source (`views`, in the order of `source`: one
    name or a list); used directly it is the first source's view. Prints the URL to open (with the token when
    it was generated: the only time it is shown) through `notify`."""

    def __init__(self, address: str = "127.0.0.1:0", token: str | None = None, source: str | list[str] = "video",
                 notify: Callable[[str], None] | None = None):
        self.server = WebServer(address, token)
        names = [source] if isinstance(source, str) else list(source)
        self.views = [FeedView(self.server.add_feed(name)) for name in names]
        super().__init__(self.views[0].feed)
        say = notify or (lambda line: print(f"streamsee: {line}", file=sys.stderr, flush=True))
        if self.server.generated:
            say(f"browser view: open {self.server.url()} (a token made for this run, not shown again)")
        else:
            say(f"browser view: open {self.server.url(with_token=False)}"
                + (" with ?token=YOUR-TOKEN" if self.server.token else ""))

    def close(self) -> None:
        self.server.close()


__all__ = ["BrowserView", "FeedView", "ServeError", "WebServer"]
