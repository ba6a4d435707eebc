"""Skin measures: a colour measure (redness) and the acne-severity classifier.

`redness` is the mean CIELAB a* (green − / red +) over the skin regions' pixels. a* is
the standard colorimetric axis dermatology uses for erythema; it is computed with
OpenCV's 8-bit Lab conversion (sRGB, D65), where a* = A − 128, so values are in a*
units (about −128…127; typical skin 5–25). It is a simple, documented measure, not a
clinical one: it depends on lighting and white balance.

`acne_severity` is the acne model's expected grade, Σ pᵢ·i over its labels in order
(0 = the first label, e.g. ACNE04 level0 = mild), so 0.0–(K−1) with fractions between.

Example:

    >>> import numpy as np
    >>> from facelite.skin import mean_a_star
    >>> red = np.zeros((4, 4, 3), np.uint8); red[..., 2] = 200       # BGR: pure red
    >>> round(mean_a_star(red, np.ones((4, 4), bool)))
    67
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .classifier import Classification, ClassifierOptions, ImageClassifier
from .image import load_image
from .regions import region_mask

SKIN_REGIONS = ("forehead", "nose", "left_cheek", "right_cheek", "chin")
"""Regions that count as skin for `redness` (under-eye skin is darker and thinner)."""


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


def mean_a_star(image_bgr: np.ndarray, mask: np.ndarray) -> float:
    """Mean CIELAB a* of the masked pixels (NaN for an empty mask)."""
    if not mask.any():
        return float("nan")
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    lab = cv2.cvtColor(image_bgr[y0:y1, x0:x1], cv2.COLOR_BGR2LAB)
    return float(lab[..., 1][mask[y0:y1, x0:x1]].astype(np.float32).mean() - 128.0)


def redness(image_bgr: np.ndarray, regions: dict[str, np.ndarray]) -> tuple[float, dict[str, float]]:
    """(overall redness over SKIN_REGIONS, per-region redness) in a* units."""
    per_region = {}
    union = np.zeros(image_bgr.shape[:2], bool)
    for name, poly in regions.items():
        mask = region_mask(poly, image_bgr.shape)
        per_region[name] = mean_a_star(image_bgr, mask)
        if name in SKIN_REGIONS:
            union |= mask
    return mean_a_star(image_bgr, union), per_region


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
        mask = np.zeros(pixels.shape[:2], bool)
        if box is None:
            mask[:] = True
        else:
            x, y, w, h = (int(round(v)) for v in tuple(box)[:4])
            mask[max(0, y): max(0, y + h), max(0, x): max(0, x + w)] = True
        overall, per_region = mean_a_star(pixels, mask), {}
    scores = {"redness": overall}
    if acne is not None:
        scores["acne_severity"] = acne_severity(acne)
    return SkinResult(scores=scores, acne=acne, region_redness=per_region)
