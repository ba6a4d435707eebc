"""Skin metrics: the skin measures' image arithmetic as a fixed graph (nothing is trained).

The model is `facelite_build.skin_graph.build_skin_model`: colour conversion, lighting
normalisation and per-region statistics written as TensorFlow ops (docs/skin.md), so the
bundle carries the arithmetic and every binding runs it through LiteRT. The builder skips
training and pruning (`trained = False`), converts the float variants (no int8: a
quantized graph would round L*, a* and the thresholds it compares them with, changing
which pixels count as spots or shine) and packages.

Data: `data.layout = "pts300w"`; the held-out photos (`data.val`, `data.val_fraction`,
split as the landmarker's) become real inputs: each annotated face's skin crop
(`facelite.skin_measures.face_crop`) with its region and eye masks
(`measure_pixels`). They are the goldens (`golden_count` of them) and the photos the
manifest's metrics describe; nothing else reads them (no calibration).

Manifest metrics: per variant, its largest absolute and relative difference from the
fp32 variant, and the medians of the face row's measures over the held-out faces.

Score anchors (manifest `output.score_anchors`, docs/skin.md "Scores"): the one table the
Python runtime (`facelite.skin_scores.ScoreTable`) and the C core read the 0–100 scores
from. Computed at build time by `calibrate`: the photos of `measures.calibration` (ACNE04
level0, the nearest thing to healthy skin the shared data holds), each face found by the
shipped detector and landmarker (`face_patches.face_geometry`, cached under
FACELITE_CACHE), kept when `usable_face` (whole face in the frame, not a full profile),
cut with `face_crop` and measured by this very graph (TensorFlow's run); per concern and
region kind, the 10th and 90th percentiles of the raw number give the anchors
(`skin_scores.healthy_anchors`). Acne's anchors are `skin_scores.ACNE_ANCHORS` (fixed by
the acne grades, not calibrated). Recipe switch `measures.normalise = false` builds the
graph without lighting normalisation (benchmarks only).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from facelite.datasets import list_images, read_pts
from facelite.detection import Box
from facelite.image import load_image
from facelite.quality import MAX_FACE_UNSEEN, face_unseen, head_pose
from facelite.skin_measures import (
    FACE,
    GLOBAL_MEASURES,
    MASK_CHANNELS,
    MEASURE_ROWS,
    OUTPUT_SIZE,
    REGION_MEASURES,
    face_crop,
    measure_pixels,
)
from facelite.skin_scores import (
    ACNE_ANCHORS,
    CONCERNS,
    REGION_KINDS,
    concern_raw,
    healthy_anchors,
)

from ..data import Examples, Splits
from ..errors import RecipeError
from ..paths import cache_root, data_root, resolve
from ..splits import split_pairs
from .base import BuildTask, rounded

if TYPE_CHECKING:
    from ..recipe import Recipe

FLOAT_VARIANTS = ("fp32", "fp16")
CALIBRATION_MAX_YAW = 40.0
"""ACNE04 photos are close-ups, most of them three-quarter views (|yaw| 30–40°): a
calibration face is kept up to this yaw (full profiles, where the landmarker is lost, are
left out) when it also passes the quality gate's `occluded` rule (`usable_face`)."""


def usable_face(points: np.ndarray, box, image_size: tuple[int, int]) -> bool:
    """The calibration rule: the `occluded` check passes (`face_unseen` ≤ MAX_FACE_UNSEEN:
    whole face in the frame, landmarks agreeing with the detector's `box`, extent
    convention) and |yaw| ≤ CALIBRATION_MAX_YAW."""
    return face_unseen(points, box, image_size) <= MAX_FACE_UNSEEN and \
        abs(head_pose(points).yaw) <= CALIBRATION_MAX_YAW


def calibration_faces(recipe: Recipe, size: int) -> tuple[np.ndarray, list[str]]:
    """(graph inputs (N, size, size, 12) uint8, photo paths) of the usable faces of the
    `measures.calibration` photos, in file-name order (module docstring)."""
    from ..face_patches import FaceFinder, face_geometry

    folder = resolve(recipe.measures.calibration, data_root())
    if not folder.is_dir():
        raise RecipeError(f"{recipe.source}: measures.calibration {folder} is not a folder (the healthy photos the "
                          "score anchors are read from; set FACELITE_DATA or the recipe key)")
    photos = list_images(folder)
    if recipe.measures.calibration_limit > 0:
        photos = photos[:recipe.measures.calibration_limit]
    finder = FaceFinder()
    try:
        faces = face_geometry(photos, cache_root() / "face_geometry", finder, progress=False)
        xs, names = [], []
        for path in photos:
            face = faces[path]
            if face is None:
                continue
            image = load_image(path)
            box = finder.detector.to_extent(Box(*face.box, face.score))
            if usable_face(face.points, box, image.shape[1::-1]):
                xs.append(measure_pixels(face_crop(image, face.points, size)))
                names.append(str(path))
    finally:
        finder.close()
    if not xs:
        raise RecipeError(f"{recipe.source}: no usable face among the {len(photos)} photos of {folder} "
                          "(measures.calibration): nothing to read the score anchors from")
    return np.stack(xs), names


