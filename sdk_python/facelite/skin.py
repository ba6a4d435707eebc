"""Skin analysis per face: 0–100 scores per region and concern, tone, and a quality verdict.

`SkinAnalyzer` runs, for each face (68 landmarks in the photo):

1. `skin_measures.face_crop`: the eye-aligned skin crop every per-face stage shares (the
   work is per face, on its crop, never on full-image masks);
2. `skin_measures.SkinMeasurer` (the `skin_metrics` bundle): lighting normalisation and
   the raw measures per region, the capture measures and ITA°;
3. `quality.assess_capture`: the capture gate. When it fails on `noisy`, which
   restoration repairs, and on nothing else but `low_resolution`
   (`CaptureQuality.restorable`), and `restore=True`, the crop goes through
   `restoration.FaceRestorer` and is measured and gated again (`SkinReport.restored`);
   the report is then reliable only when the restored crop passes every check;
4. `acne.AcneGrader` (the `acne` bundle, v2: trained on skin crops and patches) on the
   crop: one severity for the face and one per graded region;
5. `skin_scores`: raw → scores and bands (formulas and anchors in docs/skin.md "Scores").

Scores from a capture that failed the gate are still given (so a user sees what the
photo would say) but the report says `reliable: false` with the failed checks; a
history (`facelite.skin_history`) keeps only reliable reports.

The acne stage is optional: without an acne bundle, or with the v1 bundle that graded
whole photos (it cannot grade a face crop), `stages["acne"]` says it was skipped and the
reports have no `acne` concern.

Example:

    >>> from facelite import BaseOptions, SkinAnalyzer, SkinAnalyzerOptions
    >>> skin = SkinAnalyzer.create_from_options(SkinAnalyzerOptions(base_options=BaseOptions(accelerator="cpu")))
    >>> sorted(skin.stages)
    ['acne', 'restoration', 'skin_metrics']
    >>> report = skin.analyze(image_bgr, points68, box)     # one face: its 68 landmarks    # doctest: +SKIP
    >>> reports = skin.analyze_image("../shared/data/acne04/level0/level0_1.jpg")    # doctest: +SKIP
    >>> reports[0].face["redness"]                                                 # doctest: +SKIP
    ConcernScore(score=81.2, band='good', raw=1.61)
    >>> reports[0].to_json()["regions"]["left_cheek"]["acne"]                      # doctest: +SKIP
    {'score': 74, 'band': 'good', 'raw': 0.43}
    >>> skin.close()
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .acne import AcneGrade, AcneGrader, AcneGraderOptions
from .bundle import Bundle
from .engine import EngineInfo
from .errors import BundleError, UserError
from .image import load_image
from .options import TaskOptions
from .paths import bundle_in, shipped_bundles_dir
from .quality import CaptureQuality, assess_capture
from .regions import REGION_NAMES, face_regions, hidden_cheeks
from .restoration import FaceRestorer, FaceRestorerOptions
from .skin_measures import FACE, RawSkinMeasures, SkinMeasurer, SkinMeasurerOptions, face_crop
from .skin_scores import ConcernScore, ScoreTable, Tone, region_scores, round_raw, tone
from .vision_task import VisionTask

SKIPPED = "skipped (no bundle)"
SKIPPED_V1_ACNE = "skipped (acne bundle grades whole photos; needs one trained on face crops)"
OFF = "off"


@dataclass(frozen=True)
class SkinReport:
    """One face's skin: scores per concern for the face and per region, tone, quality.

    Attributes:
        quality: the capture gate's verdict (`quality.CaptureQuality`).
        tone: ITA° and its category (None when no skin pixel was measured).
        face: concern → ConcernScore over the whole face's skin.
        regions: region → concern → ConcernScore, regions in `REGION_NAMES` order
            (a region that was not measured, e.g. outside the photo, is left out).
        lighting: the lighting normalisation that was applied (white-balance gains,
            exposure; `skin_measures`).
        models: bundle name → version of every bundle that produced this report.
        restored: the crop went through the restoration bundle before measuring.
        acne: the acne model's answer (None when no acne bundle ran).
        raw: every raw measure (`skin_measures.RawSkinMeasures`), for research and tests.
        timings_ms: milliseconds per stage for this face (not part of `to_json`).
    """

    quality: CaptureQuality
    tone: Tone | None
    face: dict[str, ConcernScore]
    regions: dict[str, dict[str, ConcernScore]]
    lighting: dict[str, float]
    models: dict[str, str]
    restored: bool = False
    acne: AcneGrade | None = None
    raw: RawSkinMeasures | None = field(default=None, repr=False)
    timings_ms: dict[str, float] = field(default_factory=dict, repr=False, compare=False)

    @property
    def reliable(self) -> bool:
        """True when the capture passed the quality gate (after restoration, if it ran)."""
        return self.quality.reliable

    @property
    def scores(self) -> dict[str, float]:
        """concern → the face's score (the numbers a user reads first)."""
        return {concern: s.score for concern, s in self.face.items()}

    def to_json(self) -> dict:
        """The report as plain JSON (scores as whole numbers, raw to 4 significant digits)."""
        return {
            "reliable": self.reliable,
            "restored": self.restored,
            "quality": _rounded_quality(self.quality.to_json()),
            "tone": self.tone.to_json() if self.tone else None,
            "face": {c: s.to_json() for c, s in self.face.items()},
            "regions": {r: {c: s.to_json() for c, s in scores.items()} for r, scores in self.regions.items()},
            "lighting": {k: _json_number(v) for k, v in self.lighting.items()},
            "models": dict(self.models),
        }


