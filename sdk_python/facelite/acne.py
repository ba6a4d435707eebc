"""Acne severity per face: the acne model on the face's skin crop and on skin patches.

The acne bundle (v2) is trained on the eye-aligned skin crop of `skin_measures.face_crop`
(256×256) and on square patches of that crop around the forehead, cheeks and chin, each
labelled with the photo's ACNE04 grade. `AcneGrader.grade(crop)` runs it on the same
views of one face, in one batched call, and combines them:

- **views** (`acne_views`): the whole crop (`"face"`, no box), and one square patch per
  region of `ACNE_PATCH_REGIONS` (forehead, left_cheek, right_cheek, chin): the square
  whose area equals the region polygon's bounding box (side √(w·h), at least
  `MIN_PATCH_FRACTION` of the crop), centred on that box, polygons from
  `regions.face_regions(crop.points, (S, S))`. A cheek `regions.hidden_cheeks` finds (area under
  `regions.CHEEK_VISIBLE_RATIO` of the other cheek's) is left out: on a turned head the far cheek
  is a sliver and its square would show the nose and the background, not cheek skin.
  Every view becomes a model input by `preprocess.prepare(crop.image, spec, box)` (the
  bundle's spec has `crop = "face"`, margin 0), exactly as the toolchain made its
  training samples (`facelite_build.face_patches`). A bundle with `output.test_time_flip`
  (acne 2.1) scores each view as the mean of the view's and its left-right mirror's
  probabilities (`ImageClassifier.classify_tensor`; the C core does the same).
- **combination** (`combine_views`): probabilities p = ½·p(face) + ½·mean(p(patches)).
  The whole crop sees the global lesion count that ACNE04 grades; the patches see the
  skin at about twice the detail but only part of it, so the two kinds of evidence get
  equal weight, whatever the number of visible patches (a turned head with three patches
  weighs as much as a frontal one with four). The rule was fixed before measuring and
  has no fitted weight; `benchmarks/acne_eval.py` reports it beside the whole crop alone,
  the patches alone and the flat mean of all views.
- **severity**: the expected grade Σ i·pᵢ over the labels in manifest order (0 = level0,
  mild … 2 = level2), a float in [0, K − 1]; `per_region` gives the same for each patch's
  own probabilities. Turning severity into a 0–100 score is `skin_scores`' business.
- **grade** (`grade_index`): the label the face is given, by the bundle's
  `output.grade_decision`: `argmax` (absent: the default, what every bundle before it
  did) takes the most probable label; `median` the first label, in manifest order, whose
  cumulative combined probability reaches 0.5. The labels are ordered grades, and the
  median is the label with the least expected absolute error in grades: a face at
  0.45 / 0.10 / 0.45 is graded level1, not level0. A label-distribution model (acne 2.1)
  spreads each face's probability over neighbouring grades, so the two often differ;
  which grades more faces right is measured per bundle (`benchmarks/acne_eval.py`:
  `combined_argmax`, `combined_median`; the card has the numbers). Severity and
  probabilities do not depend on the decision; the C core decides the same way
  (`fl_acne_combine`).

Example:

    >>> from facelite.mean_shape import fit_to_box
    >>> [name for name, _ in acne_views(fit_to_box((60, 50, 136, 170)), 256)]
    ['face', 'forehead', 'left_cheek', 'right_cheek', 'chin']
    >>> grader = AcneGrader.create_from_options(AcneGraderOptions())           # doctest: +SKIP
    >>> grade = grader.grade(face_crop(image, points))                          # doctest: +SKIP
    >>> round(grade.severity, 2), sorted(grade.per_region)                      # doctest: +SKIP
    (0.83, ['chin', 'forehead', 'left_cheek', 'right_cheek'])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .bundle import GRADE_DECISIONS
from .classifier import ClassifierOptions, ImageClassifier
from .errors import BundleError
from .preprocess import prepare
from .regions import face_regions, hidden_cheeks

WHOLE_VIEW = "face"
"""The view name of the whole skin crop (no box)."""
ACNE_PATCH_REGIONS = ("forehead", "left_cheek", "right_cheek", "chin")
"""Regions graded on their own patch, in this order (the nose and under-eyes are not:
ACNE04 grades count lesions on the cheeks, forehead and chin)."""
MIN_PATCH_FRACTION = 0.16
"""Smallest patch side as a fraction of the crop side (41 px of 256): the chin's box is
short and wide, and a patch under ~40 crop pixels holds too few lesions to grade."""
Box = tuple[float, float, float, float]


def patch_box(polygon: np.ndarray, crop_size: int) -> Box:
    """The square patch (x, y, side, side) of a region polygon, in crop pixels: side
    √(w·h) of the polygon's bounding box (at least `MIN_PATCH_FRACTION`·`crop_size`),
    centred on that box."""
    p = np.asarray(polygon, np.float64).reshape(-1, 2)
    (x0, y0), (x1, y1) = p.min(axis=0), p.max(axis=0)
    side = max(math.sqrt(max(x1 - x0, 0.0) * max(y1 - y0, 0.0)), MIN_PATCH_FRACTION * crop_size)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    return (cx - side / 2.0, cy - side / 2.0, side, side)


def acne_views(points: np.ndarray, crop_size: int) -> list[tuple[str, Box | None]]:
    """(view name, box in crop pixels or None for the whole crop) for a face whose 68
    landmarks in the crop are `points`: the whole crop first, then each visible patch."""
    regions = face_regions(points, (crop_size, crop_size))
    hidden = hidden_cheeks(regions)
    views: list[tuple[str, Box | None]] = [(WHOLE_VIEW, None)]
    for name in ACNE_PATCH_REGIONS:
        if name not in hidden:
            views.append((name, patch_box(regions[name], crop_size)))
    return views


@dataclass(frozen=True)
class AcneGrade:
    """One face's acne: `severity` (expected grade, 0 = the first label … K − 1),
    `per_region` (region → the same from that region's patch alone; visible patches
    only), `probabilities` (label → combined probability) and `grade`, the label the
    bundle's decision (`grade_index`) gives those probabilities."""

    severity: float
    per_region: dict[str, float] = field(default_factory=dict)
    probabilities: dict[str, float] = field(default_factory=dict)
    grade: str = ""

    def __post_init__(self) -> None:
        if not self.grade and self.probabilities:  # made by hand: the default decision, as before the field
            labels = list(self.probabilities)
            object.__setattr__(self, "grade", labels[grade_index(list(self.probabilities.values()))])

    def to_json(self) -> dict:
        return {"severity": round(float(self.severity), 4),
                "per_region": {k: round(float(v), 4) for k, v in self.per_region.items()},
                "probabilities": {k: round(float(v), 4) for k, v in self.probabilities.items()}}