def calibrate(outputs: np.ndarray, source: str) -> dict:
    """The manifest's `output.score_anchors` from the graph's outputs on the healthy faces:
    per concern and region kind the anchors [[raw, score], ...], the percentiles they came
    from, the region → kind table, and where they came from (`source`)."""
    from facelite.tasks import MeasuresLayout

    layout = MeasuresLayout(list(MEASURE_ROWS), list(REGION_MEASURES), list(GLOBAL_MEASURES))
    tables = [layout.decode(row)[0] for row in np.asarray(outputs, np.float64).reshape(len(outputs), -1)]
    kinds = list(dict.fromkeys(REGION_KINDS.values()))
    anchors = {"acne": {kind: [list(a) for a in ACNE_ANCHORS] for kind in kinds}}
    percentiles = {}
    for concern in CONCERNS[1:]:
        anchors[concern], percentiles[concern] = {}, {}
        for kind in kinds:
            values = [concern_raw(concern, t[r]) for t in tables for r, k in REGION_KINDS.items()
                      if k == kind and t[r]["pixels"] > 0]
            v = np.asarray([x for x in values if np.isfinite(x)], np.float64)
            p10, p50, p90 = (float(np.percentile(v, q)) for q in (10, 50, 90))
            percentiles[concern][kind] = {"n": len(v), "p10": rounded(p10, 4), "p50": rounded(p50, 4),
                                          "p90": rounded(p90, 4)}
            anchors[concern][kind] = [list(a) for a in healthy_anchors(concern, p10, p90)]
    return {"source": source, "faces": len(tables), "region_kinds": dict(REGION_KINDS),
            "anchors": anchors, "percentiles": percentiles}


class SkinMetrics(BuildTask):
    name = "skin_metrics"
    head = "fixed"
    layout = "pts300w"
    crops = ("none",)
    backbone = False
    trained = False
    golden_count = 4  # each golden input is S × S × 12 bytes (786 KB at 256)

    def check_recipe(self, recipe: Recipe, file: str) -> None:
        super().check_recipe(recipe, file)
        i = recipe.input
        if i.color != "rgb" or list(i.extra_channels) != list(MASK_CHANNELS):
            raise RecipeError(f"{file}: a skin_metrics recipe needs input.color = \"rgb\" and input.extra_channels = "
                              f"{list(MASK_CHANNELS)} (the masks facelite.skin_measures.measure_pixels makes)")
        if any(m != 0.0 for m in i.mean) or any(s != 1.0 for s in i.std):
            raise RecipeError(f"{file}: a skin_metrics graph takes pixels and masks as they are: "
                              "input.mean = 0 and input.std = 1 for every channel")
        bad = [v for v in recipe.quantization.variants if v not in FLOAT_VARIANTS]
        if bad:
            raise RecipeError(f"{file}: quantization.variants {bad}: a skin_metrics graph ships float variants only "
                              f"({', '.join(FLOAT_VARIANTS)}); integer arithmetic would move its thresholds")

    def load_splits(self, recipe: Recipe, root: Path, limit: int | None = None) -> Splits:
        _, val = split_pairs(recipe, root, limit)
        size = recipe.input.size
        xs, names = [], []
        for image_path, pts_path in val:
            crop = face_crop(load_image(image_path), read_pts(pts_path), size)
            xs.append(measure_pixels(crop))
            names.append(str(image_path))
        if not xs:
            raise RecipeError(f"{recipe.source}: no held-out 300W faces under {root} (data.val)")
        examples = Examples(np.stack(xs), np.zeros(len(xs), np.int32), names)
        return Splits(examples, examples, [], {"faces": len(xs), "calibration": "none (float variants only)"})

    def n_outputs(self, labels: list[str]) -> int:
        return OUTPUT_SIZE

    def build_head(self, recipe, backbone, n_outputs):
        from ..skin_graph import build_skin_model

        return build_skin_model(recipe.input.size, recipe.measures.normalise)

    def datasets(self, recipe, splits):
        raise RecipeError("a skin_metrics graph is fixed; there is nothing to train")

    def loss(self, recipe):
        raise RecipeError("a skin_metrics graph is fixed; there is nothing to train")

    def metrics(self, outputs, val, recipe, reference=None):
        out = np.asarray(outputs, np.float64).reshape(len(val), -1)
        cols = len(REGION_MEASURES)
        face = out[:, MEASURE_ROWS.index(FACE) * cols:(MEASURE_ROWS.index(FACE) + 1) * cols]
        tail = out[:, len(MEASURE_ROWS) * cols:]
        result = {
            "n": len(val),
            "face_median": {m: rounded(np.median(face[:, k]), 4) for k, m in enumerate(REGION_MEASURES)},
            "global_median": {m: rounded(np.median(tail[:, k]), 4) for k, m in enumerate(GLOBAL_MEASURES)},
        }
        if reference is not None:
            ref = np.asarray(reference, np.float64).reshape(out.shape)
            diff = np.abs(out - ref)
            result["max_abs_err_vs_fp32"] = rounded(diff.max(), 6)
            result["max_rel_err_vs_fp32"] = rounded((diff / np.maximum(np.abs(ref), 1.0)).max(), 6)
        return result

    def output(self, recipe):
        import tensorflow as tf

        from ..skin_graph import skin_metrics

        xs, names = calibration_faces(recipe, recipe.input.size)
        outputs = np.concatenate([skin_metrics(tf.constant(xs[i:i + 8].astype(np.float32)),
                                               recipe.measures.normalise).numpy()
                                  for i in range(0, len(xs), 8)])
        m = recipe.measures
        source = (f"{m.calibration} under FACELITE_DATA" + (f" (first {m.calibration_limit} photos)"
                                                           if m.calibration_limit > 0 else "")
                  + f": {len(names)} usable faces (shipped face_detector + landmarks; occluded check passes, "
                  f"|yaw| <= {CALIBRATION_MAX_YAW:g}); p10/p90 of each concern's raw number per region kind")
        return {"kind": "measures", "rows": list(MEASURE_ROWS), "columns": list(REGION_MEASURES),
                "globals": list(GLOBAL_MEASURES), "score_anchors": calibrate(outputs, source)}
