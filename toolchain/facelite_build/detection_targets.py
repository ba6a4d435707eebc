"""Face boxes → the CenterNet training target the detector's loss compares with.

A target is (G, G, 6) for a G×G output grid:

    channel 0   max over faces of a Gaussian peaking at exactly 1 on the face's centre cell
    channel 1-2 box (w, h) as fractions of the input, on the centre cell
    channel 3-4 sub-cell centre offset (dx, dy) in cells from the cell's top-left corner
    channel 5   regression mask: 1 on centre cells (where size and offset are learned)

Channels 0-4 are laid out like the model's output (`centernet.CHANNELS`), so a target
decodes back to its boxes with the runtime's `facelite.detection.decode_output`.

Example:

    >>> import numpy as np
    >>> t = make_targets(np.array([[0.3, 0.4, 0.2, 0.2]]), size=160, stride=8)
    >>> t.shape, float(t[10, 8, 0]), [round(float(v), 2) for v in t[10, 8, 1:3]]
    ((20, 20, 6), 1.0, [0.2, 0.2])
"""

from __future__ import annotations

import math

import numpy as np

TARGET_CHANNELS = 6  # heatmap, size w/h, offset x/y, regression mask
SIGMA_FRACTION = 0.08  # Gaussian sigma = this × sqrt(w·h) of the box, in cells (≥ 0.5)


def make_targets(boxes: np.ndarray, size: int, stride: int) -> np.ndarray:
    """Boxes (K, 4) as input fractions (x, y, w, h) → (G, G, 6) target, G = size // stride.

    Empty boxes and boxes centred outside the input are skipped.
    """
    g = size // stride
    t = np.zeros((g, g, TARGET_CHANNELS), np.float32)
    yy, xx = np.mgrid[0:g, 0:g].astype(np.float32)
    for x, y, w, h in np.reshape(boxes, (-1, 4)):
        if w <= 0 or h <= 0:
            continue
        cx, cy = (x + w / 2.0) * g, (y + h / 2.0) * g
        if not (0.0 <= cx < g and 0.0 <= cy < g):
            continue
        ci, cj = int(cx), int(cy)
        sigma = max(0.5, SIGMA_FRACTION * math.sqrt(w * h) * g)
        gauss = np.exp(-((xx - ci) ** 2 + (yy - cj) ** 2) / (2.0 * sigma * sigma))
        t[..., 0] = np.maximum(t[..., 0], gauss)
        t[cj, ci, 0] = 1.0
        t[cj, ci, 1:3] = np.clip([w, h], 0.0, 1.0)
        t[cj, ci, 3:5] = cx - ci, cy - cj
        t[cj, ci, 5] = 1.0
    return t
