"""Video clips synthesised from one annotated photo moved by a known motion, with their true points.

Why: `benchmarks/video.py` measures VIDEO mode's landmark error and jitter, which needs
clips whose true 68 points are known on every frame. No such video dataset is at hand,
so a real HELEN photo (with its .pts annotation) is placed on a 640x480 frame and moved
by a known affine per frame; the same affine moves the annotated points, which stay
ground truth. Motions (a sine of period `PERIOD_S` = 2 s, so speeds and directions change
as a head's do, at the same speed whatever the clip's length; a 60-frame clip is one
period):

    translation  ±15% of the frame's width sideways, ±5% of its height up and down
    zoom         the face's size ×(1 ± 0.25)
    rotation     ±20° in the image plane
    brightness   no motion; the pixels' gain ramps 1 → 0.4 → 1 over each period
    still        no motion (with `noise_sigma`: sensor-like noise drawn anew per frame)

Pixels and points move through the same matrix: `cv2.warpAffine`'s pixel-centre
convention (integer coordinates are pixel centres) is the points' convention here.

    >>> import numpy as np
    >>> from synthetic_clips import clip
    >>> photo = np.zeros((300, 300, 3), np.uint8); points = np.random.default_rng(0).uniform(100, 200, (68, 2))
    >>> frames = list(clip(photo, points, "rotation", n_frames=4))
    >>> frames[1].image.shape, frames[1].points.shape, frames[1].timestamp_ms
    ((480, 640, 3), (68, 2), 33)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Iterator

import cv2
import numpy as np

from facelite.datasets import extent_box
from helen_photos import scaled_by

MOTIONS = ("translation", "zoom", "rotation", "brightness", "still")
MOVING = ("translation", "zoom", "rotation", "brightness")
"""The motions whose landmark error is compared (VIDEO vs IMAGE); `still` is for jitter."""
FRAME_SIZE = (640, 480)
"""(width, height) of the frames."""
FPS = 30
PERIOD_S = 2.0
"""Seconds of one cycle of every motion."""
FACE_WIDTH = 200
"""Width in frame pixels of the annotated points' extent before any motion."""


@dataclass(frozen=True)
class Frame:
    """One synthetic frame: BGR pixels, the (68, 2) true points in them, its timestamp."""

    image: np.ndarray
    points: np.ndarray
    timestamp_ms: int


def motion(name: str, seconds: float, size: tuple[int, int] = FRAME_SIZE) -> tuple[np.ndarray, float]:
    """(2x3 affine about the frame's centre, pixel gain) of motion `name` at `seconds` into the clip."""
    if name not in MOTIONS:
        raise ValueError(f"motion {name!r}: use one of {', '.join(MOTIONS)}")
    w, h = size
    t = (seconds / PERIOD_S) % 1.0
    wave = math.sin(2 * math.pi * t)
    angle, scale, dx, dy, gain = 0.0, 1.0, 0.0, 0.0, 1.0
    if name == "translation":
        dx, dy = 0.15 * w * wave, 0.05 * h * math.sin(4 * math.pi * t)
    elif name == "zoom":
        scale = 1 + 0.25 * wave
    elif name == "rotation":
        angle = 20.0 * wave
    elif name == "brightness":
        gain = 1 - 0.6 * (1 - abs(2 * t - 1))
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, scale)
    m[:, 2] += (dx, dy)
    return m, gain


def placed(photo: np.ndarray, points: np.ndarray, size: tuple[int, int] = FRAME_SIZE,
           face_width: float = FACE_WIDTH) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(photo scaled so the points' extent is `face_width` wide, its points, the 2x3 shift that
    centres the extent on the frame)."""
    x, y, w, h = extent_box(points)
    image, pts = scaled_by(photo, points, face_width / w)
    x, y, w, h = extent_box(pts)
    shift = np.array([[1.0, 0.0, (size[0] - 1) / 2 - (x + w / 2)], [0.0, 1.0, (size[1] - 1) / 2 - (y + h / 2)]])
    return image, pts, shift


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (N, 2) through a 2x3 affine."""
    points = np.asarray(points, np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def clip(photo: np.ndarray, points: np.ndarray, name: str, n_frames: int, size: tuple[int, int] = FRAME_SIZE,
         noise_sigma: float = 0.0, seed: int = 0, face_width: float = FACE_WIDTH) -> Iterator[Frame]:
    """The `n_frames` frames (at FPS) of motion `name` applied to the photo, with the moved true points."""
    image, pts, shift = placed(photo, points, size, face_width)
    rng = np.random.default_rng(seed)
    for i in range(n_frames):
        m, gain = motion(name, i / FPS, size)
        total = np.vstack([m, (0, 0, 1)]) @ np.vstack([shift, (0, 0, 1)])
        frame = cv2.warpAffine(image, total[:2], size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if gain != 1.0 or noise_sigma:
            pixels = frame.astype(np.float32) * gain
            if noise_sigma:
                pixels += rng.normal(0.0, noise_sigma, pixels.shape).astype(np.float32)
            frame = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
        yield Frame(frame, apply_affine(total[:2], pts).astype(np.float32), round(i * 1000 / FPS))
