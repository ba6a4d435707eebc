"""The whole pipeline on one image: detect → landmarks → align → regions → expression, skin.

Each stage uses its bundle `<bundles_dir>/<name>/<name>.flb` when present (default
`bundles_dir`: the repo's `models/`, i.e. the shipped bundles); otherwise the face
detector and landmarker fall back to their stand-ins (marked in the result) and the
expression and acne stages are skipped (`expression is None`, skin with `redness` only).
An explicit `bundles_dir` is the only place looked in: an empty folder gives every
stand-in. So the analyzer always runs, and says exactly what it ran (`result.stages`).

Example:

    >>> from facelite import FaceAnalyzer, FaceAnalyzerOptions
    >>> analyzer = FaceAnalyzer.create_from_options(FaceAnalyzerOptions(accelerator="cpu"))
    >>> analyzer.stages["detector"], analyzer.stages["landmarks"]       # the shipped bundles
    ('bundle:face_detector', 'bundle:landmarks')
    >>> result = analyzer.analyze("../shared/data/acne04/level0/level0_1.jpg")   # doctest: +SKIP
    >>> result.detector, len(result.faces), sorted(result.faces[0].regions)[:2]  # doctest: +SKIP
    ('bundle:face_detector', 1, ['chin', 'forehead'])
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .align import align_face
from .classifier import Classification, ExpressionClassifier, ExpressionClassifierOptions
from .detection import Box
from .face_detector import FaceDetector, FaceDetectorOptions
from .image import load_image
from .landmarker import FaceLandmarker, FaceLandmarkerOptions
from .paths import MODELS_DIR
from .regions import face_regions
from .skin import SkinClassifier, SkinClassifierOptions, SkinResult, skin_result

BUNDLE_NAMES = ("expression", "face_detector", "landmarks", "acne")
ALIGNED_SIZE = 112
"""Side of the aligned face crop the expression model gets (then resized to its input)."""


@dataclass
class FaceAnalyzerOptions:
    """Attributes:
        bundles_dir: folder holding `<name>/<name>.flb` bundles; None → the repo's `models/`.
        accelerator: `auto`, `cpu`, `gpu` or `npu` for every bundle (CPU fallback per bundle).
        num_threads: CPU threads per interpreter.
        min_face_score: detections below this score are dropped (None: the detector
            bundle's `output.score_threshold`, else 0.5).
        max_faces: at most this many faces, best first.
        variant: `auto` or a variant name every bundle must have.
    """

    bundles_dir: str | os.PathLike | None = None
    accelerator: str = "auto"
    num_threads: int = 2
    min_face_score: float | None = None
    max_faces: int = 10
    variant: str = "auto"


@dataclass
class Face:
    """One analysed face. `landmarks_source` says whether points came from a model."""

    box: Box
    landmarks: np.ndarray
    regions: dict[str, np.ndarray]
    expression: Classification | None
    skin: SkinResult | None
    landmarks_source: str = ""

    def to_json(self) -> dict:
        return {
            "box": self.box.to_json(),
            "landmarks": np.round(self.landmarks, 2).tolist(),
            "landmarks_source": self.landmarks_source,
            "regions": {k: np.round(v, 1).tolist() for k, v in self.regions.items()},
            "expression": self.expression.to_json() if self.expression else None,
            "skin": self.skin.to_json() if self.skin else None,
        }


@dataclass
class AnalysisResult:
    faces: list[Face]
    timings_ms: dict[str, float]
    image_size: tuple[int, int]
    detector: str
    stages: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "image_size": list(self.image_size),
            "detector": self.detector,
            "stages": dict(self.stages),
            "faces": [f.to_json() for f in self.faces],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


class FaceAnalyzer:
    """Every face in an image with its box, landmarks, regions, expression and skin scores."""

    def __init__(self, options: FaceAnalyzerOptions):
        self.options = options
        root = Path(options.bundles_dir) if options.bundles_dir else MODELS_DIR
        found = {n: root / n / f"{n}.flb" for n in BUNDLE_NAMES if (root / n / f"{n}.flb").is_file()}
        common = dict(variant=options.variant, accelerator=options.accelerator, num_threads=options.num_threads)
        det_variant = common if "face_detector" in found else {}
        # only the bundles found under `root`: an explicit bundles_dir without a detector or
        # landmarks bundle means the stand-in, not a silent fall-back to the repo's models/
        self.detector = FaceDetector(FaceDetectorOptions(
            bundle_path=found.get("face_detector"), use_shipped_bundle=False, min_score=options.min_face_score,
            max_faces=options.max_faces, **det_variant))
        self.landmarker = FaceLandmarker(FaceLandmarkerOptions(
            bundle_path=found.get("landmarks"), use_shipped_bundle=False, use_stand_in=True,
            **(common if "landmarks" in found else {})))
        self.expression = (ExpressionClassifier(ExpressionClassifierOptions(bundle_path=found["expression"], **common))
                           if "expression" in found else None)
        self.skin = (SkinClassifier(SkinClassifierOptions(bundle_path=found["acne"], **common))
                     if "acne" in found else None)
        self.stages = {
            "detector": self.detector.name,
            "landmarks": self.landmarker.source,
            "expression": f"bundle:{self.expression.bundle.name}" if self.expression else "skipped (no bundle)",
            "acne": f"bundle:{self.skin.bundle.name}" if self.skin else "skipped (no bundle)",
        }

    @classmethod
    def create_from_options(cls, options: FaceAnalyzerOptions | None = None) -> "FaceAnalyzer":
        return cls(options or FaceAnalyzerOptions())

    def engines(self) -> dict[str, dict]:
        """EngineInfo per bundle stage (variant, accelerator actually used, fallback reason)."""
        parts = {"face_detector": self.detector.info, "landmarks": self.landmarker.info,
                 "expression": self.expression.info if self.expression else None,
                 "acne": self.skin.info if self.skin else None}
        return {k: v.to_json() for k, v in parts.items() if v is not None}

    def analyze(self, image) -> AnalysisResult:
        """Image (path or numpy array, BGR or greyscale) → AnalysisResult."""
        t = {}
        t0 = time.perf_counter()
        pixels = load_image(image)
        h, w = pixels.shape[:2]
        t["load"] = _ms(t0)

        t0 = time.perf_counter()
        det = self.detector.detect(pixels)
        t["detect"] = _ms(t0)

        t0 = time.perf_counter()
        extents = [self.detector.to_extent(b) for b in det.boxes]
        marks = self.landmarker.detect_batch(pixels, extents)
        t["landmarks"] = _ms(t0)

        t0 = time.perf_counter()
        aligned = [align_face(pixels, m.points, ALIGNED_SIZE) for m in marks]
        regions = [face_regions(m.points, (w, h)) for m in marks]
        t["align_regions"] = _ms(t0)

        t0 = time.perf_counter()
        expressions = (self.expression.classify_batch([a.image for a in aligned])
                       if self.expression and aligned else [None] * len(aligned))
        t["expression"] = _ms(t0)

        t0 = time.perf_counter()
        acne = (self.skin.classify_batch([pixels] * len(det.boxes), [b.xywh for b in det.boxes])
                if self.skin and det.boxes else [None] * len(det.boxes))
        skins = [skin_result(pixels, a, b.xywh, r) for a, b, r in zip(acne, det.boxes, regions)]
        t["skin"] = _ms(t0)
        t["total"] = sum(t.values())

        faces = [Face(b, m.points, r, e, s, m.source)
                 for b, m, r, e, s in zip(det.boxes, marks, regions, expressions, skins)]
        return AnalysisResult(faces, t, (w, h), det.detector, dict(self.stages))


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0
