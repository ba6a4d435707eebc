"""Skin measures: a colour measure (redness) and the acne-severity classifier.

`redness` is the mean CIELAB a* (green − / red +) over the skin regions' pixels: "redness
v1", specified in docs/skin.md so that the C core computes the same bits. a* is the
standard colorimetric axis dermatology uses for erythema; here it comes from 8-bit sRGB
(D65) in double precision, unquantized (about −86…98; typical skin 5–25). Each step is
written out in IEEE double arithmetic (a 256-entry sRGB → linear table, the sRGB → XYZ
matrix, a cube root by a fixed Halley iteration rather than a libm's `cbrt`), so no
library's colour conversion decides the answer. It is a simple, documented measure, not a
clinical one: it depends on lighting and white balance.

`acne_severity` is the acne model's expected grade, Σ pᵢ·i over its labels in order
(0 = the first label, e.g. ACNE04 level0 = mild), so 0.0–(K−1) with fractions between.

Example:

    >>> import numpy as np
    >>> red = np.zeros((1, 1, 3), np.uint8); red[..., 2] = 255       # BGR: pure sRGB red
    >>> round(float(a_star(red)[0, 0]), 2)
    80.09
    >>> float(a_star(np.full((1, 1, 3), 255, np.uint8))[0, 0])   # white: exactly
    0.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .classifier import Classification, ClassifierOptions, ImageClassifier
from .image import load_image
from .regions import RegionMask, region_mask

SKIN_REGIONS = ("forehead", "nose", "left_cheek", "right_cheek", "chin")
"""Regions that count as skin for `redness` (under-eye skin is darker and thinner)."""

SRGB_TO_LINEAR = np.array([v / 12.92 if v <= 0.04045 else math.pow((v + 0.055) / 1.055, 2.4)
                           for v in (c / 255.0 for c in range(256))], np.float64)
"""docs/skin.md §2.1: the sRGB transfer curve inverted, per 8-bit level (libm's `pow`)."""

_X_WHITE = 0.4124564 + 0.3575761 + 0.1804375
_Y_WHITE = 0.2126729 + 0.7151522 + 0.0721750
"""The reference white: the matrix's rows summed (sRGB white in XYZ), so white has a* = 0."""
_DELTA = 6.0 / 29.0
_F_CUBE_ABOVE = _DELTA * _DELTA * _DELTA
_F_SLOPE = 3.0 * (_DELTA * _DELTA)
_F_OFFSET = 4.0 / 29.0


def spec_cbrt(t: np.ndarray) -> np.ndarray:
    """Cube root of float64 values in [1/512, 8) by docs/skin.md §2.3: scaled by 64 or 8
    into [1/8, 8), a cubic first guess, two Halley steps, scaled back (within 1 ulp of the
    exact root; the same bits in any IEEE double arithmetic without fused multiply-add)."""
    u = t * np.where(t < 0.015625, 64.0, np.where(t < 0.125, 8.0, 1.0))
    y = 0.3552 + u * (1.3544 + u * (-1.1862 + u * 0.4811))
    for _ in range(2):
        y3 = y * y * y
        y = y - y * (y3 - u) / (2.0 * y3 + u)
    return y * np.where(t < 0.015625, 0.25, np.where(t < 0.125, 0.5, 1.0))


def _lab_f(t: np.ndarray) -> np.ndarray:
    return np.where(t > _F_CUBE_ABOVE, spec_cbrt(t), t / _F_SLOPE + _F_OFFSET)


def a_star(bgr: np.ndarray) -> np.ndarray:
    """CIELAB a* (D65) of 8-bit sRGB pixels in BGR order, (..., 3) uint8 → (...) float64."""
    bgr = np.asarray(bgr, np.uint8)
    b, g, r = (SRGB_TO_LINEAR[bgr[..., k]] for k in range(3))
    x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / _X_WHITE
    y = (0.2126729 * r + 0.7151522 * g + 0.0721750 * b) / _Y_WHITE
    return 500.0 * (_lab_f(x) - _lab_f(y))


def mean_of(values: np.ndarray) -> float:
    """Mean of float64 values summed one after the other in their order (numpy's `sum`
    pairs them up, which C would have to copy); NaN for none."""
    if values.size == 0:
        return float("nan")
    return float(np.cumsum(values, dtype=np.float64)[-1] / values.size)


@dataclass(frozen=True)
class SkinResult:
    """Skin scores for one face, and the acne classifier's answer when a bundle ran.

    `scores` holds `redness` (always) and `acne_severity` (with an acne bundle);
    `region_redness` gives the same a* measure per named region.
    """

    scores: dict[str, float]
    acne: Classification | None = None
    region_redness: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "scores": {k: round(float(v), 4) for k, v in self.scores.items()},
            "acne": self.acne.to_json() if self.acne else None,
            "region_redness": {k: round(float(v), 3) for k, v in self.region_redness.items()},
        }


