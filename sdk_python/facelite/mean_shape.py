"""A constant 68-point mean face shape: the landmarker's stand-in, run only when asked for.

Computed once (not at import time) from all 1,207 faces of the 300W `afw` and
`helen_train` folders: each face's points normalised to their own extent box (min/max of
the 68 points → [0, 1]), averaged, and the mean re-normalised to its own extent. iBUG
point order (0–16 jaw, 17–26 brows, 27–35 nose, 36–47 eyes, 48–67 mouth); point 0 is on
the image left (the subject's right).

`HAAR_TO_EXTENT` maps OpenCV's frontal-face Haar box (x, y, w, h) to the points' extent
box: extent = (x + a·w, y + b·h, c·w, d·h), medians over the 497 faces where the
stand-in detector's box overlapped the annotation (IoU > 0.3) on every second file.

Example:

    >>> from facelite.mean_shape import MEAN_SHAPE, fit_to_box
    >>> MEAN_SHAPE.shape, fit_to_box((10, 20, 100, 50))[8].round(1).tolist()
    ((68, 2), [61.5, 70.0])
"""

from __future__ import annotations

import numpy as np

MEAN_SHAPE = np.array([
    [0.0000, 0.1912],
    [0.0047, 0.3301],
    [0.0208, 0.4684],
    [0.0501, 0.6020],
    [0.1040, 0.7248],
    [0.1867, 0.8308],
    [0.2868, 0.9172],
    [0.3951, 0.9838],
    [0.5146, 1.0000],
    [0.6316, 0.9757],
    [0.7350, 0.9042],
    [0.8295, 0.8158],
    [0.9062, 0.7091],
    [0.9565, 0.5857],
    [0.9826, 0.4534],
    [0.9953, 0.3180],
    [1.0000, 0.1805],
    [0.0893, 0.0898],
    [0.1510, 0.0281],
    [0.2396, 0.0081],
    [0.3323, 0.0196],
    [0.4168, 0.0529],
    [0.5775, 0.0455],
    [0.6659, 0.0118],
    [0.7569, 0.0000],
    [0.8441, 0.0204],
    [0.9025, 0.0800],
    [0.5008, 0.1599],
    [0.5020, 0.2482],
    [0.5036, 0.3350],
    [0.5058, 0.4246],
    [0.3979, 0.4900],
    [0.4507, 0.5080],
    [0.5051, 0.5223],
    [0.5584, 0.5065],
    [0.6060, 0.4890],
    [0.1919, 0.1796],
    [0.2484, 0.1463],
    [0.3143, 0.1476],
    [0.3705, 0.1904],
    [0.3125, 0.2021],
    [0.2460, 0.2028],
    [0.6249, 0.1865],
    [0.6846, 0.1402],
    [0.7497, 0.1403],
    [0.8033, 0.1714],
    [0.7546, 0.1946],
    [0.6896, 0.1971],
    [0.3106, 0.6561],
    [0.3840, 0.6228],
    [0.4570, 0.6068],
    [0.5032, 0.6191],
    [0.5551, 0.6061],
    [0.6285, 0.6219],
    [0.6974, 0.6499],
    [0.6308, 0.7231],
    [0.5606, 0.7560],
    [0.5053, 0.7626],
    [0.4542, 0.7578],
    [0.3820, 0.7272],
    [0.3403, 0.6587],
    [0.4566, 0.6501],
    [0.5038, 0.6549],
    [0.5560, 0.6487],
    [0.6686, 0.6541],
    [0.5567, 0.6896],
    [0.5038, 0.6971],
    [0.4555, 0.6919],
], dtype=np.float32)

HAAR_TO_EXTENT = (0.0926, 0.2322, 0.8486, 0.8238)

IBUG_MIRROR = np.array(
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30]
    + [35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65],
    dtype=np.int32,
)
"""The iBUG 68-point mirror: point i of a horizontally flipped face is point IBUG_MIRROR[i]
of the original (jaw, brows, nose, eyes, mouth each reversed left ↔ right). Used by the
landmark augmentation and by the head-pose model's symmetry."""


def fit_to_box(box) -> np.ndarray:
    """The mean shape stretched into an extent box (x, y, w, h) → (68, 2) pixels."""
    x, y, w, h = (float(v) for v in box[:4])
    return MEAN_SHAPE * np.array([w, h], np.float32) + np.array([x, y], np.float32)


def haar_box_to_extent(box) -> tuple[float, float, float, float]:
    """Haar detection box → the landmark extent box a 300W-trained model expects."""
    x, y, w, h = (float(v) for v in box[:4])
    a, b, c, d = HAAR_TO_EXTENT
    return x + a * w, y + b * h, c * w, d * h
