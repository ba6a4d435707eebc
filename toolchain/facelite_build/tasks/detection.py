"""Detection: 300W photos → a one-class CenterNet face detector on the letterboxed photo.

Data: `data.layout = "pts300w"`, the same seeded split as the landmarker
(`splits.split_pairs`). Each photo is letterboxed as the runtime letterboxes it
(`facelite.preprocess.prepare_pixels`, `input.crop = "letterbox"`); its face box is the
points' extent grown by `data.box_margin` per side, mapped into the model input with
`Placement.to_input` and kept as (x, y, w, h) fractions of the input.

Training samples are augmented one by one (`detection_augment`; with `close_up` views
also from a sharper face crop of each training photo) and turned into heatmap targets
(`detection_targets`); the model is `centernet`. Loss: penalty-reduced focal loss
on the heatmap (CenterNet, α=2, β=4) + L1 on size and offset at face centres.

Operating points: each variant gets its own score threshold (`output.score_threshold_by_variant`,
read by `facelite.tasks.DetectionTask.score_threshold`), chosen on the training photos from
the held-out split's folders (HELEN for the shipped detector; not the held-out photos) by the
rule `choose_threshold` states: the highest recall with at most `MAX_FALSE_BOXES` false
boxes per photo. An int8 variant's heatmap peaks sit a few hundredths under fp32's, so one
threshold for all misses int8's well-placed faces. `output.score_threshold` stays
`SCORE_THRESHOLD`, the fallback for a variant without its own.

NMS: by IoU (`IOU_THRESHOLD`) and, when the recipe sets `head.containment_threshold`, by
containment (`facelite.detection.nms`; manifest `output.containment_threshold`): a second,
smaller peak inside the same face (an ear, a cheek of a close-up) overlaps the face's box
little by IoU. The build's own decoding (operating points, metrics) uses the same rule.

Manifest metrics: outputs decoded by the runtime's decoder (`facelite.detection`) at the
variant's operating point, the margin taken off again, and matched against the points'
extent boxes at IoU ≥ 0.5 (`facelite.metrics.match_detections`), as `facelite evaluate`
scores a detector.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facelite.datasets import extent_box, read_pts
from facelite.detection import Box
from facelite.metrics import IOU_MATCH, match_detections
from facelite.preprocess import InputSpec, Placement, prepare_pixels
from facelite.tasks import MAX_FACES, HeatmapDecoder

from ..centernet import CHANNELS, grid_size, output_layout
from ..data import Examples, Splits
from ..errors import RecipeError
from ..splits import split_pairs
from .base import BuildTask, rounded

if TYPE_CHECKING:
    from ..recipe import Recipe

# Fallback operating point written to the manifest (`output.score_threshold`), for a variant
# without its own (`output.score_threshold_by_variant`, chosen by `operating_points`). Chosen
# once for the 1.0 detector on the HELEN photos of the TRAINING split by `choose_threshold`'s rule.
SCORE_THRESHOLD = 0.4
MAX_FALSE_BOXES = 0.1  # the operating-point rule's bound on false boxes per training photo
THRESHOLD_GRID = tuple(round(0.05 + 0.01 * i, 2) for i in range(91))  # candidates 0.05 ... 0.95
IOU_THRESHOLD = 0.4  # FaceDetectorOptions.iou_threshold
SIZE_WEIGHT = 5.0  # loss weight of the size L1 term ...
OFFSET_WEIGHT = 1.0  # ... and of the offset L1 term, against the focal heatmap loss


def letterboxed_photos(pairs: list[tuple[Path, Path]], spec: InputSpec, box_margin: float) -> Examples:
    """Letterboxed photos (N, S, S, C) uint8 and face boxes (N, 4) as input fractions (x, y, w, h)."""
    size = np.array([spec.width, spec.height], np.float64)
    xs, ys, names = [], [], []
    for image_path, pts_path in pairs:
        pixels, placement = prepare_pixels(image_path, spec)
        x, y, w, h = extent_box(read_pts(pts_path), box_margin)
        corners = placement.to_input([[x, y], [x + w, y + h]]) / size
        xs.append(pixels)
        ys.append(np.concatenate([corners[0], corners[1] - corners[0]]))
        names.append(str(image_path))
    return Examples(np.stack(xs), np.stack(ys).astype(np.float32), names)


def centernet_loss(recipe: "Recipe"):
    """Focal loss on the heatmap + SIZE_WEIGHT·L1(size) + OFFSET_WEIGHT·L1(offset) at centres."""
    import tensorflow as tf

    def loss(y_true, y_pred):
        heat_t, size_t, off_t, mask = y_true[..., 0:1], y_true[..., 1:3], y_true[..., 3:5], y_true[..., 5:6]
        p = tf.clip_by_value(y_pred[..., 0:1], 1e-4, 1.0 - 1e-4)
        pos = tf.cast(heat_t >= 0.999, tf.float32)
        pos_loss = tf.math.log(p) * tf.square(1.0 - p) * pos
        neg_loss = tf.math.log(1.0 - p) * tf.square(p) * tf.pow(1.0 - heat_t, 4.0) * (1.0 - pos)
        num = tf.maximum(tf.reduce_sum(mask), 1.0)
        focal = -(tf.reduce_sum(pos_loss) + tf.reduce_sum(neg_loss)) / tf.maximum(tf.reduce_sum(pos), 1.0)
        size_l1 = tf.reduce_sum(tf.abs(y_pred[..., 1:3] - size_t) * mask) / num
        off_l1 = tf.reduce_sum(tf.abs(y_pred[..., 3:5] - off_t) * mask) / num
        return focal + SIZE_WEIGHT * size_l1 + OFFSET_WEIGHT * off_l1

    return loss


class Detection(BuildTask):
    name = "detection"
    head = "centernet"
    layout = "pts300w"
    crops = ("letterbox",)
    operating_point_fields = ("score_threshold_by_variant",)

    def check_recipe(self, recipe, file):
        super().check_recipe(recipe, file)
        a = recipe.training.augmentation
        for key in ("close_up", "half_face", "background", "mosaic"):
            if not 0.0 <= getattr(a, key) <= 1.0:
                raise RecipeError(f"{file}: training.augmentation.{key} is a probability: give a value in [0, 1], "
                                  f"got {getattr(a, key)}")
        if a.close_up_max < 1.0:
            raise RecipeError(f"{file}: training.augmentation.close_up_max is the largest face box in frames "
                              f"(a close-up overflows the frame): give a value >= 1, got {a.close_up_max}")
        if not 0.0 <= recipe.head.containment_threshold <= 1.0:
            raise RecipeError(f"{file}: head.containment_threshold is the share of the smaller of two boxes lying "
                              "inside the better one at which NMS drops it: give a value in (0, 1], or 0 for NMS "
                              f"by IoU only, got {recipe.head.containment_threshold}")
        if not 0.0 <= a.rotation <= 90.0:
            raise RecipeError(f"{file}: training.augmentation.rotation is the largest in-plane tilt in degrees: "
                              f"give a value in [0, 90], got {a.rotation}")

    def load_splits(self, recipe: "Recipe", root: Path, limit: int | None = None) -> Splits:
        d, spec = recipe.data, recipe.input_spec
        train, val = split_pairs(recipe, root, limit)
        return Splits(letterboxed_photos(train, spec, d.box_margin), letterboxed_photos(val, spec, d.box_margin), [])

    def n_outputs(self, labels: list[str]) -> int:
        return len(CHANNELS)

    def build_head(self, recipe, backbone, n_outputs):
        from ..centernet import build_centernet

        return build_centernet(recipe, backbone)

    def datasets(self, recipe, splits):
        from ..dataset import make_sample_dataset
        from ..detection_augment import augment_sample, face_close_ups
        from ..detection_targets import TARGET_CHANNELS, make_targets

        spec, size, stride = recipe.input_spec, recipe.input.size, recipe.head.stride
        cfg, batch, seed = recipe.training.augmentation, recipe.training.batch, recipe.data.seed
        target_shape = (grid_size(recipe), grid_size(recipe), TARGET_CHANNELS)
        # Close-up views are cut from sharper face crops of the same photos (one more read of each).
        close_ups = (face_close_ups([(Path(n), Path(n).with_suffix(".pts")) for n in splits.train.names],
                                    spec, recipe.data.box_margin) if cfg.close_up else None)

        def pipeline(examples: Examples, augment: bool):
            rng = np.random.default_rng(seed)

            def sample(i: int):
                if augment:
                    pixels, boxes = augment_sample(examples, i, rng, cfg, size, close_ups)
                else:
                    pixels, boxes = examples.x[i], examples.y[i][None]
                return pixels, make_targets(boxes, size, stride)

            return make_sample_dataset(examples, spec, batch, sample, target_shape, shuffle=augment, seed=seed)

        return pipeline(splits.train, True), pipeline(splits.val, False)

    def loss(self, recipe):
        return centernet_loss(recipe), []

    def decode(self, outputs: np.ndarray, recipe: "Recipe", score_threshold: float = SCORE_THRESHOLD
               ) -> list[list[Box]]:
        """Flat model outputs (N, G·G·5) → face boxes per image in input pixels.

        The runtime's decoder at `score_threshold`, as `FaceDetector` runs it on a phone:
        boxes clipped to the input, slivers dropped, at most MAX_FACES.
        """
        g, s, output = grid_size(recipe), recipe.input.size, self.output(recipe)
        decoder = HeatmapDecoder(output, {"packed": 0}, (s, s), score_threshold, IOU_THRESHOLD, MAX_FACES,
                                 output.get("containment_threshold"))
        same = Placement((0.0, 0.0), (1.0, 1.0))
        return [decoder.to_image(decoder.boxes([o]), same, (s, s))
                for o in np.asarray(outputs, np.float32).reshape(-1, g, g, len(CHANNELS))]

    def _extents(self, boxes: list[list[Box]], examples: Examples, recipe: "Recipe"):
        """(found, truth) per photo as landmark extents (the training margin removed)."""
        s, spec = recipe.input.size, self.output(recipe)
        found = [[self.runtime.to_extent(b, spec) for b in per_photo] for per_photo in boxes]
        truth = [[self.runtime.to_extent(Box(*(gt * s)), spec)] for gt in examples.y]
        return found, truth

    def metrics(self, outputs, val, recipe, reference=None, score_threshold: float = SCORE_THRESHOLD):
        """Detections and annotated faces both as landmark extents (the training margin removed)."""
        r = match_detections(*self._extents(self.decode(outputs, recipe, score_threshold), val, recipe), IOU_MATCH)
        return {
            "n": r["n"],
            "recall": rounded(r["recall"], 4),
            "precision": rounded(r["precision"], 4),
            "false_boxes_per_image": rounded(r["false_boxes_per_image"], 4),
            "iou_threshold": IOU_MATCH,
            "score_threshold": float(score_threshold),
        }

    def variant_metrics(self, outputs, val, recipe, reference, output, variant):
        return self.metrics(outputs, val, recipe, reference, self.runtime.score_threshold(output, variant))

    def tuning_photos(self, recipe: "Recipe", train: Examples) -> Examples:
        """The training photos the operating points are chosen on: those from the folders the
        held-out split is drawn from (`data.val`; HELEN for the shipped detector, whose AFW
        group photos hold unannotated faces that would count as false boxes), else all."""
        folders = {Path(v).name for v in recipe.data.val}
        idx = np.array([i for i, name in enumerate(train.names) if Path(name).parent.name in folders], int)
        return train.take(idx) if len(idx) else train

    def threshold_curve(self, outputs: np.ndarray, examples: Examples, recipe: "Recipe") -> list[dict]:
        """Recall and false boxes per photo at every `THRESHOLD_GRID` threshold.

        Decoded once at the lowest threshold, then filtered by score: exact, because the
        heatmap's local maxima do not depend on the threshold and greedy NMS keeps a box
        or not by the boxes scoring above it only (and `max_boxes` keeps a score-ordered prefix).
        """
        found, truth = self._extents(self.decode(outputs, recipe, THRESHOLD_GRID[0]), examples, recipe)
        curve = []
        for t in THRESHOLD_GRID:
            r = match_detections([[b for b in f if b.score >= t] for f in found], truth, IOU_MATCH)
            curve.append({"score_threshold": t, "recall": rounded(r["recall"], 4),
                          "false_boxes_per_image": rounded(r["false_boxes_per_image"], 4)})
        return curve

    def operating_points(self, recipe, train, run):
        photos = self.tuning_photos(recipe, train)
        chosen = {v: choose_threshold(self.threshold_curve(out, photos, recipe)) for v, out in run(photos).items()}
        record = {"split": "train", "n": len(photos), "folders": sorted({Path(n).parent.name for n in photos.names}),
                  "rule": f"highest recall with at most {MAX_FALSE_BOXES} false boxes per photo, "
                          "then the highest such threshold",
                  **chosen}
        return {"score_threshold_by_variant": {v: p["score_threshold"] for v, p in chosen.items()}}, record

    def output(self, recipe):
        contained = recipe.head.containment_threshold
        return {
            "kind": "heatmap",
            **output_layout(recipe),
            "box_margin": recipe.data.box_margin,
            "box": "extent of the 68 landmarks grown by box_margin of its size on each side",
            "score_threshold": SCORE_THRESHOLD,
            "iou_threshold": IOU_THRESHOLD,
            **({"containment_threshold": contained} if contained else {}),
        }


def choose_threshold(curve: list[dict]) -> dict:
    """The operating point of one variant on its training-photo curve (`threshold_curve`):
    the highest recall with at most MAX_FALSE_BOXES false boxes per photo and, among
    thresholds with that recall, the highest (fewest false boxes). The 1.0 detector's 0.4
    was chosen by this rule. When no threshold keeps false boxes that low, the highest one.

        >>> choose_threshold([{"score_threshold": 0.3, "recall": 0.99, "false_boxes_per_image": 0.2},
        ...                   {"score_threshold": 0.35, "recall": 0.98, "false_boxes_per_image": 0.1},
        ...                   {"score_threshold": 0.4, "recall": 0.98, "false_boxes_per_image": 0.05}])
        {'score_threshold': 0.4, 'recall': 0.98, 'false_boxes_per_image': 0.05}
    """
    allowed = [p for p in curve if p["false_boxes_per_image"] is not None
               and p["false_boxes_per_image"] <= MAX_FALSE_BOXES]
    if not allowed:
        return dict(max(curve, key=lambda p: p["score_threshold"]))
    return dict(max(allowed, key=lambda p: (p["recall"] or 0.0, p["score_threshold"])))