def redness(image_bgr: np.ndarray, regions: dict[str, np.ndarray]) -> tuple[float, dict[str, float]]:
    """(redness over the union of SKIN_REGIONS, per-region redness) in a* units, docs/skin.md §3.

    Each region's pixels by `region_mask`; a* is computed once per pixel of any region,
    within the regions' joint bounding box; means are summed in image row-major order.
    """
    masks = {name: region_mask(poly, image_bgr.shape) for name, poly in regions.items()}
    boxes = [m for m in masks.values() if m.mask.size]
    if not boxes:
        return float("nan"), {name: float("nan") for name in masks}
    x0, y0 = min(m.x0 for m in boxes), min(m.y0 for m in boxes)
    x1 = max(m.x0 + m.mask.shape[1] for m in boxes)
    y1 = max(m.y0 + m.mask.shape[0] for m in boxes)

    def placed(m: RegionMask) -> np.ndarray:
        full = np.zeros((y1 - y0, x1 - x0), bool)
        if m.mask.size:
            full[m.y0 - y0: m.y0 - y0 + m.mask.shape[0], m.x0 - x0: m.x0 - x0 + m.mask.shape[1]] = m.mask
        return full

    placed_masks = {name: placed(m) for name, m in masks.items()}
    any_region = np.logical_or.reduce(list(placed_masks.values()))
    values = a_star(image_bgr[y0:y1, x0:x1][any_region])  # row-major
    index = np.full(any_region.shape, -1, np.int64)
    index[any_region] = np.arange(len(values))
    per_region = {name: mean_of(values[index[m]]) for name, m in placed_masks.items()}
    skin = np.zeros_like(any_region)
    for name in SKIN_REGIONS:
        if name in placed_masks:
            skin |= placed_masks[name]
    return mean_of(values[index[skin]]), per_region


@dataclass(frozen=True, kw_only=True)
class SkinClassifierOptions(ClassifierOptions):
    """Options for `SkinClassifier` (no bundle path: the shipped `acne` bundle)."""


class SkinClassifier(ImageClassifier):
    """Acne severity from a face (box or crop) plus the redness colour measure.

    Example:

        >>> from facelite import SkinClassifier, SkinClassifierOptions
        >>> skin = SkinClassifier.create_from_options(SkinClassifierOptions())   # doctest: +SKIP
        >>> skin.analyze("face.jpg").scores                                      # doctest: +SKIP
        {'acne_severity': 0.4, 'redness': 14.2}
    """

    shipped_name = "acne"
    options_type = SkinClassifierOptions

    def analyze(self, image, box=None, regions: dict[str, np.ndarray] | None = None) -> SkinResult:
        """Face image [+ box, + landmark regions] → SkinResult.

        Without regions, redness is measured over the box (or the whole image).
        """
        pixels = load_image(image)
        acne = self.classify(pixels, box)
        return skin_result(pixels, acne, box, regions)


def acne_severity(acne: Classification) -> float:
    """Expected grade Σ pᵢ·i over the labels in manifest order."""
    return float(sum(i * p for i, p in enumerate(acne.scores.values())))


def skin_result(pixels: np.ndarray, acne: Classification | None, box=None,
                regions: dict[str, np.ndarray] | None = None) -> SkinResult:
    """Combine the colour measure and (optional) acne classification into a SkinResult."""
    if regions:
        overall, per_region = redness(pixels, regions)
    else:
        if box is None:
            inside = pixels
        else:
            x, y, w, h = (int(round(v)) for v in tuple(box)[:4])
            inside = pixels[max(0, y): max(0, y + h), max(0, x): max(0, x + w)]
        overall, per_region = mean_of(a_star(inside).reshape(-1)), {}
    scores = {"redness": overall}
    if acne is not None:
        scores["acne_severity"] = acne_severity(acne)
    return SkinResult(scores=scores, acne=acne, region_redness=per_region)
