"""Drawing results on frames, in the style of Roboflow supervision.

Every drawer is a class holding its settings, with one method `annotate(frame, result) -> frame`.
Frames are BGR uint8 (H, W, 3); annotators return a new array and never modify their input.
Sizes (font scale, line widths, padding) are those of a frame up to 720 pixels on its shorter
side and grow with it beyond (`scale_for`), so labels stay readable on an 8000x6000 photo.
"""

from __future__ import annotations

import cv2
import numpy as np

from streamsee.core.frames import check_frame
from streamsee.core.labels import CLASSES
from streamsee.core.result import Result

Colour = tuple[int, int, int]  # B, G, R

# One distinct, readable colour per class (BGR), after Sasha Trubetskoy's distinct colours.
CLASS_COLOURS: tuple[Colour, ...] = (
    (200, 130, 0),    # airplane: blue
    (75, 25, 230),    # automobile: red
    (25, 225, 255),   # bird: yellow
    (48, 130, 245),   # cat: orange
    (40, 110, 170),   # deer: brown
    (230, 50, 240),   # dog: magenta
    (75, 180, 60),    # frog: green
    (180, 30, 145),   # horse: purple
    (240, 240, 70),   # ship: cyan
    (128, 128, 0),    # truck: teal
)
FONT = cv2.FONT_HERSHEY_SIMPLEX
SCALE_FROM = 720  # shorter side (pixels) above which text and lines grow with the frame


def scale_for(frame: np.ndarray) -> float:
    """How much larger than their settings text and lines are drawn on `frame`: 1 up to SCALE_FROM
    pixels on its shorter side, in proportion beyond."""
    return max(1.0, min(frame.shape[:2]) / SCALE_FROM)


def scaled(size: float, scale: float) -> int:
    """A pixel size (line width, padding) times `scale`, at least 1."""
    return max(1, round(size * scale))


def text_colour(background: Colour) -> Colour:
    """Black or white, whichever reads better on `background` (BGR)."""
    b, g, r = background
    return (0, 0, 0) if 0.114 * b + 0.587 * g + 0.299 * r > 150 else (255, 255, 255)


def _text_metrics(text: str, font_scale: float, thickness: int) -> tuple[int, int, int]:
    """Width, height above the baseline and depth below it; the same height for every text
    (at least that of "Ay"), so tags with and without descenders line up."""
    (width, height), baseline = cv2.getTextSize(text, FONT, font_scale, thickness)
    (_, ref_height), ref_baseline = cv2.getTextSize("Ay", FONT, font_scale, thickness)
    return width, max(height, ref_height), max(baseline, ref_baseline)


def tag_size(text: str, font_scale: float = 0.5, thickness: int = 1, padding: int = 3) -> tuple[int, int]:
    """Width and height in pixels of the tag `put_tag` draws for `text`."""
    width, height, baseline = _text_metrics(text, font_scale, thickness)
    return width + 2 * padding, height + baseline + 2 * padding


def put_tag(frame: np.ndarray, text: str, origin: tuple[int, int], colour: Colour,
            font_scale: float = 0.5, thickness: int = 1, padding: int = 3) -> np.ndarray:
    """Draw `text` on a filled `colour` rectangle whose top-left corner is `origin` (x, y).

    The tag is shifted to lie inside the frame where it fits. Draws in place and returns `frame`.
    """
    width, height = tag_size(text, font_scale, thickness, padding)
    x = int(min(max(origin[0], 0), max(frame.shape[1] - width, 0)))
    y = int(min(max(origin[1], 0), max(frame.shape[0] - height, 0)))
    cv2.rectangle(frame, (x, y), (x + width - 1, y + height - 1), colour, cv2.FILLED)
    text_height = _text_metrics(text, font_scale, thickness)[1]
    cv2.putText(frame, text, (x + padding, y + padding + text_height), FONT, font_scale,
                text_colour(colour), thickness, cv2.LINE_AA)
    return frame


