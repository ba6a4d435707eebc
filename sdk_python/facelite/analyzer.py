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

Running modes (`FaceAnalyzerOptions.running_mode`, docs/video.md), as in MediaPipe
Tasks: `IMAGE` (default) analyses each image on its own with `analyze`. `VIDEO` takes the
frames of one clip in order, `analyze_video_frame(frame, timestamp_ms)` with strictly
increasing timestamps: faces are tracked (`facelite.tracking`: the detector runs every
`detect_every_n_frames` or when a track is lost, `Face.track_id` stays with its face),
their points smoothed over time (`facelite.smoothing`, One Euro), and expression and
skin run at their own rates (`expression_every_n_frames`, `skin_every_n_frames`; between
runs a face carries its last result). `LIVE_STREAM` is VIDEO on a worker thread:
`analyze_async(frame, timestamp_ms)` returns at once, results go to the options'
`result_callback(result, frame, timestamp_ms)` in order, and a frame that arrives while
another waits replaces it (`dropped_frames`; `facelite.live_stream`). Calling the wrong
method for the mode is a UserError naming the right one.

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

Video mode (tracked, smoothed):

    >>> from facelite import VideoFile
    >>> video = FaceAnalyzer.create_from_options(FaceAnalyzerOptions(
    ...     base_options=BaseOptions(accelerator="cpu"), running_mode="video", skin_every_n_frames=30))
    >>> for frame in VideoFile("clip.mp4").frames():                               # doctest: +SKIP
    ...     result = video.analyze_video_frame(frame.image, frame.timestamp_ms)
    ...     print(frame.timestamp_ms, [(f.track_id, f.expression.label) for f in result.faces])
    >>> video.analyze("photo.jpg")
    Traceback (most recent call last):
    ...
    facelite.errors.UserError: FaceAnalyzer.analyze: this analyzer runs in VIDEO mode (FaceAnalyzerOptions.running_mode); give it frames with analyze_video_frame(frame, timestamp_ms), or create one with running_mode=IMAGE for analyze
    >>> video.close()
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from .align import align_face
from .classifier import Classification, ExpressionClassifier, ExpressionClassifierOptions
from .datasets import extent_box
from .detection import Box
from .engine import EngineInfo
from .errors import BundleError, UserError
from .face_detector import FaceDetector, FaceDetectorOptions
from .image import load_image
from .landmarker import FaceLandmarker, FaceLandmarkerOptions
from .live_stream import LatestFrameWorker
from .options import DEFAULT_MAX_FACES, RunningMode, StandIn, TaskOptions, check_range
from .paths import bundle_in, shipped_bundles_dir
from .regions import face_regions
from .skin import SkinAnalyzer, SkinAnalyzerOptions, SkinReport
from .smoothing import PointSmoother, ScoreSmoother
from .sources import VideoFile, VideoFrame, image_paths, iter_video_frames
from .tracking import FaceTracker, appearance
from .vision_task import VisionTask

REQUIRED_BUNDLES = ("face_detector", "landmarks")
"""Stages without which the analyzer fails (unless stand-ins are asked for)."""
OPTIONAL_BUNDLES = ("expression", "skin_metrics", "acne", "restoration")
"""Stages skipped, and said so in `stages`, when their bundle is absent."""
EXPRESSION_BUNDLES = ("expression", "expression_ferplus")
"""Bundles the expression stage can run (`FaceAnalyzerOptions.expression_bundle`): the
7-class FER2013 model, or the 8-class FER+ one (adds contempt); labels come from the bundle."""
SKIN_STAGES = ("skin_metrics", "acne", "restoration")
"""The `stages` entries of the skin analysis (`SkinAnalyzer.stages`)."""
SKIPPED = "skipped (no bundle)"
OFF = "off"
ALIGNED_SIZE = 112
"""Side of the aligned face crop the expression model gets (then resized to its input)."""
MAX_FACE_BOX_ASPECT = 4.0
"""Longer over shorter side above which a detection is not analysed as a face: the square
landmark crop around a 1000000x2 box would take terabytes."""
CALLS = {RunningMode.IMAGE: "analyze(image)",
         RunningMode.VIDEO: "analyze_video_frame(frame, timestamp_ms)",
         RunningMode.LIVE_STREAM: "analyze_async(frame, timestamp_ms)"}
