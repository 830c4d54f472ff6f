"""A screenshot of streamsee's browser view (two sources side by side) for the README, made again by running this.

    python scripts/web_screenshot.py                                  # docs/images/web.png
    python scripts/web_screenshot.py --out /tmp/web.png --mode compare
    python scripts/web_screenshot.py VIDEO_A.mp4 VIDEO_B.mp4 --settle 2

It starts Debian's headless chromium (its DevTools protocol over aiohttp's WebSocket client, with tests/devtools.py,
as tests/test_web.py drives it), then `python -m streamsee.cli A B --mode MODE --realtime --no-display --serve 127.0.0.1:PORT` on a
free port, opens the page as soon as it is served, waits until every panel shows video frames, its statistics
table has figures and some classes seen or timeline entries are there (--limit s at most, else it fails and
writes nothing), then --settle s, then up to --classes-limit s more for a moment when every panel names a class
seen now, and saves a PNG of the whole page. Then chromium is closed and streamsee gets SIGINT (Ctrl-C) and is waited for.

The defaults are two clips of ../shared/media/videos (relative to the repository root). dog.mp4 lasts 3.2 s:
chromium is started and its tab connected before streamsee, so the page opens the moment the server answers.
A panel whose source has ended keeps its last frame and figures while the other runs. The PNG is shrunk (in
steps of 10 %, to half the page's size at most) until it is under --max-kb.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # for tests/devtools.py, the DevTools client the browser tests use too
from devtools import Chromium, chromium_path, connect, drain  # noqa: E402

VIDEOS = ROOT.parent / "shared" / "media" / "videos"
DEFAULT_INPUTS = [VIDEOS / "dog.mp4", VIDEOS / "car-detection.mp4"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Every panel: a frame shown, the statistics filled; some classes seen or a timeline entry somewhere.
READY = """(() => {
  const panels = [...document.querySelectorAll('.panel')];
  return panels.length === COUNT && document.body.dataset.state === 'live'
    && panels.every((p) => p.querySelector('.video').naturalWidth > 0
                           && p.querySelector('.stats').textContent.includes('frames'))
    && panels.some((p) => p.querySelector('.timeline').children.length > 0
                          || /\\d\\.\\d\\d/.test(p.querySelector('.seen').textContent));
})()"""

# Every panel names a class seen now, with its score (awaited as long as --classes-limit allows, not required):
# the moment the screenshot is taken, so each video shows what its panel names.
EVERY_SEEN = "[...document.querySelectorAll('.panel')].every((p) => /\\d\\.\\d\\d/.test(p.querySelector('.seen').textContent))"

# What each panel shows now, to say what is missing when it does not get there.
STATE = """[...document.querySelectorAll('.panel')].map((p) => ({
  name: p.querySelector('.name').textContent, frame: p.querySelector('.video').naturalWidth,
  stats: p.querySelector('.stats').textContent.includes('frames'), seen: p.querySelector('.seen').textContent,
  timeline: p.querySelector('.timeline').children.length}))"""


def start_streamsee(inputs: list[Path], mode: str, port: int, extra: list[str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "streamsee.cli", *map(str, inputs), "--mode", mode, "--realtime",
               "--no-display", "--serve", f"127.0.0.1:{port}", *extra]
    print("web_screenshot: " + " ".join(command[1:]), file=sys.stderr)
    return subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def wait_served(process: subprocess.Popen, port: int, limit: float) -> str:
    """The page's URL once the server answers on it (SystemExit when streamsee ends first or takes too long)."""
    url, deadline = f"http://127.0.0.1:{port}/", time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamsee ended (exit {process.returncode}) before it served the page")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return url
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"streamsee did not serve {url} within {limit:.0f} s")


