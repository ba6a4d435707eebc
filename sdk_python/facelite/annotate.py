"""Draw results: an AnalysisResult on the photo, and the one-page skin report.

`draw_result` draws boxes, landmark dots and region outlines on a copy of the photo; a
face with a skin report (`Face.skin`) gets each region tinted by its score and labelled
with it. A region's score on a picture is its **lowest** concern score (the concern that
most needs attention), coloured by band: green `good`, amber `fair`, red `attention`.
A tracked face (VIDEO and LIVE_STREAM modes) is labelled with its track id, `#0`.
`annotated_video(path, fps)` writes such drawings frame by frame as a video
(`facelite analyze VIDEO --annotate OUT.mp4`).

`skin_report_page` renders a readable page per face (`facelite skin-report`): the face's
skin crop with the regions coloured and numbered as above, a bar per concern (the
face's scores), the tone (ITA° and a swatch of the measured skin colour), the capture
verdict with what to fix, and a region × concern table.

Sizes scale with the image (line width, dot radius, font) so a 48-pixel crop and a
4000-pixel photo are both readable; labels sit on a filled background.

Example:

    >>> import numpy as np
    >>> from facelite.annotate import draw_result
    >>> from facelite.analyzer import AnalysisResult
    >>> draw_result(np.zeros((64, 64, 3), np.uint8), AnalysisResult([], {}, (64, 64), "haar-stand-in")).shape
    (64, 64, 3)
    >>> band_colour(85), band_colour(12)
    ((76, 175, 80), (60, 60, 220))
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from .regions import REGION_NAMES, face_regions
from .skin_scores import CONCERNS, band

REGION_COLOURS = {  # BGR
    "forehead": (255, 200, 0), "nose": (0, 200, 255), "chin": (200, 0, 255),
    "left_cheek": (0, 128, 255), "right_cheek": (0, 128, 255),
    "left_under_eye": (255, 0, 128), "right_under_eye": (255, 0, 128),
}
BOX_COLOUR = (0, 220, 0)
POINT_COLOUR = (0, 255, 255)
BAND_COLOURS = {"good": (76, 175, 80), "fair": (0, 170, 240), "attention": (60, 60, 220)}
"""BGR per band: green, amber, red."""
FONT = cv2.FONT_HERSHEY_SIMPLEX
INK = (40, 40, 40)
GREY = (130, 130, 130)
PAPER = (255, 255, 255)


def band_colour(score: float) -> tuple[int, int, int]:
    """The BGR colour of a score's band."""
    return BAND_COLOURS[band(score)]


def region_score(report, region: str):
    """(score, concern) of the region's lowest concern score, or None when it has none."""
    scores = report.regions.get(region) or {}
    if not scores:
        return None
    concern = min(scores, key=lambda c: scores[c].score)
    return scores[concern].score, concern


