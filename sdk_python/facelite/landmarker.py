"""68-point face landmarks from a face box: a landmarks bundle, or the mean-shape stand-in.

The box a landmarker takes is the *extent box* of the 68 points (what the 300W-trained
model and `facelite evaluate` use); detectors convert their own boxes to it
(`FaceDetector.to_extent`). A landmarks bundle's manifest has `input.crop: "face"` and
a `margin`; the model sees `preprocess.crop_square(image, box, margin)` and outputs 68
(x, y) pairs in [0, 1] of that square crop, mapped back here to image pixels.

By default the shipped `landmarks` bundle is used, and a missing bundle is a
BundleError. Only when asked (`stand_in="if_missing"` or `"always"`) does
`FaceLandmarker` fit `mean_shape.MEAN_SHAPE` into the box instead, marking the result
`source == "mean-shape-stand-in"`: regions and alignment then work, but the points do
not follow the actual face.

Example:

    >>> import numpy as np
    >>> from facelite import BaseOptions, FaceLandmarker, FaceLandmarkerOptions
    >>> image, box = np.zeros((200, 200, 3), np.uint8), (50, 50, 100, 100)
    >>> lm = FaceLandmarker.create_from_options(FaceLandmarkerOptions(base_options=BaseOptions(accelerator="cpu")))
    >>> r = lm.detect(image, box)                      # the shipped landmarks bundle
    >>> r.points.shape, r.source
    ((68, 2), 'bundle:landmarks')
    >>> stand_in = FaceLandmarker.create_from_options(FaceLandmarkerOptions(stand_in="always"))
    >>> stand_in.detect(image, box).source
    'mean-shape-stand-in'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .image import load_image
from .mean_shape import fit_to_box
from .options import StandIn, TaskOptions
from .preprocess import prepare_pixels
from .tasks import get_task
from .vision_task import VisionTask

STAND_IN = "mean-shape-stand-in"
_LANDMARKS = get_task("landmarks")


@dataclass(frozen=True)
class LandmarksResult:
    """(68, 2) points in image pixels and where they came from (`bundle:<name>` or the stand-in)."""

    points: np.ndarray
    source: str

    def to_json(self) -> dict:
        return {"points": np.round(self.points, 2).tolist(), "source": self.source}


@dataclass(frozen=True, kw_only=True)
class FaceLandmarkerOptions(TaskOptions):
    """Attributes:
        base_options: bundle, variant, accelerator, threads; no bundle path means the
            shipped `landmarks` bundle.
        stand_in: when the mean face shape is fitted instead of running a bundle:
            `never` (default: no bundle is a BundleError), `if_missing`, or `always`
            (see `StandIn`).
    """

    stand_in: StandIn | str = StandIn.NEVER

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "stand_in", StandIn.parse(self.stand_in, "stand_in"))


class FaceLandmarker(VisionTask):
    """Face box (extent convention) → 68 landmarks."""

    options_type = FaceLandmarkerOptions

    def __init__(self, options: FaceLandmarkerOptions):
        super().__init__(options)
        bundle = self._bundle_or_stand_in("landmarks", "landmarks", "the mean-shape stand-in")
        self.is_stand_in = bundle is None
        if self.is_stand_in:
            self.source = STAND_IN
            return
        self._engine(bundle)
        self.spec = bundle.input_spec
        self.source = f"bundle:{bundle.name}"

    def detect(self, image, box) -> LandmarksResult:
        """One face: image (path or array) and its extent box (x, y, w, h) → LandmarksResult."""
        return self.detect_batch(load_image(image), [box])[0]

    def detect_batch(self, image: np.ndarray, boxes) -> list[LandmarksResult]:
        """Every box of one image in a single batched model call."""
        return self.detect_batch_with_crops(image, boxes)[0]

    def detect_batch_with_crops(self, image: np.ndarray, boxes) -> tuple[list[LandmarksResult], list]:
        """`detect_batch`, and for each box the crop the model saw: (uint8 (H, W, C) pixels,
        their `preprocess.Placement`), or None for the stand-in, which sees none. The
        tracker's appearance check (`tracking.appearance`) reuses them instead of resizing
        the face again."""
        self._check_open()
        if not boxes:
            return [], []
        if self.is_stand_in:
            return [LandmarksResult(fit_to_box(tuple(b)[:4]), STAND_IN) for b in boxes], [None] * len(boxes)
        crops, placements = zip(*(prepare_pixels(image, self.spec, b) for b in boxes))
        points = self._to_image(self.engine.run_pixels(np.stack(crops), self.spec)[0], placements)
        return [LandmarksResult(pts, self.source) for pts in points], list(zip(crops, placements))

    def points_from_tensor(self, x: np.ndarray, placements) -> list[np.ndarray]:
        """Preprocessed float32 crops (N, H, W, C) + their Placements → (68, 2) image points
        each (decoded by the landmarks task's rules, `tasks.LandmarksTask`)."""
        self._check_open()
        return self._to_image(self.engine.run(x)[0], placements)

    def _to_image(self, output: np.ndarray, placements) -> list[np.ndarray]:
        points = _LANDMARKS.points(output)
        return [_LANDMARKS.to_image(pts, p, self.spec) for pts, p in zip(points, placements)]