def expected_grade(probabilities: np.ndarray) -> np.ndarray:
    """Σ i·pᵢ over the last axis (labels in manifest order)."""
    p = np.asarray(probabilities, np.float64)
    return p @ np.arange(p.shape[-1], dtype=np.float64)


def combine_views(names: Sequence[str], probabilities: np.ndarray) -> np.ndarray:
    """The combined label probabilities of one face's views (module docstring):
    ½·p(whole crop) + ½·mean over the patches; the whole crop alone when no patch."""
    p = np.asarray(probabilities, np.float64).reshape(len(names), -1)
    is_patch = np.array([n != WHOLE_VIEW for n in names])
    whole = p[~is_patch].mean(axis=0)
    if not is_patch.any():
        return whole
    return 0.5 * whole + 0.5 * p[is_patch].mean(axis=0)


def grade_index(combined: np.ndarray, decision: str = GRADE_DECISIONS[0]) -> int:
    """The index of the label that grades probabilities `combined` (labels in manifest
    order, as `combine_views` gives them), by `decision`, one of `GRADE_DECISIONS`:
    `argmax` the first of the most probable; `median` the first whose cumulative
    probability, summed in float64 in label order, reaches 0.5 (the last label if none
    does: a vector that is not a distribution). Module docstring: why the median."""
    p = np.asarray(combined, np.float64).reshape(-1)
    if decision == "argmax":
        return int(np.argmax(p))
    if decision == "median":
        reached = np.flatnonzero(np.cumsum(p) >= 0.5)
        return int(reached[0]) if reached.size else len(p) - 1
    raise ValueError(f"grade decision '{decision}' is not one of {', '.join(GRADE_DECISIONS)}")