def _json_number(value) -> float | None:
    """A measure for JSON: 4 significant digits, None when not finite."""
    value = float(value)
    return round_raw(value) if math.isfinite(value) else None


def _rounded_quality(doc: dict) -> dict:
    """The quality verdict's JSON with each check's value to 4 significant digits."""
    checks = [{**c, "value": None if c["value"] is None else _json_number(c["value"])} for c in doc["checks"]]
    return {**doc, "checks": checks}


def build_report(raw: RawSkinMeasures, quality: CaptureQuality, acne: AcneGrade | None,
                 models: dict[str, str], restored: bool = False, table: ScoreTable | None = None,
                 hidden: frozenset[str] = frozenset()) -> SkinReport:
    """Scores, bands and tone from one face's raw measures, verdict and acne grade, scored
    with `table` (the skin_metrics bundle's anchors; default the shipped bundle's). A
    region without pixels (outside the crop) is left out, and so is a `hidden` one (the
    far cheek of a turned head, `regions.hidden_cheeks`); the face's tone too when the
    face row has no pixels."""
    per_region_acne = acne.per_region if acne else {}

    def measured(name: str) -> dict[str, float] | None:
        m = raw.regions.get(name)
        return m if m and m.get("pixels", 0) > 0 and name not in hidden else None

    face = region_scores(FACE, measured(FACE) or {}, acne.severity if acne else None, table)
    regions = {}
    for name in REGION_NAMES:
        if measured(name) is not None:
            regions[name] = region_scores(name, measured(name), per_region_acne.get(name), table)
    ita = float(raw.tone_ita) if measured(FACE) is not None else math.nan
    return SkinReport(quality=quality, tone=tone(ita) if math.isfinite(ita) else None, face=face,
                      regions=regions, lighting=dict(raw.lighting), models=models, restored=restored,
                      acne=acne, raw=raw)


SKIN_BUNDLES = ("skin_metrics", "acne", "restoration")
"""The bundles the skin analysis runs: `skin_metrics` (required), `acne` and `restoration`."""


@dataclass(frozen=True, kw_only=True)
class SkinAnalyzerOptions(TaskOptions):
    """Attributes:
        base_options: variant, accelerator, threads (and trust policy) for every skin
            bundle; its `bundle_path` must stay None: the analyzer runs several bundles,
            found under `bundles_dir`. The variant is what the model bundles (acne,
            restoration) run; `skin_metrics` is arithmetic shipped in fp32 only (its model
            card says why), so a variant it lacks leaves it on its own choice (`auto`).
        bundles_dir: folder holding `<name>/<name>.flb` for `skin_metrics` (required),
            `acne` and `restoration`; the only place looked in; None → the bundles
            shipped with facelite.
        acne: grade acne (default). False, or no acne bundle for face crops: no `acne` concern.
        restore: restore the crop of a noisy capture (`CaptureQuality.restorable`: it
            fails `noisy` and nothing else but `low_resolution`), then measure and gate
            it again (needs a restoration bundle).
    """

    bundles_dir: str | os.PathLike | None = None
    acne: bool = True
    restore: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.base_options.bundle_path is not None:
            raise UserError("SkinAnalyzerOptions: base_options.bundle_path is for single-bundle tasks; the skin "
                            "analyzer runs several, so pass bundles_dir (a folder of <name>/<name>.flb)")