"""The call that feeds an analyzer in each running mode."""


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
            bundle's operating point for the variant it runs, `output.score_threshold_by_variant`,
            else `output.score_threshold`, else 0.5).
        max_faces: at most this many faces, best first.
        skin: run the skin analysis (`Face.skin`; needs a `skin_metrics` bundle).
        restore: let the skin analysis restore low-resolution or noisy face crops
            (needs a `restoration` bundle; see `facelite.skin`).
        expression_bundle: which expression model runs (`EXPRESSION_BUNDLES`):
            `expression` (default, FER2013's 7 labels; skipped when absent) or
            `expression_ferplus` (FER+'s 8 labels; a BundleError when absent).
        running_mode: `IMAGE` (default, `analyze`), `VIDEO` (`analyze_video_frame`) or
            `LIVE_STREAM` (`analyze_async`); see the module docstring and docs/video.md.
        detect_every_n_frames: VIDEO/LIVE_STREAM: the detector runs at least every this
            many frames to find new faces (and whenever a track is lost).
        expression_every_n_frames: VIDEO/LIVE_STREAM: a tracked face's expression runs on
            its frames 0, n, 2n, …; in between it carries the last (smoothed) result.
        skin_every_n_frames: VIDEO/LIVE_STREAM: the same for the skin analysis (its
            reports are not smoothed).
        smoothing: VIDEO/LIVE_STREAM: One Euro smoothing of points and expression
            probabilities (`facelite.smoothing`); False reports the raw values (to
            measure jitter against).
        result_callback: LIVE_STREAM only, and required there: called as
            `result_callback(result, frame, timestamp_ms)` on the worker thread, in
            timestamp order.
    """

    running_modes: ClassVar[tuple[RunningMode, ...]] = tuple(RunningMode)
    bundles_dir: str | os.PathLike | None = None
    stand_in: StandIn | str = StandIn.NEVER
    min_face_score: float | None = None
    max_faces: int = DEFAULT_MAX_FACES
    skin: bool = True
    restore: bool = False
    expression_bundle: str = "expression"
    detect_every_n_frames: int = 15
    expression_every_n_frames: int = 1
    skin_every_n_frames: int = 10
    smoothing: bool = True
    result_callback: Callable[[AnalysisResult, np.ndarray, int], None] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.base_options.bundle_path is not None:
            raise UserError("FaceAnalyzerOptions: base_options.bundle_path is for single-bundle tasks; "
                            "the analyzer runs several, so pass bundles_dir (a folder of <name>/<name>.flb)")
        object.__setattr__(self, "stand_in", StandIn.parse(self.stand_in, "stand_in"))
        check_range("min_face_score", self.min_face_score, 0.0, 1.0)
        check_range("max_faces", self.max_faces, 1)
        if self.expression_bundle not in EXPRESSION_BUNDLES:
            raise UserError(f"expression_bundle {self.expression_bundle!r}: one of {', '.join(EXPRESSION_BUNDLES)}")
        for name in ("detect_every_n_frames", "expression_every_n_frames", "skin_every_n_frames"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{name} {value!r}: must be a whole number >= 1 (1 = every frame)")
        live = self.running_mode is RunningMode.LIVE_STREAM
        if live and not callable(self.result_callback):
            raise UserError("FaceAnalyzerOptions: running_mode LIVE_STREAM needs a result_callback"
                            "(result, frame, timestamp_ms) to receive the results of analyze_async")
        if not live and self.result_callback is not None:
            raise UserError(f"FaceAnalyzerOptions: result_callback is for running_mode LIVE_STREAM only; in "
                            f"{self.running_mode.name} mode {CALLS[self.running_mode]} returns the result")


@dataclass
class Face:
    """One analysed face. `landmarks_source` says whether points came from a model."""

    box: Box
    landmarks: np.ndarray
    regions: dict[str, np.ndarray]
    expression: Classification | None
    skin: SkinReport | None
    landmarks_source: str = ""
    track_id: int | None = None
    """VIDEO/LIVE_STREAM: the id of the face's track, the same on every frame it is
    followed (from 0 per clip); None in IMAGE mode (and then absent from `to_json`, as
    the result's `timestamp_ms` is: an image's JSON is as before)."""

    def to_json(self) -> dict:
        return {
            **({"track_id": self.track_id} if self.track_id is not None else {}),
            "box": self.box.to_json(),
            "landmarks": np.round(self.landmarks, 2).tolist(),
            "landmarks_source": self.landmarks_source,
            "regions": {k: np.round(v, 1).tolist() for k, v in self.regions.items()},
            "expression": self.expression.to_json() if self.expression else None,
            "skin": self.skin.to_json() if self.skin else None,
        }


@dataclass
class AnalysisResult:
    """Every face of one image, per-stage timings (ms) and what ran (`stages`);
    `timestamp_ms` is the frame's in VIDEO and LIVE_STREAM mode (None for an image)."""

    faces: list[Face]
    timings_ms: dict[str, float]
    image_size: tuple[int, int]
    detector: str
    stages: dict[str, str] = field(default_factory=dict)
    timestamp_ms: int | None = None

    def to_json(self) -> dict:
        return {
            **({"timestamp_ms": self.timestamp_ms} if self.timestamp_ms is not None else {}),
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
    found = {n: bundle_in(root, options.expression_bundle if n == "expression" else n)
             for n in REQUIRED_BUNDLES + OPTIONAL_BUNDLES}
    if found["expression"] is None and options.expression_bundle != "expression":
        name = options.expression_bundle
        raise BundleError(f"no {name} bundle ({root / name / f'{name}.flb'} not found); put it there or pass a "
                          "bundles folder that has it")
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
        self._tracker = FaceTracker(self._detect_for_tracker, self._landmarks_for_tracker,
                                    options.detect_every_n_frames, options.max_faces)
        self._timings: dict[str, float] = {}
        self._last_timestamp: int | None = None
        self._worker: LatestFrameWorker | None = None

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
        """Stop the live-stream worker (its pending frame is analysed first), then close
        every stage's bundles. Calling it twice is harmless."""
        try:
            if self._worker is not None:   # kept: dropped_frames stays readable
                self._worker.close(wait=True)
        finally:
            for task in self._tasks().values():
                if task is not None:
                    task.close()
            super().close()

    # -- running modes ---------------------------------------------------------------

    def _check_mode(self, mode: RunningMode, call: str) -> None:
        """UserError when the analyzer is closed or `call` is not its running mode's call."""
        self._check_open()
        actual = self.options.running_mode
        if actual is not mode:
            raise UserError(f"FaceAnalyzer.{call}: this analyzer runs in {actual.name} mode "
                            f"(FaceAnalyzerOptions.running_mode); give it frames with {CALLS[actual]}, "
                            f"or create one with running_mode={mode.name} for {call}")

    def _check_timestamp(self, timestamp_ms) -> int:
        """The timestamp as an int, after checking that it follows the previous frame's."""
        if isinstance(timestamp_ms, bool) or not isinstance(timestamp_ms, (int, np.integer)):
            raise UserError(f"timestamp_ms {timestamp_ms!r}: must be a whole number of milliseconds")
        timestamp_ms = int(timestamp_ms)
        if self._last_timestamp is not None and timestamp_ms <= self._last_timestamp:
            raise UserError(f"timestamp_ms {timestamp_ms}: must be greater than the previous frame's "
                            f"{self._last_timestamp}; timestamps strictly increase within a clip "
                            "(call reset() to start a new clip)")
        self._last_timestamp = timestamp_ms
        return timestamp_ms

    def reset(self) -> None:
        """Start a new clip: no tracks (ids from 0 again), any timestamp accepted next. In
        LIVE_STREAM mode the worker finishes its pending frame first, and `dropped_frames`
        starts again from 0."""
        self._check_open()
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.close(wait=True)
        self._tracker.reset()
        self._last_timestamp = None

    @property
    def dropped_frames(self) -> int:
        """LIVE_STREAM: frames replaced by a newer one before the worker took them (since
        creation or the last `reset`; still readable after `close`); 0 in the other modes."""
        return self._worker.dropped if self._worker is not None else 0

    # -- the per-face stages, shared by every mode -----------------------------------

    def _face_boxes(self, pixels: np.ndarray) -> list[Box]:
        """The detector's boxes, best first, less those too elongated to be a face."""
        return [b for b in self.detector.detect(pixels).boxes
                if max(b.w, b.h) <= MAX_FACE_BOX_ASPECT * min(b.w, b.h)]

    def _face_stages(self, pixels: np.ndarray, points: list[np.ndarray], extents: list, t: dict[str, float],
                     expression_due: list[bool], skin_due: list[bool]):
        """Regions of every face; expression and skin of the faces due (None for the
        others, and where the stage has no bundle). Adds the stages' timings to `t`.
        Returns (regions, expressions, skins), one entry per face."""
        h, w = pixels.shape[:2]
        n = len(points)
        t0 = time.perf_counter()
        expression_faces = [i for i in range(n) if expression_due[i]] if self.expression else []
        aligned = [align_face(pixels, points[i], ALIGNED_SIZE).image for i in expression_faces]
        regions = [face_regions(p, (w, h)) for p in points]
        t["align_regions"] = t.get("align_regions", 0.0) + _ms(t0)

        t0 = time.perf_counter()
        expressions: list[Classification | None] = [None] * n
        for i, result in zip(expression_faces, self.expression.classify_batch(aligned) if aligned else []):
            expressions[i] = result
        t["expression"] = t.get("expression", 0.0) + _ms(t0)

        skins: list[SkinReport | None] = [None] * n
        skin_faces = [i for i in range(n) if skin_due[i]] if self.skin else []
        if skin_faces:
            reports = self.skin.analyze_faces(pixels, [points[i] for i in skin_faces], [extents[i] for i in skin_faces])
            for i, report in zip(skin_faces, reports):
                skins[i] = report
                for stage, ms in report.timings_ms.items():
                    t[stage] = t.get(stage, 0.0) + ms
        return regions, expressions, skins

    # -- IMAGE mode ------------------------------------------------------------------

    def analyze(self, image) -> AnalysisResult:
        """Image (path, encoded bytes, or numpy array, BGR or greyscale) → AnalysisResult.
        IMAGE mode only (a UserError in VIDEO and LIVE_STREAM mode)."""
        self._check_mode(RunningMode.IMAGE, "analyze")
        t = {}
        t0 = time.perf_counter()
        pixels = load_image(image)
        h, w = pixels.shape[:2]
        t["load"] = _ms(t0)

        t0 = time.perf_counter()
        boxes = self._face_boxes(pixels)
        t["detect"] = _ms(t0)

        t0 = time.perf_counter()
        extents = [self.detector.to_extent(b) for b in boxes]
        marks = self.landmarker.detect_batch(pixels, extents)
        t["landmarks"] = _ms(t0)

        every = [True] * len(marks)
        regions, expressions, skins = self._face_stages(pixels, [m.points for m in marks], extents, t, every, every)
        t["total"] = sum(t.values())

        faces = [Face(b, m.points, r, e, s, m.source)
                 for b, m, r, e, s in zip(boxes, marks, regions, expressions, skins)]
        return AnalysisResult(faces, t, (w, h), self.detector.name, dict(self.stages))

    # -- VIDEO and LIVE_STREAM modes -------------------------------------------------

    def analyze_video_frame(self, frame, timestamp_ms: int) -> AnalysisResult:
        """The next frame of the clip (BGR or greyscale numpy array, or a path) at
        `timestamp_ms` (an int, greater than the previous frame's) → its AnalysisResult,
        faces tracked (`Face.track_id`) and smoothed. VIDEO mode only."""
        self._check_mode(RunningMode.VIDEO, "analyze_video_frame")
        timestamp_ms = self._check_timestamp(timestamp_ms)
        return self._analyze_tracked(frame, timestamp_ms)

    def analyze_async(self, frame: np.ndarray, timestamp_ms: int) -> None:
        """Hand the next live frame (BGR or greyscale numpy array) at `timestamp_ms` (an
        int, greater than the previous frame's) to the worker and return at once; its
        result reaches `result_callback(result, frame, timestamp_ms)`. A frame still
        waiting when the next arrives is dropped (`dropped_frames`). LIVE_STREAM mode only.
        An error of an earlier frame's analysis or callback is raised here."""
        self._check_mode(RunningMode.LIVE_STREAM, "analyze_async")
        if not isinstance(frame, np.ndarray):
            raise UserError(f"FaceAnalyzer.analyze_async: frame must be a numpy array (BGR or greyscale pixels), "
                            f"not {type(frame).__name__}")
        pixels = load_image(frame)   # a bad frame fails here, in the caller's thread
        timestamp_ms = self._check_timestamp(timestamp_ms)
        if self._worker is None:
            self._worker = LatestFrameWorker(self._analyze_tracked, self.options.result_callback)
        self._worker.submit(pixels, timestamp_ms)

    def _detect_for_tracker(self, pixels: np.ndarray) -> list[tuple[Box, tuple[float, float, float, float]]]:
        t0 = time.perf_counter()
        found = [(b, self.detector.to_extent(b)) for b in self._face_boxes(pixels)]
        self._timings["detect"] += _ms(t0)
        return found

    def _landmarks_for_tracker(self, pixels: np.ndarray, extents: list) -> list[tuple]:
        t0 = time.perf_counter()
        marks, crops = self.landmarker.detect_batch_with_crops(pixels, extents)
        found = [(m.points, None if crop is None else appearance(*crop, m.points)) for m, crop in zip(marks, crops)]
        self._timings["landmarks"] += _ms(t0)
        return found

    def _analyze_tracked(self, frame, timestamp_ms: int) -> AnalysisResult:
        """One frame of VIDEO/LIVE_STREAM mode (docs/video.md): track, smooth, then the
        per-face stages of the faces due."""
        t = self._timings = {"load": 0.0, "detect": 0.0, "landmarks": 0.0}
        t0 = time.perf_counter()
        pixels = load_image(frame)
        h, w = pixels.shape[:2]
        t["load"] = _ms(t0)
        tracks = self._tracker.step(pixels)

        t0 = time.perf_counter()
        seconds = timestamp_ms / 1000.0
        smooth = self.options.smoothing
        points = []
        for track in tracks:
            raw = track.points
            if smooth:
                raw = track.state.setdefault("points", PointSmoother())(raw, seconds)
            points.append(raw.astype(np.float32))
        t["smoothing"] = _ms(t0)

        opts = self.options
        regions, expressions, skins = self._face_stages(
            pixels, points, [track.crop for track in tracks], t,
            [track.frames_tracked % opts.expression_every_n_frames == 0 for track in tracks],
            [track.frames_tracked % opts.skin_every_n_frames == 0 for track in tracks])
        faces = []
        for track, p, r, e, s in zip(tracks, points, regions, expressions, skins):
            if e is not None:
                track.state["expression"] = track.state.setdefault("scores", ScoreSmoother())(e, seconds) \
                    if smooth else e
            if s is not None:
                track.state["skin"] = s
            box = Box(*extent_box(p), score=track.score)
            faces.append(Face(box, p, r, track.state.get("expression"), track.state.get("skin"),
                              self.landmarker.source, track.id))
        t["total"] = sum(t.values())
        return AnalysisResult(faces, t, (w, h), self.detector.name, dict(self.stages), timestamp_ms)

    # -- many inputs -----------------------------------------------------------------

    def analyze_paths(self, paths: Iterable[str | os.PathLike]) -> Iterator[tuple[Path, AnalysisResult | UserError]]:
        """(path, result) per image file, or (path, the UserError) for a file that cannot
        be analysed (unreadable, not an image): one bad file does not stop the rest.
        IMAGE mode only."""
        self._check_mode(RunningMode.IMAGE, "analyze_paths")
        return self._analyze_paths(paths)

    def _analyze_paths(self, paths: Iterable[str | os.PathLike]) -> Iterator[tuple[Path, AnalysisResult | UserError]]:
        for path in paths:
            try:
                yield Path(path), self.analyze(path)
            except UserError as exc:
                yield Path(path), exc

    def analyze_folder(self, folder: str | os.PathLike,
                       recursive: bool = True) -> Iterator[tuple[Path, AnalysisResult | UserError]]:
        """`analyze_paths` over every image in the folder tree (`sources.image_paths`).

        Raises ImageError at once when the folder is missing or holds no image anywhere.
        IMAGE mode only.
        """
        self._check_mode(RunningMode.IMAGE, "analyze_folder")
        return self._analyze_paths(image_paths(folder, recursive))

    def analyze_video(self, video: str | os.PathLike | VideoFile, every: int = 10,
                      max_frames: int = 0) -> Iterator[tuple[VideoFrame, AnalysisResult]]:
        """(frame, result) for frames 0, every, 2·every, … of a video path or open `VideoFile`
        (at most `max_frames` of them; 0: all).

        IMAGE mode: each frame is analysed on its own (`analyze`). VIDEO mode: the file is
        one clip: the analyzer is `reset()` and the frames go through `analyze_video_frame`
        with the file's timestamps (`VideoFrame.timestamp_ms`), so faces are tracked. Not
        in LIVE_STREAM mode (a UserError: feed `analyze_async` instead).
        """
        mode = self.options.running_mode
        if mode is RunningMode.LIVE_STREAM:
            self._check_mode(RunningMode.VIDEO, "analyze_video")
        self._check_open()
        frames = video.frames(every, max_frames) if isinstance(video, VideoFile) else \
            iter_video_frames(video, every, max_frames)
        if mode is RunningMode.IMAGE:
            return ((frame, self.analyze(frame.image)) for frame in frames)
        self.reset()
        return ((frame, self.analyze_video_frame(frame.image, frame.timestamp_ms)) for frame in frames)


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0