class BoxAnnotator:
    """Each box in its class colour, with a filled "label score" tag above it."""

    def __init__(self, thickness: int = 2, font_scale: float = 0.5, text_thickness: int = 1,
                 colours: tuple[Colour, ...] = CLASS_COLOURS):
        self.thickness = thickness
        self.font_scale = font_scale
        self.text_thickness = text_thickness
        self.colours = colours

    def annotate(self, frame: np.ndarray, result: Result) -> np.ndarray:
        check_frame(frame)
        out = frame.copy()
        scale = scale_for(frame)
        thickness, font_scale = scaled(self.thickness, scale), self.font_scale * scale
        text_thickness, padding = scaled(self.text_thickness, scale), scaled(3, scale)
        boxes = np.round(result.xyxy).astype(np.int64)
        for (x1, y1, x2, y2), class_id in zip(boxes.tolist(), result.class_id.tolist()):
            cv2.rectangle(out, (x1, y1), (x2, y2), self.colours[class_id], thickness)
        # Tags after all boxes, least confident first, so the most confident tag ends up on top.
        for i in np.argsort(result.score, kind="stable"):
            x1, y1 = boxes[i, :2].tolist()
            text = f"{CLASSES[result.class_id[i]]} {result.score[i]:.2f}"
            height = tag_size(text, font_scale, text_thickness, padding)[1]
            top = y1 - thickness // 2 - height
            if top < 0:  # box touches the top edge: hang the tag inside the box instead
                top = y1 + (thickness + 1) // 2
            put_tag(out, text, (x1 - thickness // 2, top), self.colours[result.class_id[i]],
                    font_scale, text_thickness, padding)
        return out


class HeatmapAnnotator:
    """Segmentation as a per-class coloured heatmap whose opacity follows the probability.

    Each pixel takes the colour of its most likely class (or `result.class_map` where given) and
    is blended over the frame with opacity `alpha * p`, p that class's probability: confident
    regions show strongly, uncertain ones faintly, background (class_map == 255) not at all.
    """

    def __init__(self, alpha: float = 0.6, legend: bool = True, legend_corner: str = "top-right",
                 font_scale: float = 0.45, colours: tuple[Colour, ...] = CLASS_COLOURS):
        if legend_corner not in ("top-left", "top-right", "bottom-left", "bottom-right"):
            raise ValueError(f"legend_corner must be top-/bottom- left/right, got {legend_corner!r}")
        self.alpha = alpha
        self.legend = legend
        self.legend_corner = legend_corner
        self.font_scale = font_scale
        self.colours = colours
        self._palette = np.zeros((256, 1, 3), np.uint8)  # colour per class-map value, a LUT for cv2.LUT
        self._palette[:len(colours), 0] = colours

    def annotate(self, frame: np.ndarray, result: Result) -> np.ndarray:
        check_frame(frame)
        if result.probabilities is None:
            return frame.copy()
        height, width = frame.shape[:2]
        # Opacity is worked out at the probability map's resolution and only that one plane is
        # upsampled (resizing all eleven planes to the frame was the slowest step of a frame).
        probabilities = result.probabilities
        low_height, low_width = probabilities.shape[:2]
        if result.class_map is None:  # most likely class and its probability, background ignored
            low_map = probabilities[..., :len(CLASSES)].argmax(axis=2).astype(np.uint8)
            class_map = cv2.resize(low_map, (width, height), interpolation=cv2.INTER_NEAREST)
        else:
            class_map = result.class_map
            if class_map.shape != (height, width):
                class_map = cv2.resize(class_map, (width, height), interpolation=cv2.INTER_NEAREST)
            low_map = cv2.resize(class_map, (low_width, low_height), interpolation=cv2.INTER_NEAREST)
        is_class = low_map < len(CLASSES)
        low_opacity = np.take_along_axis(probabilities, np.where(is_class, low_map, 0)[..., None], axis=2)[..., 0]
        low_opacity = np.where(is_class, low_opacity, 0.0).astype(np.float32)
        opacity = cv2.resize(low_opacity, (width, height), interpolation=cv2.INTER_LINEAR)
        opacity[class_map >= len(CLASSES)] = 0.0  # background (255) stays clear, edges stay sharp
        opacity = self.alpha * np.clip(opacity, 0.0, 1.0)
        colour = cv2.LUT(cv2.cvtColor(class_map, cv2.COLOR_GRAY2BGR), self._palette)  # 6x numpy's palette[class_map]
        out = cv2.blendLinear(frame, colour, 1.0 - opacity, opacity)
        if self.legend:
            self._draw_legend(out, sorted(set(result.class_id.tolist())))
        return out

    def _draw_legend(self, frame: np.ndarray, class_ids: list[int]) -> None:
        """A swatch and name per class on a dark semi-transparent panel, in place."""
        if not class_ids:
            return
        scale = scale_for(frame)
        pad, margin, gap = scaled(6, scale), scaled(8, scale), scaled(4, scale)
        font_scale, thickness = self.font_scale * scale, scaled(1, scale)
        _, text_height, baseline = _text_metrics("Ay", font_scale, thickness)
        row = text_height + baseline + gap
        swatch = text_height + baseline
        text_width = max(cv2.getTextSize(CLASSES[c], FONT, font_scale, thickness)[0][0] for c in class_ids)
        panel_w, panel_h = 2 * pad + swatch + 6 * gap // 4 + text_width, 2 * pad + row * len(class_ids) - gap
        height, width = frame.shape[:2]
        x = margin if self.legend_corner.endswith("left") else max(width - panel_w - margin, 0)
        y = margin if self.legend_corner.startswith("top") else max(height - panel_h - margin, 0)
        region = frame[y:y + panel_h, x:x + panel_w]
        region[:] = np.rint(region * 0.35).astype(np.uint8)  # 65 % black backing
        for i, class_id in enumerate(class_ids):
            top = y + pad + i * row
            cv2.rectangle(frame, (x + pad, top), (x + pad + swatch - 1, top + swatch - 1),
                          self.colours[class_id], cv2.FILLED)
            cv2.putText(frame, CLASSES[class_id], (x + pad + swatch + 6 * gap // 4, top + text_height), FONT,
                        font_scale, (255, 255, 255), thickness, cv2.LINE_AA)


def side_by_side(left: np.ndarray, right: np.ndarray,
                 titles: tuple[str, str] = ("boxes", "segment"),
                 colour: Colour = (40, 40, 40), font_scale: float = 0.6) -> np.ndarray:
    """`left` and `right` (same shape) next to each other, each titled in a top-left tag.

    An empty title draws no tag. Returns a new frame; the inputs are not modified.
    """
    check_frame(left)
    if left.shape != right.shape or left.dtype != right.dtype:
        raise ValueError(f"frames must have the same shape and dtype, got {left.shape} and {right.shape}")
    out = np.hstack([left, right])
    scale = scale_for(left)
    margin = scaled(4, scale)
    for offset, title in zip((0, left.shape[1]), titles):
        if title:
            put_tag(out, title, (offset + margin, margin), colour, font_scale * scale, scaled(1, scale), margin)
    return out


__all__ = ["CLASS_COLOURS", "BoxAnnotator", "HeatmapAnnotator", "put_tag", "scale_for", "side_by_side", "tag_size",
           "text_colour"]


class HudAnnotator:
    """Live figures: rates, latency p50/p95, per-stage ms, drops and skips (bottom left), and with
    two paths side by side (compare), each path's own figures at the top of its half.

    It only reads a `streamsee.core.snapshot.Snapshot`; annotate(frame, snapshot) -> frame. A
    `status` line (news about the source: "source lost: reconnecting ...") is drawn above the
    figures on a red tag; `status_only` draws that line alone (on the last frame, while no new one comes).
    """

    STATUS_COLOUR: Colour = (20, 20, 170)

    def __init__(self, font_scale: float = 0.45, colour: Colour = (30, 30, 30)):
        self.font_scale = font_scale
        self.colour = colour

    def lines(self, snapshot) -> list[str]:
        stages = "  ".join(f"{name} {ms:.1f}" for name, ms in snapshot.stage_ms.items())
        return [f"source {snapshot.source_fps:.1f} fps  analysed {snapshot.analysed_fps:.1f} fps",
                f"latency p50 {snapshot.latency_p50_ms:.0f} ms  p95 {snapshot.latency_p95_ms:.0f} ms",
                f"ms: {stages}" if stages else "ms: -",
                f"dropped {snapshot.dropped}  skipped {snapshot.skipped}"]

    @staticmethod
    def path_line(path) -> str:
        analyse = path.stage_ms.get("analyse", 0.0)
        return (f"analyse {analyse:.0f} ms  to result p50 {path.latency_p50_ms:.0f} "
                f"p95 {path.latency_p95_ms:.0f} ms  {path.analysed_fps:.1f} fps")

    def sizes(self, frame: np.ndarray) -> tuple[float, int, int, int]:
        """Font scale, text thickness, padding and one line's height on `frame` (see scale_for)."""
        scale = scale_for(frame)
        font_scale, thickness, padding = self.font_scale * scale, scaled(1, scale), scaled(3, scale)
        return font_scale, thickness, padding, tag_size("Ay", font_scale, thickness, padding)[1]

    def status_only(self, frame: np.ndarray, status: str) -> np.ndarray:
        check_frame(frame)
        out = frame.copy()
        font_scale, thickness, padding, height = self.sizes(frame)
        margin = 2 * padding  # 6 at scale 1
        put_tag(out, status, (4 * padding // 3, out.shape[0] - 5 * height - margin), self.STATUS_COLOUR,
                font_scale, thickness, padding)
        return out

    def annotate(self, frame: np.ndarray, snapshot, status: str | None = None) -> np.ndarray:
        check_frame(frame)
        out = self.status_only(frame, status) if status else frame.copy()
        font_scale, thickness, padding, height = self.sizes(frame)
        left = 4 * padding // 3  # 4 at scale 1
        y = out.shape[0] - 4 * height - left
        for line in self.lines(snapshot):
            put_tag(out, line, (left, y), self.colour, font_scale, thickness, padding)
            y += height
        if len(snapshot.paths) > 1:  # panels of equal width, in the order of the paths
            panel = out.shape[1] // len(snapshot.paths)
            for number, path in enumerate(snapshot.paths.values()):
                put_tag(out, self.path_line(path), (number * panel + left, 2 * height + 2 * left), self.colour,
                        font_scale, thickness, padding)
        return out
