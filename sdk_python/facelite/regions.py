"""Named skin regions as polygons built from the 68 iBUG landmarks.

Skin measures (redness, acne) are only meaningful on skin, not on eyes, brows, lips or
background, so each region is a polygon that avoids those features:

- `forehead`: above the brows; its height is 0.7 × the distance from the brow centre to
  the nose base (point 33) — in a typical face the hairline-to-brow third equals the
  brow-to-nose-base third, so 0.7 stays clear of the hair. Built along the face's own
  "up" direction, so it follows a tilted head.
- `nose`: from beside the bridge (between points 27 and the inner eye corners) to the
  nostrils (31–35).
- `left_cheek` / `right_cheek`: below the under-eye band, between the nose side and the
  jaw line pulled 25% towards the nose (so a turned head does not add background).
- `left_under_eye` / `right_under_eye`: a band under the lower lid, 0.35 × the eye width
  tall.
- `chin`: between the lower lip (shifted down) and the jaw points 6–10.

**Left and right are the subject's**, as a dermatologist would say them: `left_cheek`
is the subject's left cheek, which appears on the *image right* in a (non-mirrored)
frontal photo. Points 0–8 of the jaw are on the image left (subject's right).

Every polygon is an (N, 2) float32 array in image pixels, listed in order around the
region, and clipped to the image when `image_size` is given. `region_mask` gives a
polygon's pixels by the rasterization rule of docs/skin.md (a pixel is in when its centre
is inside by the even-odd crossing rule, in double), computed over the polygon's bounding
box only, so the C core (`mobile_bindings/c/src/regions.c`) finds the same pixels.

Example:

    >>> from facelite.mean_shape import fit_to_box
    >>> from facelite.regions import face_regions
    >>> r = face_regions(fit_to_box((100, 100, 200, 220)), image_size=(400, 400))
    >>> sorted(r) == sorted(REGION_NAMES)
    True
    >>> bool(r["left_cheek"][:, 0].mean() > r["right_cheek"][:, 0].mean())   # subject's left = image right
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

REGION_NAMES = (
    "forehead", "nose", "left_cheek", "right_cheek", "left_under_eye", "right_under_eye", "chin",
)


CHEEK_VISIBLE_RATIO = 0.4
"""A cheek whose polygon covers less than this share of the other cheek's area is hidden:
on a turned head the far cheek is a sliver of skin and background, too little to grade
(acne) or to measure (the skin scores), so both leave it out."""


def polygon_area(polygon: np.ndarray) -> float:
    """Area of a simple polygon (N, 2) by the shoelace formula, in square pixels."""
    p = np.asarray(polygon, np.float64).reshape(-1, 2)
    x, y = p[:, 0], p[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def hidden_cheeks(regions: dict[str, np.ndarray]) -> frozenset[str]:
    """The cheeks of `face_regions(...)` smaller than `CHEEK_VISIBLE_RATIO` × the other's area.

    Example:

        >>> from facelite.mean_shape import fit_to_box
        >>> hidden_cheeks(face_regions(fit_to_box((100, 100, 200, 220))))   # a frontal face
        frozenset()
    """
    areas = {name: polygon_area(regions[name]) for name in ("left_cheek", "right_cheek")}
    widest = max(areas.values())
    return frozenset(name for name, area in areas.items() if area < CHEEK_VISIBLE_RATIO * widest)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-6 else np.array([0.0, -1.0], np.float32)


def face_regions(points: np.ndarray, image_size: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """68 landmarks (pixels) → {region name: (N, 2) polygon}; `image_size` is (W, H)."""
    p = np.asarray(points, np.float32).reshape(68, 2)
    brow_centre = p[17:27].mean(axis=0)
    up = _unit(brow_centre - p[33])
    brow_to_nose = float(np.linalg.norm(brow_centre - p[33]))
    nose_tip = p[30]

    def toward(i: int, target: np.ndarray, f: float) -> np.ndarray:
        return p[i] + f * (target - p[i])

    # Forehead: brows lifted slightly (to leave the brows out), then a band above them.
    bottom = p[17:27] + up * (0.12 * brow_to_nose)
    top = p[17:27][::-1] + up * (0.7 * brow_to_nose)
    forehead = np.vstack([bottom, top])

    nose = np.vstack([(p[27] + p[39]) / 2, p[31], p[32], p[33], p[34], p[35], (p[27] + p[42]) / 2])

    def under_eye(lid: list[int]) -> np.ndarray:  # lid points from outer to inner corner
        eye_w = float(np.linalg.norm(p[lid[0]] - p[lid[-1]]))
        top_edge = p[lid] - up * (0.08 * eye_w)
        return np.vstack([top_edge, top_edge[::-1] - up * (0.35 * eye_w)])

    right_under = under_eye([36, 41, 40, 39])  # subject's right eye: image left
    left_under = under_eye([45, 46, 47, 42])   # subject's left eye: image right

    def cheek(under: np.ndarray, nose_side: int, mouth_corner: int, jaw: list[int]) -> np.ndarray:
        band_bottom = under[len(under) // 2:][::-1]  # outer → inner, bottom edge of the band
        jaw_pts = [toward(j, nose_tip, 0.25) for j in jaw]
        return np.vstack([band_bottom, p[nose_side], toward(mouth_corner, p[nose_side], 0.3), *jaw_pts])

    right_cheek = cheek(right_under, 31, 48, [4, 3, 2, 1])
    left_cheek = cheek(left_under, 35, 54, [12, 13, 14, 15])

    lip_drop = 0.2 * float(np.linalg.norm(p[57] - p[8]))
    chin = np.vstack([[toward(j, nose_tip, 0.1) for j in range(6, 11)], p[[55, 56, 57, 58, 59]] - up * lip_drop])

    regions = {
        "forehead": forehead, "nose": nose,
        "left_cheek": left_cheek, "right_cheek": right_cheek,
        "left_under_eye": left_under, "right_under_eye": right_under,
        "chin": chin,
    }
    if image_size is not None:
        w, h = image_size
        regions = {k: np.clip(v, [0, 0], [w - 1, h - 1]) for k, v in regions.items()}
    return {k: v.astype(np.float32) for k, v in regions.items()}


@dataclass(frozen=True)
class RegionMask:
    """A polygon's pixels: `mask[r, c]` is pixel (x0 + c, y0 + r) of the image.

    The mask covers the polygon's bounding box clipped to the image, never the whole
    image (a face region is a few percent of a photo).
    """

    x0: int
    y0: int
    mask: np.ndarray  # (h, w) bool

    @property
    def count(self) -> int:
        return int(self.mask.sum())

    def contains(self, x: int, y: int) -> bool:
        r, c = y - self.y0, x - self.x0
        return bool(0 <= r < self.mask.shape[0] and 0 <= c < self.mask.shape[1] and self.mask[r, c])


def region_mask(polygon: np.ndarray, image_shape: tuple[int, ...]) -> RegionMask:
    """The pixels of `polygon` in an image of `image_shape` (H, W, ...), docs/skin.md §1.

    Pixel (x, y) is in when its centre (x + 0.5, y + 0.5) is inside by the even-odd
    crossing rule: an edge a→b crosses the centre's row when (a.y > cy) != (b.y > cy),
    at xc = a.x + (cy − a.y) · (b.x − a.x) / (b.y − a.y) in double, and counts when
    cx < xc; an odd count is inside. Fewer than 3 vertices or a non-finite one: no pixel.

    Example:

        >>> square = np.array([[2, 2], [6, 2], [6, 6], [2, 6]], np.float32)
        >>> m = region_mask(square, (10, 10))
        >>> m.count, m.contains(2, 2), m.contains(6, 6)
        (16, True, False)
    """
    h, w = image_shape[:2]
    p = np.asarray(polygon, np.float32).reshape(-1, 2).astype(np.float64)
    if len(p) < 3 or not np.isfinite(p).all():
        return RegionMask(0, 0, np.zeros((0, 0), bool))
    x0, x1 = (int(min(max(v, 0.0), float(w))) for v in (math.floor(p[:, 0].min()), math.floor(p[:, 0].max()) + 1.0))
    y0, y1 = (int(min(max(v, 0.0), float(h))) for v in (math.floor(p[:, 1].min()), math.floor(p[:, 1].max()) + 1.0))
    cx = np.arange(x0, x1, dtype=np.float64) + 0.5
    cy = np.arange(y0, y1, dtype=np.float64) + 0.5
    # Every edge against every row of the box at once: (edges, rows) crossings at xc (−∞
    # where the edge does not cross the row, so it never counts), then the parity of the
    # counting edges per pixel: the same comparisons as edge by edge, in a few array passes.
    a, b = p[:, None, :], np.roll(p, -1, axis=0)[:, None, :]
    ax, ay, bx, by = a[..., 0], a[..., 1], b[..., 0], b[..., 1]
    crosses = (ay > cy) != (by > cy)
    with np.errstate(divide="ignore", invalid="ignore"):                     # horizontal edges never cross
        xc = np.where(crosses, ax + (cy - ay) * (bx - ax) / (by - ay), -np.inf)
    inside = (np.count_nonzero(cx < xc[:, :, None], axis=0) & 1).astype(bool)
    return RegionMask(x0, y0, inside)