def acne_grade(names: Sequence[str], probabilities: np.ndarray, labels: Sequence[str],
               decision: str = GRADE_DECISIONS[0]) -> AcneGrade:
    """AcneGrade of one face from its views' (V, K) probabilities, graded by `decision`
    (`grade_index`)."""
    p = np.asarray(probabilities, np.float64).reshape(len(names), -1)
    combined = combine_views(names, p)
    per_region = {n: float(expected_grade(row)) for n, row in zip(names, p) if n != WHOLE_VIEW}
    return AcneGrade(float(expected_grade(combined)), per_region,
                     {label: float(v) for label, v in zip(labels, combined)},
                     labels[grade_index(combined, decision)])


@dataclass(frozen=True, kw_only=True)
class AcneGraderOptions(ClassifierOptions):
    """Options for `AcneGrader` (no bundle path: the shipped `acne` bundle)."""


class AcneGrader(ImageClassifier):
    """Acne severity of a face from its skin crop (`skin_measures.FaceCrop`) and patches.

    Needs an acne bundle trained on face crops (v2: `input.crop = "face"`); a v1 bundle,
    which took whole photos, is refused with a BundleError. Each face's `grade` follows
    the bundle's `output.grade_decision` (`decision`; absent: argmax); an unknown value
    is refused when the bundle is opened, by the manifest schema, which names the bundle,
    the field and the values it takes.
    """

    shipped_name = "acne"
    options_type = AcneGraderOptions

    def __init__(self, options: AcneGraderOptions):
        super().__init__(options)
        if self.spec.crop != "face":
            raise BundleError(
                f"{self.bundle.path}: this acne bundle takes whole photos (input crop '{self.spec.crop}'); "
                "AcneGrader needs one trained on face crops and patches (input crop 'face', acne 2.0 or later); "
                "rebuild it from models/acne/recipe.toml")
        self.decision: str = self.bundle.manifest["output"].get("grade_decision", GRADE_DECISIONS[0])
        """The bundle's grade decision (`grade_index`)."""

    def views(self, crop) -> list[tuple[str, Box | None]]:
        """The views of one FaceCrop that `grade` runs (see `acne_views`)."""
        return acne_views(crop.points, crop.size)

    def grade(self, crop) -> AcneGrade:
        """One face's skin crop (`skin_measures.face_crop`) → AcneGrade."""
        return self.grade_batch([crop])[0]

    def grade_batch(self, crops) -> list[AcneGrade]:
        """Several faces' crops, every view of every face in one batched model call."""
        return [acne_grade(names, p, self.labels, self.decision) for names, p in self.view_probabilities(crops)]

    def view_probabilities(self, crops) -> list[tuple[list[str], np.ndarray]]:
        """Per face: (its view names, their (V, K) label probabilities), before combining
        (for evaluating other combination rules; `grade_batch` combines these)."""
        views = [self.views(c) for c in crops]
        inputs = [prepare(c.image, self.spec, box) for c, vs in zip(crops, views) for _, box in vs]
        if not inputs:
            return []
        results = self.classify_tensor(np.stack(inputs))
        probs = np.array([[r.scores[label] for label in self.labels] for r in results], np.float64)
        out, start = [], 0
        for vs in views:
            out.append(([n for n, _ in vs], probs[start:start + len(vs)]))
            start += len(vs)
        return out
