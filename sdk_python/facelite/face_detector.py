"""Face detection: a heatmap detection bundle, or OpenCV's Haar cascade as a stand-in.

With a bundle (`models/face_detector/face_detector.flb`, `task: detection`,
`output.kind: heatmap`) the whole image goes through the manifest's preprocessing
(`input.crop: "letterbox"` keeps the aspect ratio and pads; `none` stretches) and the
outputs are decoded by `detection.decode_heatmap`; boxes are mapped back through the
same letterbox (or per-axis scale). The toolchain's detector packs everything into one
(Hs, Ws, 5) tensor whose channel roles the manifest names in `output.channels`
(`detection.decode_output`); a packed output without that list is read as
(heatmap, w, h[, dx, dy]). Outputs are matched to roles by name, never by position
(the TFLite converter may reorder them): the manifest's `output.outputs` as
{role: output name}, else output names containing heatmap/size/offset (Keras output
layer names survive as signature names), else channel counts (one 1-channel heatmap,
one 2-channel size).

Without a bundle (none shipped, or `use_shipped_bundle=False`), the frontal-face Haar
cascade bundled with OpenCV stands in (`detector == "haar-stand-in"`). Its score is the cascade's last-stage weight passed
through a logistic — an ordering, not a calibrated probability. It misses profile faces.

Boxes convert to the landmarks' extent convention with `to_extent`: the Haar box by
`mean_shape.HAAR_TO_EXTENT`, a bundle box by removing the manifest's
`output.box_margin` (the fraction added on each side of the extent at training; 0 if absent).

Example:

    >>> from facelite.face_detector import FaceDetector, FaceDetectorOptions
    >>> det = FaceDetector.create_from_options(FaceDetectorOptions(bundle_path=None))  # doctest: +SKIP
    >>> det.detect("photo.jpg").boxes[0]                                                # doctest: +SKIP
    Box(x=43.0, y=106.0, w=376.0, h=376.0, score=0.983)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import cv2
import numpy as np

from .bundle import Bundle
from .classifier import default_bundle
from .detection import Box, box_to_extent, decode_heatmap, decode_output, nms, unletterbox
from .engine import Engine
from .errors import BundleError
from .image import load_image
from .mean_shape import haar_box_to_extent
from .preprocess import preprocess

HAAR_STAND_IN = "haar-stand-in"
PACKED_CHANNELS = ("heatmap", "size_w", "size_h", "offset_x", "offset_y")
"""Channel roles of a packed output when the manifest gives no `output.channels`."""
HAAR_FILE = "haarcascade_frontalface_default.xml"
HAAR_MAX_SIDE = 640
"""Images are downscaled to this longer side before the cascade runs (speed)."""


@dataclass
class FaceDetectorOptions:
    """Attributes:
        bundle_path: detection `.flb`; None → `models/face_detector/face_detector.flb`
            when present (and `use_shipped_bundle`), else the Haar stand-in.
        use_shipped_bundle: with no `bundle_path`, look for the shipped bundle under
            `models/`; False → the Haar stand-in (what `FaceAnalyzer` asks for when its
            explicit `bundles_dir` has no detector).
        min_score: boxes below this score are dropped; None → the bundle's operating
            point (manifest `output.score_threshold`), else 0.5.
        iou_threshold: NMS overlap above which the weaker box is dropped.
        max_faces: at most this many boxes, best first.
    """

    bundle_path: str | os.PathLike | None = None
    use_shipped_bundle: bool = True
    min_score: float | None = None
    iou_threshold: float = 0.4
    max_faces: int = 10
    variant: str = "auto"
    accelerator: str = "auto"
    num_threads: int = 2


@dataclass(frozen=True)
class DetectionResult:
    boxes: list[Box]
    detector: str
    image_size: tuple[int, int] = (0, 0)
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"boxes": [b.to_json() for b in self.boxes], "detector": self.detector,
                "image_size": list(self.image_size)}


class FaceDetector:
    """Image → face boxes, best first."""

    def __init__(self, options: FaceDetectorOptions):
        self.options = options
        path = options.bundle_path or default_bundle("face_detector")
        self.engine: Engine | None = None
        self.box_margin = 0.0
        self.min_score = 0.5 if options.min_score is None else float(options.min_score)
        if options.bundle_path is not None or (options.use_shipped_bundle and os.path.exists(path)):
            bundle = Bundle.open(path)
            out = bundle.manifest["output"]
            if bundle.task != "detection" or out.get("kind") != "heatmap":
                raise BundleError(
                    f"{bundle.path}: FaceDetector needs a detection bundle with heatmap output "
                    f"(this one: task '{bundle.task}', output '{out.get('kind')}')"
                )
            self.engine = Engine(bundle, options.variant, options.accelerator, options.num_threads)
            self.spec = bundle.input_spec
            self.stride = int(out["stride"])
            self.logits = out.get("heatmap_activation", "sigmoid") == "logits"
            self.box_margin = float(out.get("box_margin", 0.0))
            if options.min_score is None:
                self.min_score = float(out.get("score_threshold", 0.5))
            self.output_spec = dict(out)
            self.roles = ({"packed": 1} if out.get("channels") else _output_roles(out.get("outputs"), self.engine))
            self.name = f"bundle:{bundle.name}"
        else:
            self._cascade = cv2.CascadeClassifier(cv2.data.haarcascades + HAAR_FILE)
            if self._cascade.empty():
                raise BundleError(f"{cv2.data.haarcascades + HAAR_FILE}: OpenCV's Haar cascade is missing")
            self.name = HAAR_STAND_IN

    @classmethod
    def create_from_options(cls, options: FaceDetectorOptions) -> "FaceDetector":
        return cls(options)

    @property
    def info(self):
        return self.engine.info if self.engine else None

    def detect(self, image) -> DetectionResult:
        """Image (path or BGR array) → DetectionResult with boxes in image pixels."""
        pixels = load_image(image)
        h, w = pixels.shape[:2]
        boxes = self._detect_bundle(pixels) if self.engine else self._detect_haar(pixels)
        boxes = [b.clipped(w, h) for b in boxes if b.score >= self.min_score]
        boxes = [b for b in boxes if b.w > 1 and b.h > 1][: self.options.max_faces]
        return DetectionResult(boxes, self.name, (w, h))

    def to_extent(self, box: Box) -> tuple[float, float, float, float]:
        """A detection box → the landmark extent box (x, y, w, h) the landmarker takes."""
        if self.engine is None:
            return haar_box_to_extent(box.xywh)
        return box_to_extent(box, self.box_margin).xywh

    def _detect_bundle(self, pixels: np.ndarray) -> list[Box]:
        h, w = pixels.shape[:2]
        outs = [o[0] for o in self.engine.run(preprocess(pixels, self.spec)[None])]
        in_size = (self.spec.width, self.spec.height)
        o = self.options
        if self.roles.get("packed"):  # one (Hs, Ws, C) tensor, channels named by the manifest
            spec = dict(self.output_spec)
            spec.setdefault("channels", list(PACKED_CHANNELS[: outs[0].shape[-1]]))
            boxes = decode_output(outs[0], spec, in_size, self.min_score, o.iou_threshold, o.max_faces)
        else:
            r = self.roles
            boxes = decode_heatmap(
                outs[r["heatmap"]], outs[r["size"]], self.stride, in_size,
                offset=outs[r["offset"]] if "offset" in r else None,
                score_threshold=self.min_score, iou_threshold=o.iou_threshold,
                max_boxes=o.max_faces, logits=self.logits,
            )
        if self.spec.crop == "letterbox":  # input pixel p ↔ image (p - pad) / scale
            from .preprocess import letterbox_params

            scale, pad_x, pad_y, _, _ = letterbox_params((h, w), self.spec.height, self.spec.width)
            return [unletterbox(b, scale, pad_x, pad_y) for b in boxes]
        return [b.scaled(w / self.spec.width, h / self.spec.height) for b in boxes]

    def _detect_haar(self, pixels: np.ndarray) -> list[Box]:
        h, w = pixels.shape[:2]
        scale = min(1.0, HAAR_MAX_SIDE / max(h, w))
        gray = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
        if scale < 1.0:
            gray = cv2.resize(gray, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        min_side = max(20, min(gray.shape) // 10)
        rects, _, weights = self._cascade.detectMultiScale3(
            gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side), outputRejectLevels=True
        )
        boxes = [
            Box(x / scale, y / scale, bw / scale, bh / scale, float(1.0 / (1.0 + np.exp(-float(wt)))))
            for (x, y, bw, bh), wt in zip(np.reshape(rects, (-1, 4)), np.ravel(weights))
        ]
        return nms(boxes, self.options.iou_threshold)


ROLE_KEYWORDS = {"heatmap": ("heatmap", "heat", "center", "centre"), "size": ("size", "wh", "box"),
                 "offset": ("offset", "off", "reg")}


def _output_roles(mapping, engine: Engine) -> dict[str, int]:
    """Map heatmap/size/offset to `engine.run` output positions.

    In order: the manifest's `output.outputs` as {role: output name}; output (signature)
    names containing a role keyword; channel counts (1 → heatmap, a single 2 → size).
    """
    names = engine.output_names
    channels = [d["shape"][-1] for d in engine.tensor_details()["outputs"]]
    if isinstance(mapping, dict) and all(v in names for v in mapping.values()):
        return {role: names.index(n) for role, n in mapping.items()}
    roles: dict[str, int] = {}
    for role, words in ROLE_KEYWORDS.items():
        for i, n in enumerate(names):
            if i not in roles.values() and any(w in n.lower() for w in words):
                roles[role] = i
                break
    if "heatmap" in roles and "size" in roles:
        return roles
    if len(channels) == 1 and channels[0] in (3, 5):
        return {"packed": 1}
    ones = [i for i, c in enumerate(channels) if c == 1]
    twos = [i for i, c in enumerate(channels) if c == 2]
    if len(ones) == 1 and len(twos) == 1:
        return {"heatmap": ones[0], "size": twos[0]}
    raise BundleError(
        f"{engine.bundle.path}: cannot tell the heatmap/size/offset outputs apart "
        f"(outputs {names}); name the model outputs 'heatmap', 'size', 'offset' or map them "
        "in manifest output.outputs as {role: output name}"
    )