def draw_result(image: np.ndarray, result) -> np.ndarray:
    """A copy of the BGR image with every face of `result` drawn on it."""
    out = image.copy()
    h, w = out.shape[:2]
    unit = max(h, w) / 640.0
    thick = max(1, int(round(2 * unit)))
    radius = max(1, int(round(1.5 * unit)))
    font_scale = max(0.4, 0.6 * unit)
    for face in result.faces:
        if face.skin is not None:
            draw_region_scores(out, face.regions, face.skin, font_scale * 0.8)
    for face in result.faces:
        b = face.box
        cv2.rectangle(out, (int(b.x), int(b.y)), (int(b.x + b.w), int(b.y + b.h)), BOX_COLOUR, thick)
        if face.skin is None:
            for name, poly in face.regions.items():
                cv2.polylines(out, [np.round(poly).astype(np.int32)], True,
                              REGION_COLOURS.get(name, (255, 255, 255)), max(1, thick // 2), cv2.LINE_AA)
        for x, y in np.round(face.landmarks).astype(int):
            cv2.circle(out, (int(x), int(y)), radius, POINT_COLOUR, -1, cv2.LINE_AA)
        parts = []
        if face.expression is not None:
            parts.append(f"{face.expression.top[0]} {face.expression.top[1]:.2f}")
        if face.skin is not None:
            parts.append(_skin_summary(face.skin))
        if not parts:
            parts.append(f"face {b.score:.2f}")
        if face.track_id is not None:
            parts.insert(0, f"#{face.track_id}")
        label(out, "  ".join(parts), (int(b.x), int(b.y)), font_scale, max(1, thick // 2 + 1))
    return out


VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
"""FourCC per annotated-video extension: codecs every OpenCV build writes."""


class _VideoOut:
    """Appends annotated frames to an open `cv2.VideoWriter` (see `annotated_video`)."""

    def __init__(self, path: str, fourcc: int, fps: float, shown_as: str):
        self._path, self._fourcc, self._fps, self._shown_as = path, fourcc, fps, shown_as
        self._writer = None
        self._size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, image: np.ndarray, result) -> None:
        """Draw `result` on a copy of the BGR frame (`draw_result`) and append it."""
        from .errors import UserError

        frame = draw_result(image, result)
        size = (frame.shape[1], frame.shape[0])
        if self._writer is None:
            self._writer, self._size = cv2.VideoWriter(self._path, self._fourcc, self._fps, size), size
            if not self._writer.isOpened():
                raise UserError(f"{self._shown_as}: OpenCV cannot write this video; use an .avi or .mp4 path")
        elif size != self._size:
            raise UserError(f"{self._shown_as}: frame {self.frames} is {size[0]}x{size[1]}, the video "
                            f"{self._size[0]}x{self._size[1]}; a video's frames must share one size")
        self._writer.write(frame)
        self.frames += 1

    def release(self) -> None:
        if self._writer is not None:
            self._writer.release()


@contextlib.contextmanager
def annotated_video(path, fps: float) -> Iterator[_VideoOut]:
    """A video of annotated frames (`facelite analyze VIDEO --annotate OUT.mp4`): call
    `.write(frame, result)` per analysed frame (drawn by `draw_result`, track ids included).

    The codec follows the extension (`VIDEO_CODECS`); `fps` is the frame rate written
    (30 when unknown). The video is written to a temp file beside `path` and renamed when
    the block ends (`files.atomic_path`): an interrupted run, an error, or a run that
    wrote no frame leaves nothing under the final name.

    Example:

        >>> import tempfile, pathlib, numpy as np
        >>> from facelite.analyzer import AnalysisResult
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "out.avi"
        >>> with annotated_video(out, 10) as video:
        ...     for _ in range(3):
        ...         video.write(np.zeros((48, 64, 3), np.uint8), AnalysisResult([], {}, (64, 48), "none"))
        >>> int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT))
        3
    """
    from .errors import UserError
    from .files import atomic_path

    suffix = Path(path).suffix.lower()
    if suffix not in VIDEO_CODECS:
        raise UserError(f"--annotate {path}: name a video file ({', '.join(VIDEO_CODECS)}) for an annotated video")
    with atomic_path(path, suffix=".tmp" + suffix) as tmp:
        video = _VideoOut(tmp, cv2.VideoWriter_fourcc(*VIDEO_CODECS[suffix]), fps if fps and fps > 0 else 30.0,
                          str(path))
        try:
            yield video
        finally:
            video.release()
        if not video.frames:
            raise UserError(f"--annotate {path}: no frame was analysed, so no video was written")


def _skin_summary(report) -> str:
    if not report.face:
        return "skin: not measured"
    worst = min(report.face, key=lambda c: report.face[c].score)
    return f"{worst} {round(report.face[worst].score)}" + ("" if report.reliable else " (unreliable)")


def draw_region_scores(img: np.ndarray, polygons: dict[str, np.ndarray], report, font_scale: float,
                       alpha: float = 0.35) -> None:
    """Tint each region of `polygons` (image pixels) by its score's band, outline it and
    write its lowest concern score at its centre, in place."""
    overlay = img.copy()
    scored = []
    for name in REGION_NAMES:
        s = region_score(report, name)
        if s is None or name not in polygons:
            continue
        poly = np.round(polygons[name]).astype(np.int32)
        cv2.fillPoly(overlay, [poly], band_colour(s[0]), cv2.LINE_AA)
        scored.append((name, poly, s[0]))
    cv2.addWeighted(overlay, alpha, img, 1 - alpha, 0, dst=img)
    thick = max(1, int(round(font_scale * 2)))
    placed: list[tuple[int, int, int, int]] = []
    for name, poly, score in scored:
        cv2.polylines(img, [poly], True, band_colour(score), thick, cv2.LINE_AA)
    for name, poly, score in scored:
        cx, cy = polygons[name].mean(axis=0)
        text = str(int(round(score)))
        (tw, th), base = cv2.getTextSize(text, FONT, font_scale, thick)
        x, y = free_spot(placed, int(cx - tw / 2), int(cy + th / 2), tw + 4, th + base)
        placed.append((x, y - th - base, tw + 4, th + base))
        label(img, text, (x, y), font_scale, thick, centred=True)


def free_spot(placed: list[tuple[int, int, int, int]], x: int, y: int, w: int, h: int) -> tuple[int, int]:
    """A baseline point near (x, y) whose label box (w×h above it) overlaps none of
    `placed` (x, y, w, h): the point itself, else moved down or up by a box height at a
    time (a small region's number then sits just beside it)."""
    def clear(yy: int) -> bool:
        top = yy - h
        return all(x + w <= px or px + pw <= x or top + h <= py or py + ph <= top for px, py, pw, ph in placed)

    for step in range(6):
        for yy in (y + step * h, y - step * h):
            if clear(yy):
                return x, yy
    return x, y


def label(img: np.ndarray, text: str, origin: tuple[int, int], scale: float, thickness: int,
          centred: bool = False) -> None:
    """White text on a black box with its baseline at `origin` (moved inside the image;
    `centred`: kept there, else put above the point, or below when there is no room)."""
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thickness)
    x = min(max(0, origin[0]), max(0, img.shape[1] - tw - 4))
    if centred:
        y = min(max(th + base, origin[1]), img.shape[0] - base)
    else:
        y = origin[1] - 4 if origin[1] - th - base - 4 >= 0 else origin[1] + th + base + 4
    cv2.rectangle(img, (x, y - th - base), (x + tw + 4, y + base), (0, 0, 0), -1)
    cv2.putText(img, text, (x + 2, y), FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA)


# -- the one-page skin report -----------------------------------------------------------

PAGE_CROP = 512
"""Side of the face picture on the page (the skin crop, enlarged)."""
PANEL_W, PANEL_H = 1280, 600
MARGIN = 24
CONCERN_TEXT = {"acne": "Acne", "redness": "Redness", "pigmentation": "Dark spots", "evenness": "Evenness",
                "texture": "Texture", "shine": "Shine"}
REGION_TEXT = {"forehead": "forehead", "nose": "nose", "left_cheek": "L cheek", "right_cheek": "R cheek",
               "left_under_eye": "L under-eye", "right_under_eye": "R under-eye", "chin": "chin"}


def skin_report_page(image: np.ndarray, faces: Sequence[tuple[np.ndarray, object]], title: str = "") -> np.ndarray:
    """The report page (BGR uint8): one panel per face, given as (68 landmarks in the
    image, SkinReport); faces without a report are left out. No face: a page that says so."""
    from .skin_measures import face_crop

    panels = []
    for i, (points, report) in enumerate(faces):
        if report is None:
            continue
        crop = face_crop(image, points)
        panels.append(_face_panel(crop, report, f"Face {i + 1}" + (f"  -  {title}" if title else "")))
    if not panels:
        page = np.full((120, PANEL_W, 3), 255, np.uint8)
        _text(page, f"{title}: no face to report on" if title else "No face to report on", (MARGIN, 70), 0.9, INK, 2)
        return page
    return np.vstack(panels)


def _face_panel(crop, report, heading: str) -> np.ndarray:
    panel = np.full((PANEL_H, PANEL_W, 3), 255, np.uint8)
    scale = PAGE_CROP / crop.size
    face = cv2.resize(crop.image, (PAGE_CROP, PAGE_CROP), interpolation=cv2.INTER_CUBIC)
    polygons = {k: v * scale for k, v in face_regions(crop.points, (crop.size, crop.size)).items()}
    draw_region_scores(face, polygons, report, 0.7)
    top = 50
    panel[top:top + PAGE_CROP, MARGIN:MARGIN + PAGE_CROP] = face
    _text(panel, heading, (MARGIN, 34), 0.8, INK, 2)
    _legend(panel, MARGIN, top + PAGE_CROP + 24)

    x = MARGIN * 2 + PAGE_CROP
    y = 34
    if report.reliable:
        _text(panel, "Photo OK: scores are reliable" + (" (restored)" if report.restored else ""), (x, y), 0.65,
              BAND_COLOURS["good"], 2)
        y += 12
    else:
        _text(panel, "Photo not reliable: scores are indicative only", (x, y), 0.65, BAND_COLOURS["attention"], 2)
        for message in report.quality.messages()[:3]:
            y += 24
            _text(panel, f"- {message}", (x + 10, y), 0.5, INK, 1)
        y += 12
    y = _concern_bars(panel, report, x, y + 20)
    y = _tone_line(panel, report, x, y + 14)
    _region_table(panel, report, x, y + 18)
    return panel


def _legend(panel: np.ndarray, x: int, y: int) -> None:
    text = "regions: their lowest concern score"
    _text(panel, text, (x, y), 0.45, GREY, 1)
    x += 24 + cv2.getTextSize(text, FONT, 0.45, 1)[0][0]
    for name, text in (("good", "good 70+"), ("fair", "fair 40-69"), ("attention", "attention <40")):
        cv2.rectangle(panel, (x, y - 11), (x + 14, y + 1), BAND_COLOURS[name], -1)
        _text(panel, text, (x + 19, y), 0.45, INK, 1)
        x += 30 + cv2.getTextSize(text, FONT, 0.45, 1)[0][0]


def _concern_bars(panel: np.ndarray, report, x: int, y: int) -> int:
    bar_x, bar_w, row = x + 130, 300, 30
    _text(panel, "Face", (x, y), 0.6, INK, 2)
    for tick in (0, 40, 70, 100):
        tx = bar_x + int(bar_w * tick / 100)
        _text(panel, str(tick), (tx - 8, y), 0.4, GREY, 1)
    y += 10
    for concern in CONCERNS:
        s = report.face.get(concern)
        y += row
        _text(panel, CONCERN_TEXT[concern], (x, y), 0.6, INK, 1)
        cv2.rectangle(panel, (bar_x, y - 16), (bar_x + bar_w, y + 2), (235, 235, 235), -1)
        if s is None:
            _text(panel, "not measured", (bar_x + 8, y - 2), 0.45, GREY, 1)
            continue
        cv2.rectangle(panel, (bar_x, y - 16), (bar_x + max(2, int(bar_w * s.score / 100)), y + 2),
                      band_colour(s.score), -1)
        _text(panel, f"{int(round(s.score)):3d}  {s.band}", (bar_x + bar_w + 10, y), 0.55, INK, 1)
    for tick in (40, 70):
        tx = bar_x + int(bar_w * tick / 100)
        cv2.line(panel, (tx, y - row * len(CONCERNS) - 18), (tx, y + 4), GREY, 1)
    return y


def _tone_line(panel: np.ndarray, report, x: int, y: int) -> int:
    y += 24
    if report.tone is None:
        _text(panel, "Tone: not measured", (x, y), 0.6, INK, 1)
        return y
    swatch = _skin_swatch(report)
    if swatch is not None:
        cv2.rectangle(panel, (x, y - 18), (x + 40, y + 6), swatch, -1)
        cv2.rectangle(panel, (x, y - 18), (x + 40, y + 6), GREY, 1)
    category = report.tone.category.replace("_", " ")
    _text(panel, f"Tone: {category} (ITA {report.tone.ita_deg:.0f} deg), reported, not scored", (x + 52, y), 0.55,
          INK, 1)
    return y


def _skin_swatch(report) -> tuple[int, int, int] | None:
    """The BGR colour of the face's mean skin L*, a*, b* (after lighting normalisation)."""
    face = report.raw.regions.get("face", {}) if report.raw is not None else {}
    lab = [face.get(k, math.nan) for k in ("lightness", "a_star", "b_star")]
    if not all(math.isfinite(v) for v in lab):
        return None
    bgr = cv2.cvtColor(np.array([[lab]], np.float32), cv2.COLOR_Lab2BGR)[0, 0]
    return tuple(int(round(255 * min(1.0, max(0.0, float(c))))) for c in bgr)


def _region_table(panel: np.ndarray, report, x: int, y: int) -> None:
    col0, col = 120, 88
    y += 10
    for j, concern in enumerate(CONCERNS):
        _text(panel, CONCERN_TEXT[concern], (x + col0 + j * col, y), 0.42, GREY, 1)
    for name in REGION_NAMES:
        y += 22
        _text(panel, REGION_TEXT[name], (x, y), 0.45, INK, 1)
        scores = report.regions.get(name, {})
        for j, concern in enumerate(CONCERNS):
            s = scores.get(concern)
            cx = x + col0 + j * col
            if s is None:
                _text(panel, "-", (cx + 14, y), 0.45, GREY, 1)
                continue
            cv2.circle(panel, (cx + 4, y - 5), 5, band_colour(s.score), -1, cv2.LINE_AA)
            _text(panel, str(int(round(s.score))), (cx + 14, y), 0.45, INK, 1)


def _text(img: np.ndarray, text: str, origin: tuple[int, int], scale: float, colour, thickness: int) -> None:
    cv2.putText(img, text, origin, FONT, scale, colour, thickness, cv2.LINE_AA)
