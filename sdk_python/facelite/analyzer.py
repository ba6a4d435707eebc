"""The whole pipeline on one image: detect → landmarks → align → regions → expression, skin.

Each stage runs its bundle `<name>/<name>.flb` from `bundles_dir`, or by default from
the bundles shipped with facelite (`facelite.paths.shipped_bundles_dir`). An explicit
`bundles_dir` is the only place looked in. The face detector and landmarker are
required: a missing one is a BundleError, unless the stand-ins were asked for
(`stand_in="if_missing"`, CLI `--stand-ins`: OpenCV's Haar cascade and the mean face
shape, far less accurate). The expression and skin stages are optional: without their
bundle they are skipped (`expression is None`; `skin is None` without a `skin_metrics`
bundle; no `acne` concern without an acne bundle trained on face crops). Every result
says exactly what ran (`result.stages`).

Skin (`facelite.skin.SkinAnalyzer`, `skin=True` by default) is per face, on the face's
own skin crop: `Face.skin` is a `SkinReport` (0–100 scores per region and concern, tone,
the capture quality verdict). `restore=True` lets it restore low-resolution or noisy
crops with the `restoration` bundle.

Images, folders and videos: `analyze(image)` takes a path (decoded here, so
`timings_ms["load"]` includes decoding) or a numpy array; `analyze_folder` walks a
folder tree and `analyze_video` samples a video's frames, both yielding as they go.
Any size from 1x1 to `image.MAX_PIXELS` is analysed, strips such as 1x10000 included (no
face: `faces == []`). A detection more than `MAX_FACE_BOX_ASPECT` times longer than wide
(a face cut to a sliver by the image edge, or a misfire on a strip) is dropped before the
landmark crop, whose square side follows the box's longer side.

Example:

    >>> from facelite import BaseOptions, FaceAnalyzer, FaceAnalyzerOptions
    >>> options = FaceAnalyzerOptions(base_options=BaseOptions(accelerator="cpu"))
    >>> analyzer = FaceAnalyzer.create_from_options(options)
    >>> analyzer.stages["detector"], analyzer.stages["landmarks"]       # the shipped bundles
    ('bundle:face_detector', 'bundle:landmarks')
    >>> result = analyzer.analyze("../shared/data/acne04/level0/level0_1.jpg")   # doctest: +SKIP
    >>> result.detector, len(result.faces), sorted(result.faces[0].regions)[:2]  # doctest: +SKIP
    ('bundle:face_detector', 1, ['chin', 'forehead'])
    >>> for path, outcome in analyzer.analyze_folder("photos/"):                  # doctest: +SKIP
    ...     print(path, outcome.faces if isinstance(outcome, AnalysisResult) else outcome)
    >>> analyzer.close()                                                   # or use a `with` block
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .align import align_face
from .classifier import Classification, ExpressionClassifier, ExpressionClassifierOptions
from .detection import Box
from .engine import EngineInfo
from .errors import BundleError, UserError
from .face_detector import FaceDetector, FaceDetectorOptions
from .image import load_image
from .landmarker import FaceLandmarker, FaceLandmarkerOptions
from .options import StandIn, TaskOptions, check_range
from .paths import bundle_in, shipped_bundles_dir
from .regions import face_regions
from .skin import SkinAnalyzer, SkinAnalyzerOptions, SkinReport
from .sources import VideoFile, VideoFrame, image_paths, iter_video_frames
from .vision_task import VisionTask

REQUIRED_BUNDLES = ("face_detector", "landmarks")
"""Stages without which the analyzer fails (unless stand-ins are asked for)."""
OPTIONAL_BUNDLES = ("expression", "skin_metrics", "acne", "restoration")
"""Stages skipped, and said so in `stages`, when their bundle is absent."""
SKIN_STAGES = ("skin_metrics", "acne", "restoration")
"""The `stages` entries of the skin analysis (`SkinAnalyzer.stages`)."""
SKIPPED = "skipped (no bundle)"
OFF = "off"
ALIGNED_SIZE = 112
"""Side of the aligned face crop the expression model gets (then resized to its input)."""
MAX_FACE_BOX_ASPECT = 4.0
"""Longer over shorter side above which a detection is not analysed as a face: the square
landmark crop around a 1000000x2 box would take terabytes."""


@dataclass(frozen=True, kw_only=True)
class FaceAnalyzerOptions(TaskOptions):
    """Attributes:
        base_options: variant, accelerator and threads for every bundle (each falls back
            to the CPU on its own); its `bundle_path` must stay None — the analyzer runs
            several bundles, found under `bundles_dir`.
        bundles_dir: folder holding `<name>/<name>.flb` bundles, the only place looked
            in; None → the bundles shipped with facelite.
        stand_in: `never` (default: a missing detector or landmarks bundle is a
            BundleError), `if_missing` (their stand-ins run instead) or `always`.
        min_face_score: detections below this score are dropped (None: the detector
            bundle's `output.score_threshold`, else 0.5).
        max_faces: at most this many faces, best first.
        skin: run the skin analysis (`Face.skin`; needs a `skin_metrics` bundle).
        restore: let the skin analysis restore low-resolution or noisy face crops
            (needs a `restoration` bundle; see `facelite.skin`).
    """

    bundles_dir: str | os.PathLike | None = None
    stand_in: StandIn | str = StandIn.NEVER
    min_face_score: float | None = None
    max_faces: int = 10
    skin: bool = True
    restore: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.base_options.bundle_path is not None:
            raise UserError("FaceAnalyzerOptions: base_options.bundle_path is for single-bundle tasks; "
                            "the analyzer runs several, so pass bundles_dir (a folder of <name>/<name>.flb)")
        object.__setattr__(self, "stand_in", StandIn.parse(self.stand_in, "stand_in"))
        check_range("min_face_score", self.min_face_score, 0.0, 1.0)
        check_range("max_faces", self.max_faces, 1)


@dataclass
class Face:
    """One analysed face. `landmarks_source` says whether points came from a model."""

    box: Box
    landmarks: np.ndarray
    regions: dict[str, np.ndarray]
    expression: Classification | None
    skin: SkinReport | None
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
    """Every face of one image, per-stage timings (ms) and what ran (`stages`)."""

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


def find_bundles(options: FaceAnalyzerOptions) -> tuple[dict[str, Path], Path | None]:
    """({stage: bundle path} of the bundles present, the folder looked in).

    The folder is None when the shipped bundles are not installed and stand-ins were
    asked for (every stage then lacks its bundle); without stand-ins that is a BundleError.
    """
    if options.bundles_dir is not None:
        root = Path(options.bundles_dir)
        if not root.is_dir():
            raise BundleError(f"{root}: no such bundles folder; pass a folder holding <name>/<name>.flb bundles")
    else:
        try:
            root = shipped_bundles_dir()
        except BundleError:
            if options.stand_in is StandIn.NEVER:
                raise
            return {}, None
    found = {n: bundle_in(root, n) for n in REQUIRED_BUNDLES + OPTIONAL_BUNDLES}
    return {n: path for n, path in found.items() if path is not None}, root


class FaceAnalyzer(VisionTask):
    """Every face in an image with its box, landmarks, regions, expression and skin scores."""

    options_type = FaceAnalyzerOptions

    def __init__(self, options: FaceAnalyzerOptions):
        super().__init__(options)
        found, root = find_bundles(options)
        missing = [n for n in REQUIRED_BUNDLES if n not in found]
        if missing and options.stand_in is StandIn.NEVER:
            where = ", ".join(str(root / n / f"{n}.flb") for n in missing)
            raise BundleError(
                f"no {' or '.join(missing)} bundle ({where} not found); put the bundle there, pass a bundles "
                "folder that has it, or allow the stand-ins (OpenCV's Haar cascade, the mean face shape) "
                "with FaceAnalyzerOptions(stand_in='if_missing') (CLI: --stand-ins)")

        def options_for(name: str, options_type, **extra):
            if name in REQUIRED_BUNDLES:
                use_stand_in = name not in found or options.stand_in is StandIn.ALWAYS
                extra["stand_in"] = StandIn.ALWAYS if use_stand_in else StandIn.NEVER
            base = dataclasses.replace(options.base_options, bundle_path=found.get(name))
            return options_type(base_options=base, **extra)

        self.detector = FaceDetector(options_for(
            "face_detector", FaceDetectorOptions, min_score=options.min_face_score, max_faces=options.max_faces))
        self.landmarker = FaceLandmarker(options_for("landmarks", FaceLandmarkerOptions))
        self.expression = (ExpressionClassifier(options_for("expression", ExpressionClassifierOptions))
                           if "expression" in found else None)
        self.skin = self._skin_analyzer(options, root) if options.skin and "skin_metrics" in found else None
        self.stages = {
            "detector": self.detector.name,
            "landmarks": self.landmarker.source,
            "expression": f"bundle:{self.expression.bundle.name}" if self.expression else SKIPPED,
            **(self.skin.stages if self.skin else dict.fromkeys(SKIN_STAGES, SKIPPED if options.skin else OFF)),
        }

    @staticmethod
    def _skin_analyzer(options: FaceAnalyzerOptions, root: Path) -> SkinAnalyzer:
        """The SkinAnalyzer on the skin bundles of the same bundles folder (and no other)."""
        return SkinAnalyzer(SkinAnalyzerOptions(base_options=options.base_options, bundles_dir=root,
                                                restore=options.restore))

    def _tasks(self) -> dict[str, VisionTask | None]:
        return {"face_detector": self.detector, "landmarks": self.landmarker,
                "expression": self.expression, "skin": self.skin}

    @property
    def info(self) -> dict[str, EngineInfo]:
        """EngineInfo per stage that runs a bundle (variant, accelerator used, fallback reason)."""
        info = {name: task.info for name, task in self._tasks().items()
                if task is not None and task is not self.skin and task.info}
        return {**info, **(self.skin.info if self.skin else {})}

    def close(self) -> None:
        for task in self._tasks().values():
            if task is not None:
                task.close()
        super().close()

    def analyze(self, image) -> AnalysisResult:
        """Image (path, encoded bytes, or numpy array, BGR or greyscale) → AnalysisResult."""
        self._check_open()
        t = {}
        t0 = time.perf_counter()
        pixels = load_image(image)
        h, w = pixels.shape[:2]
        t["load"] = _ms(t0)

        t0 = time.perf_counter()
        det = self.detector.detect(pixels)
        boxes = [b for b in det.boxes if max(b.w, b.h) <= MAX_FACE_BOX_ASPECT * min(b.w, b.h)]
        t["detect"] = _ms(t0)

        t0 = time.perf_counter()
        extents = [self.detector.to_extent(b) for b in boxes]
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

        skins = (self.skin.analyze_faces(pixels, [m.points for m in marks], extents)
                 if self.skin and marks else [None] * len(marks))
        for report in skins:
            for stage, ms in (report.timings_ms.items() if report else ()):
                t[stage] = t.get(stage, 0.0) + ms
        t["total"] = sum(t.values())

        faces = [Face(b, m.points, r, e, s, m.source)
                 for b, m, r, e, s in zip(boxes, marks, regions, expressions, skins)]
        return AnalysisResult(faces, t, (w, h), det.detector, dict(self.stages))

    def analyze_paths(self, paths: Iterable[str | os.PathLike]) -> Iterator[tuple[Path, AnalysisResult | UserError]]:
        """(path, result) per image file, or (path, the UserError) for a file that cannot
        be analysed (unreadable, not an image): one bad file does not stop the rest."""
        for path in paths:
            try:
                yield Path(path), self.analyze(path)
            except UserError as exc:
                yield Path(path), exc

    def analyze_folder(self, folder: str | os.PathLike,
                       recursive: bool = True) -> Iterator[tuple[Path, AnalysisResult | UserError]]:
        """`analyze_paths` over every image in the folder tree (`sources.image_paths`).

        Raises ImageError at once when the folder is missing or holds no image anywhere.
        """
        return self.analyze_paths(image_paths(folder, recursive))

    def analyze_video(self, video: str | os.PathLike | VideoFile, every: int = 10,
                      max_frames: int = 0) -> Iterator[tuple[VideoFrame, AnalysisResult]]:
        """(frame, result) for frames 0, every, 2·every, … of a video path or open `VideoFile`
        (at most `max_frames` of them; 0: all). Each frame is analysed on its own."""
        self._check_open()
        frames = video.frames(every, max_frames) if isinstance(video, VideoFile) else \
            iter_video_frames(video, every, max_frames)
        return ((frame, self.analyze(frame.image)) for frame in frames)


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0
