"""What the HUD, the terminal table and the summary show of a run's statistics: numbers only."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Snapshot:
    """What the HUD, the terminal table and the summary show: numbers only."""

    source_fps: float
    analysed_fps: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_max_ms: float
    stage_ms: dict[str, float]
    frames: int
    analysed: int
    skipped: int
    dropped: int
    paths: dict[str, Snapshot] = field(default_factory=dict)  # per path: latency = capture -> its result

    def to_json(self) -> dict:
        figures = {"source_fps": round(self.source_fps, 2), "analysed_fps": round(self.analysed_fps, 2),
                "latency_p50_ms": round(self.latency_p50_ms, 1), "latency_p95_ms": round(self.latency_p95_ms, 1),
                "latency_max_ms": round(self.latency_max_ms, 1),
                "stage_ms": {k: round(v, 2) for k, v in self.stage_ms.items()},
                "frames": self.frames, "analysed": self.analysed, "skipped": self.skipped, "dropped": self.dropped}
        if self.paths:
            figures["paths"] = {name: path.to_json() for name, path in self.paths.items()}
        return figures