def stop(process: subprocess.Popen, limit: float = 30) -> int:
    """SIGINT (as Ctrl-C), then wait; killed only when it does not end within `limit` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(limit)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def shrink(png: bytes, max_bytes: int) -> tuple[bytes, tuple[int, int]]:
    """The PNG, scaled down (area interpolation, in steps of 10 %) until it takes at most `max_bytes`."""
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    height, width = image.shape[:2]
    scale = 1.0
    while len(png) > max_bytes and scale > 0.5:
        scale -= 0.1
        small = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        png = cv2.imencode(".png", small, [cv2.IMWRITE_PNG_COMPRESSION, 9])[1].tobytes()
    return png, (round(width * scale), round(height * scale))


async def take(devtools: str, streamsee: subprocess.Popen, port: int, count: int, args) -> bytes:
    async with connect(devtools) as tab:
        loop = asyncio.get_running_loop()
        url = await loop.run_in_executor(None, wait_served, streamsee, port, args.start_limit)
        await tab.open(url, limit=30)
        if not await tab.wait_for(READY.replace("COUNT", str(count)), args.limit):
            state = await tab.evaluate(STATE)
            raise RuntimeError(f"the page was not ready within {args.limit:.0f} s: {json.dumps(state)}")
        opened = time.monotonic()
        await asyncio.sleep(args.settle)
        every = await tab.wait_for(EVERY_SEEN, args.classes_limit)
        print(f"web_screenshot: {time.monotonic() - opened:.1f} s after the page filled, "
              + ("every panel names a class" if every else "not every panel names a class (--classes-limit)"),
              file=sys.stderr)
        print("web_screenshot: shown: " + json.dumps(await tab.evaluate(STATE)), file=sys.stderr)
        return await tab.screenshot(whole_page=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="*", type=Path, default=DEFAULT_INPUTS, metavar="VIDEO",
                        help="the sources (default: ../shared/media/videos/dog.mp4 and car-detection.mp4)")
    parser.add_argument("--mode", choices=("boxes", "segment", "compare"), default="segment")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "web.png")
    parser.add_argument("--width", type=int, default=1400, help="the browser window's width (default 1400)")
    parser.add_argument("--height", type=int, default=1000, help="the browser window's height (default 1000)")
    parser.add_argument("--settle", type=float, default=1.0,
                        help="seconds to wait once the page is filled, before looking for classes (default 1)")
    parser.add_argument("--limit", type=float, default=90, help="seconds the page may take to fill (default 90)")
    parser.add_argument("--classes-limit", type=float, default=40,
                        help="seconds more to wait, after --settle, for every panel to name a class seen now "
                             "(default 40; the screenshot is taken then either way)")
    parser.add_argument("--start-limit", type=float, default=120,
                        help="seconds streamsee may take to serve the page (default 120)")
    parser.add_argument("--max-kb", type=int, default=590, help="the PNG's largest size in KB (default 590)")
    parser.add_argument("--streamsee-arg", action="append", default=[], metavar="ARG",
                        help="one more argument for streamsee (repeat for several)")
    args = parser.parse_args(argv)
    inputs = [path.resolve() for path in args.inputs]
    if missing := [str(path) for path in inputs if not path.exists()]:
        parser.error("no such file: " + ", ".join(missing))

    if (path := chromium_path()) is None:
        sys.exit("web_screenshot: needs chromium (apt-get install chromium)")
    try:
        browser = Chromium(path, args.width, args.height, flags=["--hide-scrollbars"])
    except RuntimeError as error:
        sys.exit(f"web_screenshot: {error}")
    port = free_port()
    streamsee = start_streamsee(inputs, args.mode, port, args.streamsee_arg)
    said: deque[str] = deque(maxlen=40)
    drain(streamsee.stderr, said)
    try:
        png = asyncio.run(take(browser.devtools, streamsee, port, len(inputs), args))
    except (RuntimeError, OSError) as error:
        print(f"web_screenshot: {error}", file=sys.stderr)
        print("streamsee said:\n  " + "\n  ".join(said), file=sys.stderr)
        return 1
    finally:
        browser.close()
        code = stop(streamsee)
    png, (width, height) = shrink(png, args.max_kb * 1000)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(png)
    print(f"web_screenshot: {args.out} ({width}x{height}, {len(png) // 1000} KB); streamsee ended with {code}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
