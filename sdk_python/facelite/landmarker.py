"""68-point face landmarks from a face box: a landmarks bundle, or the mean-shape stand-in.

The box a landmarker takes is the *extent box* of the 68 points (what the 300W-trained
model and `facelite evaluate` use); detectors convert their own boxes to it
(`FaceDetector.to_extent`). A landmarks bundle's manifest has `input.crop: "face"` and
a `margin`; the model sees `preprocess.crop_square(image, box, margin)` and outputs 68
(x, y) pairs in [0, 1] of that square crop, mapped back here to image pixels.

By default the shipped `models/landmarks/landmarks.flb` is used. Without a bundle (none
shipped, or `use_shipped_bundle=False`) and with `use_stand_in`, `FaceLandmarker` fits
`mean_shape.MEAN_SHAPE` into the box and marks the result
`source == "mean-shape-stand-in"`: regions and alignment then work, but the points do
not follow the actual face.

Example:

    >>> import numpy as np
    >>> from facelite.landmarker import FaceLandmarker, FaceLandmarkerOptions
    >>> image, box = np.zeros((200, 200, 3), np.uint8), (50, 50, 100, 100)
    >>> lm = FaceLandmarker.create_from_options(FaceLandmarkerOptions(accelerator="cpu"))
    >>> r = lm.detect(image, box)                      # the shipped landmarks bundle
    >>> r.points.shape, r.source
    ((68, 2), 'bundle:landmarks')
    >>> stand_in = FaceLandmarker.create_from_options(FaceLandmarkerOptions(use_shipped_bundle=False))
    >>> stand_in.detect(image, box).source
    'mean-shape-stand-in'
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .bundle import Bundle
from .classifier import default_bundle
from .engine import Engine
from .errors import BundleError
from .image import load_image
from .mean_shape import fit_to_box
from .preprocess import crop_square, preprocess

STAND_IN = "mean-shape-stand-in"


@dataclass(frozen=True)
class LandmarksResult:
    """(68, 2) points in image pixels and where they came from (`bundle:<name>` or the stand-in)."""

    points: np.ndarray
    source: str

    def to_json(self) -> dict:
        return {"points": np.round(self.points, 2).tolist(), "source": self.source}


@dataclass
class FaceLandmarkerOptions:
    """Attributes:
        bundle_path: landmarks `.flb`; None → `models/landmarks/landmarks.flb` if present
            (and `use_shipped_bundle`).
        use_shipped_bundle: with no `bundle_path`, look for the shipped bundle under
            `models/`; False → no bundle (what `FaceAnalyzer` asks for when its explicit
            `bundles_dir` has no landmarks bundle).
        use_stand_in: when no bundle is found, fit the mean shape instead of failing.
        variant, accelerator, num_threads: as for every bundle task.
    """

    bundle_path: str | os.PathLike | None = None
    use_shipped_bundle: bool = True
    use_stand_in: bool = True
    variant: str = "auto"
    accelerator: str = "auto"
    num_threads: int = 2


def landmark_input(image: np.ndarray, box, spec) -> tuple[np.ndarray, np.ndarray]:
    """(model input (H, W, C), crop origin (x0, y0, side)) for one extent box; shared with evaluate."""
    crop, origin = crop_square(image, tuple(box)[:4], spec.margin)
    return preprocess(crop, spec), origin


class FaceLandmarker:
    """Face box (extent convention) → 68 landmarks."""

    def __init__(self, options: FaceLandmarkerOptions):
        self.options = options
        path = options.bundle_path or default_bundle("landmarks")
        self.engine: Engine | None = None
        if options.bundle_path is not None or (options.use_shipped_bundle and os.path.exists(path)):
            bundle = Bundle.open(path)
            if bundle.task != "landmarks":
                raise BundleError(f"{bundle.path}: is a '{bundle.task}' bundle; FaceLandmarker needs 'landmarks'")
            self.engine = Engine(bundle, options.variant, options.accelerator, options.num_threads)
            self.spec = bundle.input_spec
            self.source = f"bundle:{bundle.name}"
        elif options.use_stand_in:
            self.source = STAND_IN
        else:
            raise BundleError(f"{path}: no landmarks bundle; build one or pass bundle_path")

    @classmethod
    def create_from_options(cls, options: FaceLandmarkerOptions) -> "FaceLandmarker":
        return cls(options)

    @property
    def info(self):
        return self.engine.info if self.engine else None

    def detect(self, image, box) -> LandmarksResult:
        """One face: image (path or array) and its extent box (x, y, w, h) → LandmarksResult."""
        return self.detect_batch(load_image(image), [box])[0]

    def detect_batch(self, image: np.ndarray, boxes) -> list[LandmarksResult]:
        """Every box of one image in a single batched model call."""
        if not boxes:
            return []
        if self.engine is None:
            return [LandmarksResult(fit_to_box(tuple(b)[:4]), STAND_IN) for b in boxes]
        crops, origins = zip(*(landmark_input(image, b, self.spec) for b in boxes))
        return [LandmarksResult(pts, self.source) for pts in self.points_from_tensor(np.stack(crops), origins)]

    def points_from_tensor(self, x: np.ndarray, origins) -> list[np.ndarray]:
        """Preprocessed crops (N, H, W, C) + crop origins (x0, y0, side) → image points."""
        out = self.engine.run(x)[0].reshape(len(x), -1, 2)
        return [o[:2] + pts * o[2] for pts, o in zip(out, origins)]
