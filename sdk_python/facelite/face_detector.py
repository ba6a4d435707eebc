"""Face detection: a heatmap detection bundle, or OpenCV's Haar cascade as a stand-in.

With a bundle (the shipped `face_detector` by default; `task: detection`, `output.kind:
heatmap`) the whole image goes through the manifest's preprocessing
(`preprocess.prepare_pixels`: `input.crop: "letterbox"` keeps the aspect ratio and pads,
`none` stretches). The outputs are decoded by the detection task's rules
(`tasks.DetectionTask.decoder`: which output is the heatmap, size or offset — by name,
never by position — packed channels, the manifest's operating point), and the boxes are
mapped back to image pixels through the same placement.

The frontal-face Haar cascade bundled with OpenCV stands in for a bundle only when asked
(`stand_in="if_missing"` when no bundle is found, `"always"` to compare against it);
by default a missing bundle is a BundleError. When the cascade runs, results say
`detector == "haar-stand-in"`. Its score is the cascade's last-stage weight passed
through a logistic — an ordering, not a calibrated probability. It misses profile faces.
An image (or a strip such as 1x10000) narrower than the cascade's 24-pixel window once
downscaled has no box: it cannot hold a face the cascade finds.

Boxes convert to the landmarks' extent convention with `to_extent`: the Haar box by
`mean_shape.HAAR_TO_EXTENT`, a bundle box by removing the manifest's
`output.box_margin` (the fraction added on each side of the extent at training; 0 if absent).

Example:

    >>> from facelite import BaseOptions, FaceDetector, FaceDetectorOptions
    >>> det = FaceDetector.create_from_options(FaceDetectorOptions(      # the shipped bundle
    ...     base_options=BaseOptions(accelerator="cpu"), min_score=0.3))
    >>> det.name, det.min_score
    ('bundle:face_detector', 0.3)
    >>> det.detect("photo.jpg").boxes[0]                                  # doctest: +SKIP
    Box(x=43.0, y=106.0, w=376.0, h=376.0, score=0.983)
    >>> FaceDetector.create_from_options(FaceDetectorOptions(stand_in="always")).name
    'haar-stand-in'
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .detection import Box, nms
from .errors import BundleError
from .image import load_image
from .mean_shape import haar_box_to_extent
from .options import DEFAULT_MAX_FACES, StandIn, TaskOptions, check_range
from .preprocess import prepare_pixels
from .tasks import get_task
from .vision_task import VisionTask

HAAR_STAND_IN = "haar-stand-in"
HAAR_FILE = "haarcascade_frontalface_default.xml"
HAAR_MAX_SIDE = 640
"""Images are downscaled to this longer side before the cascade runs (speed)."""
_DETECTION = get_task("detection")


@dataclass(frozen=True, kw_only=True)
class FaceDetectorOptions(TaskOptions):
    """Attributes:
        base_options: bundle, variant, accelerator, threads; no bundle path means the
            shipped `face_detector` bundle.
        stand_in: when OpenCV's Haar cascade runs instead of a bundle: `never` (default:
            no bundle is a BundleError), `if_missing`, or `always` (see `StandIn`).
        min_score: boxes below this score are dropped; None → the bundle's operating
            point for the variant the engine runs (`output.score_threshold_by_variant`,
            else `output.score_threshold`: `DetectionTask.score_threshold`), else 0.5.
        iou_threshold: NMS overlap above which the weaker box is dropped; None → the
            manifest's `output.iou_threshold`, else 0.4. NMS also drops a box lying mostly
            inside a better one when the bundle gives `output.containment_threshold`
            (`facelite.detection.nms`).
        max_faces: at most this many boxes, best first.
    """

    stand_in: StandIn | str = StandIn.NEVER
    min_score: float | None = None
    iou_threshold: float | None = None
    max_faces: int = DEFAULT_MAX_FACES

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "stand_in", StandIn.parse(self.stand_in, "stand_in"))
        check_range("min_score", self.min_score, 0.0, 1.0)
        check_range("iou_threshold", self.iou_threshold, 0.0, 1.0)
        check_range("max_faces", self.max_faces, 1)


@dataclass(frozen=True)
class DetectionResult:
    boxes: list[Box]
    detector: str
    image_size: tuple[int, int] = (0, 0)
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"boxes": [b.to_json() for b in self.boxes], "detector": self.detector,
                "image_size": list(self.image_size)}


class FaceDetector(VisionTask):
    """Image → face boxes, best first."""

    options_type = FaceDetectorOptions

    def __init__(self, options: FaceDetectorOptions):
        super().__init__(options)
        self._cascade = None
        self._decoder = None
        bundle = self._bundle_or_stand_in("face_detector", "detection", "OpenCV's Haar cascade")
        if bundle is None:
            self._cascade = cv2.CascadeClassifier(cv2.data.haarcascades + HAAR_FILE)
            if self._cascade.empty():
                raise BundleError(f"{cv2.data.haarcascades + HAAR_FILE}: OpenCV's Haar cascade is missing; "
                                  "reinstall opencv-python")
            self.name = HAAR_STAND_IN
            self.min_score = 0.5 if options.min_score is None else float(options.min_score)
            self.iou_threshold = 0.4 if options.iou_threshold is None else float(options.iou_threshold)
            return
        engine = self._engine(bundle)
        self.spec = bundle.input_spec
        self._decoder = _DETECTION.decoder(bundle, engine, options.min_score, options.iou_threshold,
                                           options.max_faces)
        self.min_score = self._decoder.score_threshold
        self.iou_threshold = self._decoder.iou_threshold
        self.name = f"bundle:{bundle.name}"

    @property
    def is_stand_in(self) -> bool:
        """True when OpenCV's Haar cascade runs instead of a bundle."""
        return self._cascade is not None

    def detect(self, image) -> DetectionResult:
        """Image (path or BGR array) → DetectionResult with boxes in image pixels, best first."""
        self._check_open()
        pixels = load_image(image)
        h, w = pixels.shape[:2]
        if self.is_stand_in:
            boxes = [b.clipped(w, h) for b in self._detect_haar(pixels) if b.score >= self.min_score]
            boxes = [b for b in boxes if b.w > 1 and b.h > 1][: self.options.max_faces]
        else:
            x, placement = prepare_pixels(pixels, self.spec)
            outs = [o[0] for o in self.engine.run_pixels(x[None], self.spec)]
            boxes = self._decoder.to_image(self._decoder.boxes(outs), placement, (w, h))
        return DetectionResult(boxes, self.name, (w, h))

    def to_extent(self, box: Box) -> tuple[float, float, float, float]:
        """A detection box → the landmark extent box (x, y, w, h) the landmarker takes."""
        if self.is_stand_in:
            return haar_box_to_extent(box.xywh)
        return _DETECTION.to_extent(box, self._decoder.output_spec).xywh

    def _detect_haar(self, pixels: np.ndarray) -> list[Box]:
        h, w = pixels.shape[:2]
        scale = min(1.0, HAAR_MAX_SIDE / max(h, w))
        gray = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
        if scale < 1.0:  # each side at least 1 pixel: a 1x10000 strip stays 1 pixel wide
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        window_w, window_h = self._cascade.getOriginalWindowSize()
        if gray.shape[0] < window_h or gray.shape[1] < window_w:
            return []  # smaller than the cascade's window: no face can be found
        gray = cv2.equalizeHist(gray)
        min_side = max(20, min(gray.shape) // 10)
        rects, _, weights = self._cascade.detectMultiScale3(
            gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side), outputRejectLevels=True
        )
        boxes = [
            Box(x / scale, y / scale, bw / scale, bh / scale, float(1.0 / (1.0 + np.exp(-float(wt)))))
            for (x, y, bw, bh), wt in zip(np.reshape(rects, (-1, 4)), np.ravel(weights))
        ]
        return nms(boxes, self.iou_threshold)