class SkinAnalyzer(VisionTask):
    """Per-face skin report (`SkinReport`) from a photo and each face's 68 landmarks."""

    options_type = SkinAnalyzerOptions

    def __init__(self, options: SkinAnalyzerOptions):
        super().__init__(options)
        self._tasks: dict[str, VisionTask] = {}
        self._finder: tuple | None = None
        root = Path(options.bundles_dir) if options.bundles_dir is not None else shipped_bundles_dir()
        if not root.is_dir():
            raise BundleError(f"{root}: no such bundles folder; pass a folder holding <name>/<name>.flb bundles")
        found = {name: bundle_in(root, name) for name in SKIN_BUNDLES}
        if found["skin_metrics"] is None:
            raise BundleError(f"no skin_metrics bundle ({root / 'skin_metrics' / 'skin_metrics.flb'} not found); "
                              "put it there, pass a bundles folder that has it, or reinstall facelite")
        if options.restore and found["restoration"] is None:
            raise BundleError(f"restore=True needs a restoration bundle ({root / 'restoration' / 'restoration.flb'} "
                              "not found); put one there or leave restore off (CLI: drop --restore)")
        self.measurer = SkinMeasurer(SkinMeasurerOptions(base_options=self._base(found["skin_metrics"],
                                                                                 own_variant_if_missing=True)))
        self._tasks["skin_metrics"] = self.measurer
        self.score_table = ScoreTable.from_manifest(self.measurer.bundle.manifest, str(found["skin_metrics"]))
        self.grader, acne_stage = self._acne_grader(found["acne"]) if options.acne else (None, OFF)
        self.restorer = None
        if options.restore:
            self.restorer = FaceRestorer(FaceRestorerOptions(base_options=self._base(found["restoration"])))
            self._tasks["restoration"] = self.restorer
        self.stages = {
            "skin_metrics": _bundle_stage(self.measurer),
            "acne": acne_stage,
            "restoration": _bundle_stage(self.restorer) if self.restorer else OFF,
        }

    def _base(self, bundle_path: Path, own_variant_if_missing: bool = False):
        base = dataclasses.replace(self.options.base_options, bundle_path=bundle_path)
        if own_variant_if_missing and base.variant != "auto":
            with Bundle.open(bundle_path) as bundle:
                if base.variant not in bundle.variants:
                    base = dataclasses.replace(base, variant="auto")
        return base

    def _acne_grader(self, path: Path | None) -> tuple[AcneGrader | None, str]:
        """(the acne grader, its stage) or (None, why not): no bundle, or the v1 bundle
        that grades whole photos (`AcneGrader` needs one trained on face crops)."""
        if path is None:
            return None, SKIPPED
        with Bundle.open(path) as bundle:
            if bundle.input_spec.crop != "face":
                return None, SKIPPED_V1_ACNE
        grader = AcneGrader(AcneGraderOptions(base_options=self._base(path)))
        self._tasks["acne"] = grader
        return grader, _bundle_stage(grader)

    @property
    def info(self) -> dict[str, EngineInfo]:
        """EngineInfo per skin stage that runs a bundle."""
        return {name: task.info for name, task in self._tasks.items() if task.info}

    def close(self) -> None:
        for task in self._tasks.values():
            task.close()
        if self._finder:
            for task in self._finder:
                task.close()
        super().close()

    # -- analysis -----------------------------------------------------------------

    def analyze(self, image, points: np.ndarray, box: Sequence[float] | None = None) -> SkinReport:
        """One face's SkinReport. `image`: path or BGR array; `points`: its 68 landmarks
        in image pixels; `box`: the face detector's box in the landmarks' extent
        convention (`FaceDetector.to_extent`), used by the `occluded` check (None: the
        check judges the frame only)."""
        return self.analyze_faces(image, [points], [box])[0]

    def analyze_faces(self, image, points: Sequence[np.ndarray],
                      boxes: Sequence[Sequence[float] | None] | None = None) -> list[SkinReport]:
        """SkinReports of several faces of one photo (measures and acne each in one batched call)."""
        self._check_open()
        pixels = load_image(image)
        points = [np.asarray(p, np.float32).reshape(68, 2) for p in points]
        boxes = list(boxes) if boxes is not None else [None] * len(points)
        if len(boxes) != len(points):
            raise UserError(f"SkinAnalyzer.analyze_faces: {len(points)} faces' points but {len(boxes)} boxes")
        if not points:
            return []
        h, w = pixels.shape[:2]
        n = len(points)
        timings = [{} for _ in points]

        def timed(stage: str, run):
            t0 = time.perf_counter()
            out = run()
            for t in timings:
                t[stage] = t.get(stage, 0.0) + _ms(t0) / n
            return out

        crops = timed("skin_crop", lambda: [face_crop(pixels, p, self.measurer.crop_size) for p in points])
        raws = timed("skin_measures", lambda: self.measurer.measure_crops(crops))
        qualities = timed("quality", lambda: [assess_capture(p, b, (w, h), r.capture)
                                              for p, b, r in zip(points, boxes, raws)])
        restored = [self.restorer is not None and q.restorable for q in qualities]
        if any(restored):
            timed("restoration", lambda: self._restore(pixels, points, boxes, crops, raws, qualities, restored))
        grades = (timed("acne", lambda: self.grader.grade_batch(crops)) if self.grader else [None] * n)
        hidden = [hidden_cheeks(face_regions(c.points, (c.size, c.size))) for c in crops]
        return [dataclasses.replace(build_report(raw, quality, grade, self._models(again), again, self.score_table,
                                                 gone), timings_ms=t)
                for raw, quality, grade, again, gone, t in zip(raws, qualities, grades, restored, hidden, timings)]

    def analyze_image(self, image) -> list[SkinReport]:
        """A SkinReport per face found in the photo, best face first: the shipped face
        detector and landmarker run first (created on the first call, with these options'
        base options). For the rest of the pipeline in one go use `FaceAnalyzer`."""
        self._check_open()
        from .face_detector import FaceDetector, FaceDetectorOptions
        from .landmarker import FaceLandmarker, FaceLandmarkerOptions

        if self._finder is None:
            base = self.options.base_options
            self._finder = (FaceDetector(FaceDetectorOptions(base_options=base)),
                            FaceLandmarker(FaceLandmarkerOptions(base_options=base)))
        detector, landmarker = self._finder
        pixels = load_image(image)
        extents = [detector.to_extent(b) for b in detector.detect(pixels).boxes]
        marks = landmarker.detect_batch(pixels, extents)
        return self.analyze_faces(pixels, [m.points for m in marks], extents)

    def _restore(self, pixels, points, boxes, crops, raws, qualities, which) -> None:
        """Replace, for the faces `which` marks, the crop, raw measures and verdict by those
        of the restored crop (`FaceRestorer.restore_face`: the face cut at 1/scale of the
        crop size, about the detail a low-resolution photo has, restored to the full
        size), measured and gated again. The restored report is reliable only when it
        passes every check: `low_resolution` is a property of the photo, which
        restoration does not change (restoring a crop that is only low-resolution is
        worse than bicubic, `quality.RESTORATION_TOLERATES`)."""
        h, w = pixels.shape[:2]
        chosen = [i for i, flag in enumerate(which) if flag]
        for i in chosen:
            crops[i] = self.restorer.restore_face(pixels, points[i])
        for i, raw in zip(chosen, self.measurer.measure_crops([crops[i] for i in chosen])):
            raws[i], qualities[i] = raw, assess_capture(points[i], boxes[i], (w, h), raw.capture)

    def _models(self, restored: bool) -> dict[str, str]:
        tasks = [self.measurer, self.grader] + ([self.restorer] if restored else [])
        return {t.bundle.name: str(t.bundle.manifest["version"]) for t in tasks if t is not None}


def _bundle_stage(task) -> str:
    return f"bundle:{task.bundle.name}"


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0
