"""One source as the browser view (live.web) shows it: the newest frame and its JPEG, the statistics, the
classes seen now and a short timeline of detections. The pipeline's thread hands them over, cheaply (a
reference swapped under a lock; a few boxes read); the server's thread reads them and encodes the JPEG."""

from __future__ import annotations

import asyncio
import threading
from collections import deque

import cv2
import numpy as np

from streamsee.core.labels import CLASSES
from streamsee.core.result import PathResult
from streamsee.core.snapshot import Snapshot

JPEG_QUALITY = 80
TIMELINE = 30         # detections kept
GONE_AFTER = 1.0      # seconds (source clock) a class goes unseen before the timeline says it is gone


def encode_jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError(f"cannot encode a frame of shape {image.shape} as JPEG")
    return data.tobytes()


class Feed:
    """One source as the page shows it: the newest frame (a reference; the pipeline draws each frame into a new
    array) and its JPEG, the statistics, the classes seen now and the timeline. The pipeline's thread hands
    them over (put, observe, `snapshot`); the server's thread reads them."""

    def __init__(self, id: str, name: str):
        self.id, self.name = id, name
        self.watchers = 0                       # clients of /stream.mjpg now (counted on the server's thread)
        self.snapshot: Snapshot | None = None   # the newest statistics
        self._lock = threading.Lock()
        self._image: np.ndarray | None = None
        self._number = 0                        # frames handed over
        self._jpeg = (0, b"")                   # (frame number, its JPEG)
        self._encoding = asyncio.Lock()
        self._outputs: list[PathResult] | None = None
        self._seen: dict[str, list[dict]] = {}
        self._present: dict[tuple[str, str], float] = {}  # (path, label): when last seen
        self._timeline: deque[dict] = deque(maxlen=TIMELINE)
        self._changes = 0                       # bumped when the classes seen or the timeline change

    def put(self, image: np.ndarray) -> None:
        with self._lock:
            self._image, self._number = image, self._number + 1

    def observe(self, outputs: list[PathResult], timestamp: float) -> None:
        """The classes each path sees in a frame (the best score of each), and the timeline: a class seen
        that was not, or not seen for GONE_AFTER seconds of the source's clock."""
        if outputs is self._outputs:  # the same results, drawn on another frame
            return
        self._outputs = outputs
        seen = {}
        for output in outputs:
            best: dict[str, float] = {}
            for class_id, score in zip(output.result.class_id.tolist(), output.result.score.tolist()):
                best[CLASSES[class_id]] = max(best.get(CLASSES[class_id], 0.0), round(score, 3))
            seen[output.mode] = [{"label": label, "score": score} for label, score in
                                 sorted(best.items(), key=lambda item: -item[1])]
        at = round(timestamp, 2)
        with self._lock:
            for path, classes in seen.items():
                for entry in classes:
                    if (path, entry["label"]) not in self._present:
                        self._timeline.append({"at": at, "path": path, "event": "in", **entry})
                    self._present[path, entry["label"]] = timestamp
            for (path, label), last in list(self._present.items()):
                if not 0 <= timestamp - last <= GONE_AFTER:
                    del self._present[path, label]
                    self._timeline.append({"at": at, "path": path, "event": "out", "label": label})
            if seen != self._seen:
                self._seen = seen
                self._changes += 1

    def detections(self) -> tuple[int, dict, list]:
        """(a number that changes when they do, the classes seen per path, the timeline)."""
        with self._lock:
            return self._changes, self._seen, list(self._timeline)

    async def jpeg(self, after: int) -> tuple[int, bytes] | None:
        """The newest frame's number and JPEG when it is newer than frame `after`, else None. Encoded in the
        loop's executor, once per frame for every client."""
        with self._lock:
            number = self._number
        if number <= after or self._image is None:
            return None
        async with self._encoding:
            with self._lock:
                number, image = self._number, self._image
            if self._jpeg[0] < number:
                self._jpeg = (number, await asyncio.get_running_loop().run_in_executor(None, encode_jpeg, image))
        return self._jpeg


__all__ = ["Feed", "encode_jpeg"]
