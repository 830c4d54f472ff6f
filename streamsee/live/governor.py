"""Holding the latency budget on a live source: the analysis cost lowered, step by step, while its
results reach the screen later than the budget allows, and raised again when there is room.

Rendering never waits for the analysis (live/stream.py), so what falls behind is the overlay: a
result is drawn first some time after its frame was captured. That age (capture of the analysed
frame -> the first frame drawn with its result) is what the governor watches. The levels are
explicit, a share of the configured cost each (`LEVELS`): the FCN path's working widths (class
and objectness FCN) and the box path's proposals classified per frame; compare mode lowers both.
The last levels also rest the worker after each analysis (for as long again, then twice as long),
leaving the CPU to the drawing and writing of every frame when the machine cannot do both.

    >>> governor = CostGovernor.for_analyser(analyser, budget_ms=250, notify=print)
    >>> governor.observe(age_ms)      # the caller's thread, once per new result
    >>> cost = governor.wanted()      # the worker, before each analysis: a Cost to apply, or None

The first time a result is late the governor says so, once (one line through `notify`); level
changes are in `report()` (the statistics file's "cost").
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from streamsee.recognition.boxes import MAX_PROPOSALS

# The levels, cheapest last: (share of the configured FCN working widths, share of the box path's proposals,
# rest after each analysis as a multiple of its time).
LEVELS = ((1.0, 1.0, 0.0), (0.8, 0.67, 0.0), (0.6, 0.4, 0.0), (0.4, 0.2, 0.0), (0.4, 0.2, 1.0), (0.4, 0.2, 2.0))
MIN_WIDTH = 64  # no FCN working width below this (the configuration's own least)
WIDTH_STEP = 8  # the FCN's stride: working widths are multiples of it
DEFAULT_PROPOSALS = MAX_PROPOSALS  # the box path's own, for a detector set to classify all (0)
WINDOW = 10  # results judged at one level (their p95)
LOWER_AFTER = 4  # results at a level before it may be lowered
RAISE_AFTER = 20  # results at a level before it may be raised
RAISE_BELOW = 0.6  # raised only while the p95 is under this share of the budget
RETRY_S = 30.0  # a level found over the budget is not tried again for this long
WARMUP = 1  # first results not judged (the first inference allocates the models' buffers)


@dataclass(frozen=True)
class Cost:
    """What one level asks of the analyser: None where the mode has no such path."""

    level: int
    working_width: int | None = None
    objectness_width: int | None = None
    max_proposals: int | None = None
    rest: float = 0.0  # the worker waits this many times an analysis's time after it

    def describe(self) -> str:
        parts = []
        if self.working_width is not None:
            objectness = f" (objectness {self.objectness_width})" if self.objectness_width is not None else ""
            parts.append(f"FCN working width {self.working_width}{objectness}")
        if self.max_proposals is not None:
            parts.append(f"{self.max_proposals or 'all'} box proposals")
        if self.rest:
            parts.append(f"a rest of {self.rest:g}x each analysis")
        return ", ".join(parts) or "the mode's own cost"


def scaled_width(width: int, share: float) -> int:
    return max(min(width, MIN_WIDTH), int(round(width * share / WIDTH_STEP)) * WIDTH_STEP)


def scaled_proposals(max_proposals: int, share: float) -> int:
    if share >= 1:
        return max_proposals
    return max(1, round((max_proposals or DEFAULT_PROPOSALS) * share))  # 0: all, counted as the default


def ladder(working_width: int | None, objectness_width: int | None, max_proposals: int | None) -> list[Cost]:
    """One Cost per level of LEVELS for these configured settings (None: the mode has no such path);
    levels that would change nothing are left out. Without any path (a stand-in analyser) there is
    nothing to lower: one level."""
    if working_width is None and max_proposals is None:
        return [Cost(0)]
    costs: list[Cost] = []
    for widths, proposals, rest in LEVELS:
        cost = Cost(len(costs),
                    None if working_width is None else scaled_width(working_width, widths),
                    None if objectness_width is None else scaled_width(objectness_width, widths),
                    None if max_proposals is None else scaled_proposals(max_proposals, proposals), rest)
        if not costs or dataclasses.replace(cost, level=costs[-1].level) != costs[-1]:
            costs.append(cost)
    return costs


def say_on_stderr(line: str) -> None:
    print(f"streamsee: {line}", file=sys.stderr, flush=True)


class CostGovernor:
    """Chooses the analysis cost level from the age of the results when first drawn (thread-safe:
    `observe` on the caller's thread, `wanted` on the worker's)."""

    def __init__(self, costs: list[Cost], budget_ms: float, notify: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.perf_counter):
        self.costs = costs
        self.budget_ms = budget_ms
        self.notify = notify or say_on_stderr
        self.clock = clock
        self.level = 0
        self.applied = 0  # the level the analyser runs at (the worker's)
        self.said = False
        self.seen = 0
        self.window: deque = deque(maxlen=WINDOW)
        self.at_level = 0  # results observed at the current level
        self.over_at: dict[int, float] = {}  # level -> when it was last found over the budget
        self.changes: list[dict] = []
        self.ages: list[float] = []
        self._lock = threading.Lock()

    @classmethod
    def for_analyser(cls, analyser, budget_ms: float, notify: Callable[[str], None] | None = None) -> CostGovernor:
        """The governor for an Analyser's paths, at their configured settings (one level, nothing to
        lower, for an analyser without `paths`)."""
        paths = getattr(analyser, "paths", {})
        segment, boxes = paths.get("segment"), paths.get("boxes")
        costs = ladder(None if segment is None else segment.working_width,
                       None if segment is None else segment.objectness_width,
                       None if boxes is None else boxes.max_proposals)
        return cls(costs, budget_ms, notify)

    def observe(self, age_ms: float) -> None:
        """One new result, drawn `age_ms` after its frame was captured."""
        message = None
        with self._lock:
            self.seen += 1
            self.ages.append(age_ms)
            if self.seen <= WARMUP:
                return
            if age_ms > self.budget_ms and not self.said:
                self.said = True
                message = self._first_late(age_ms)
            self.window.append(age_ms)
            self.at_level += 1
            p95 = float(np.percentile(self.window, 95))
            if p95 > self.budget_ms and self.at_level >= LOWER_AFTER:
                self.over_at[self.level] = self.clock()
                if self.level + 1 < len(self.costs):
                    self._move(self.level + 1, p95)
            elif (p95 < RAISE_BELOW * self.budget_ms and self.at_level >= RAISE_AFTER and self.level > 0
                  and self.clock() - self.over_at.get(self.level - 1, -RETRY_S) >= RETRY_S):
                self._move(self.level - 1, p95)
        if message:
            self.notify(message)

    def _first_late(self, age_ms: float) -> str:
        line = (f"analysis falls behind: a result was drawn {age_ms:.0f} ms after its frame was captured, "
                f"over the {self.budget_ms:.0f} ms budget; ")
        if len(self.costs) > 1:
            return line + (f"lowering its cost step by step while it stays over (from {self.costs[0].describe()} "
                           f"down to {self.costs[-1].describe()} at most)")
        return line + "this mode's cost cannot be lowered"

    def _move(self, level: int, p95: float) -> None:
        self.changes.append({"at_result": self.seen, "from": self.level, "to": level, "p95_ms": round(p95, 1)})
        self.level = level
        self.window.clear()
        self.at_level = 0

    def wanted(self) -> Cost | None:
        """The Cost the analyser should switch to before its next frame, or None to stay."""
        with self._lock:
            if self.level == self.applied:
                return None
            self.applied = self.level
            return self.costs[self.level]

    def report(self) -> dict:
        """For the statistics file: the levels, the one the run ended at, its changes, and the results'
        age when first drawn (p50/p95 over the run)."""
        with self._lock:
            ages = np.array(self.ages, np.float64)
            return {"budget_ms": self.budget_ms, "level": self.level,
                    "levels": [cost.describe() for cost in self.costs], "changes": list(self.changes),
                    "late_said": self.said, "results": len(ages),
                    "result_age_p50_ms": round(float(np.percentile(ages, 50)), 1) if len(ages) else 0.0,
                    "result_age_p95_ms": round(float(np.percentile(ages, 95)), 1) if len(ages) else 0.0}
