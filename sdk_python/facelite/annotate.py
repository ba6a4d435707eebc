"""Draw an AnalysisResult on the image: boxes, landmark dots, region outlines, labels.

Sizes scale with the image (line width, dot radius, font) so a 48-pixel crop and a
4000-pixel photo are both readable; labels sit on a filled background.

Example:

    >>> import numpy as np
    >>> from facelite.annotate import draw_result
    >>> from facelite.analyzer import AnalysisResult
    >>> draw_result(np.zeros((64, 64, 3), np.uint8), AnalysisResult([], {}, (64, 64), "haar-stand-in")).shape
    (64, 64, 3)
"""

from __future__ import annotations

import cv2
import numpy as np

REGION_COLOURS = {  # BGR
    "forehead": (255, 200, 0), "nose": (0, 200, 255), "chin": (200, 0, 255),
    "left_cheek": (0, 128, 255), "right_cheek": (0, 128, 255),
    "left_under_eye": (255, 0, 128), "right_under_eye": (255, 0, 128),
}
BOX_COLOUR = (0, 220, 0)
POINT_COLOUR = (0, 255, 255)


def draw_result(image: np.ndarray, result) -> np.ndarray:
    """A copy of the BGR image with every face of `result` drawn on it."""
    out = image.copy()
    h, w = out.shape[:2]
    unit = max(h, w) / 640.0
    thick = max(1, int(round(2 * unit)))
    radius = max(1, int(round(1.5 * unit)))
    font_scale = max(0.4, 0.6 * unit)
    for face in result.faces:
        b = face.box
        cv2.rectangle(out, (int(b.x), int(b.y)), (int(b.x + b.w), int(b.y + b.h)), BOX_COLOUR, thick)
        for name, poly in face.regions.items():
            cv2.polylines(out, [np.round(poly).astype(np.int32)], True,
                          REGION_COLOURS.get(name, (255, 255, 255)), max(1, thick // 2), cv2.LINE_AA)
        for x, y in np.round(face.landmarks).astype(int):
            cv2.circle(out, (int(x), int(y)), radius, POINT_COLOUR, -1, cv2.LINE_AA)
        parts = []
        if face.expression is not None:
            parts.append(f"{face.expression.top[0]} {face.expression.top[1]:.2f}")
        if face.skin is not None and face.skin.acne is not None:
            parts.append(f"acne {face.skin.acne.top[0]}")
        if not parts:
            parts.append(f"face {b.score:.2f}")
        _label(out, "  ".join(parts), (int(b.x), int(b.y)), font_scale, max(1, thick // 2 + 1))
    return out


def _label(img: np.ndarray, text: str, origin: tuple[int, int], scale: float, thickness: int) -> None:
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    x = min(max(0, origin[0]), max(0, img.shape[1] - tw - 4))
    y = origin[1] - 4 if origin[1] - th - base - 4 >= 0 else origin[1] + th + base + 4
    cv2.rectangle(img, (x, y - th - base), (x + tw + 4, y + base), (0, 0, 0), -1)
    cv2.putText(img, text, (x + 2, y), font, scale, (255, 255, 255), thickness, cv2.LINE_AA)
