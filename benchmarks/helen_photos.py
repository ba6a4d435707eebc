"""HELEN photos with their 68 annotated points, scaled to a fixed longer side, for the speed benchmarks.

Why: `benchmarks/pipeline.py` and `benchmarks/video.py` feed facelite and MediaPipe the
same decoded pixels at one size (issue #13 measures at 512 px on the longer side), so
neither side's time includes decoding a multi-megapixel JPEG and both see exactly the
same frame. The points are moved with the pixels (pixel centres: x' = (x + 0.5)·s − 0.5)
so they stay ground truth for the scaled photo.

    >>> from helen_photos import helen_photos                        # doctest: +SKIP
    >>> photos = helen_photos("/work/shared/data", limit=3)            # doctest: +SKIP
    >>> photos[0].image.shape, photos[0].points.shape                  # doctest: +SKIP
    ((341, 512, 3), (68, 2))
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facelite.datasets import pts_pairs, read_pts
from facelite.image import load_image

HELEN = Path("landmarks300w") / "helen_train"
SIDE = 512


@dataclass(frozen=True)
class Photo:
    """A decoded BGR photo and its (68, 2) annotated points in its pixels."""

    path: Path
    image: np.ndarray
    points: np.ndarray


def default_data() -> str:
    """FACELITE_DATA, else the shared data folder beside the repository."""
    return os.environ.get("FACELITE_DATA") or str(Path(__file__).resolve().parents[2] / "shared" / "data")


def scaled(image: np.ndarray, points: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """The image with its longer side `side` and the points moved with it (`scaled_by`)."""
    return scaled_by(image, points, side / max(image.shape[:2]))


def scaled_by(image: np.ndarray, points: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray]:
    """The image scaled by `s` (area resampling down, linear up) and the points moved with it."""
    h, w = image.shape[:2]
    size = (max(1, round(w * s)), max(1, round(h * s)))
    out = cv2.resize(image, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    sx, sy = size[0] / w, size[1] / h
    moved = (np.asarray(points, np.float64) + 0.5) * (sx, sy) - 0.5
    return out, moved.astype(np.float32)


def helen_photos(data: str | os.PathLike, limit: int, side: int | None = SIDE) -> list[Photo]:
    """The first `limit` HELEN training photos (sorted by name) at `side` px on the longer side
    (None: as they are)."""
    photos = []
    for image_path, pts in pts_pairs(Path(data) / HELEN)[:limit]:
        image, points = load_image(image_path), read_pts(pts)
        photos.append(Photo(image_path, *(scaled(image, points, side) if side else (image, points))))
    return photos
