"""Detection: 300W photos → a one-class CenterNet face detector on the letterboxed photo.

Data: `data.layout = "pts300w"`, the same seeded split as the landmarker
(`splits.split_pairs`). Each photo is letterboxed as the runtime letterboxes it
(`facelite.preprocess.prepare_pixels`, `input.crop = "letterbox"`); its face box is the
points' extent grown by `data.box_margin` per side, mapped into the model input with
`Placement.to_input` and kept as (x, y, w, h) fractions of the input.

Training samples are augmented one by one (`detection_augment`) and turned into heatmap
targets (`detection_targets`); the model is `centernet`. Loss: penalty-reduced focal loss
on the heatmap (CenterNet, α=2, β=4) + L1 on size and offset at face centres.

Manifest metrics: outputs decoded by the runtime's decoder (`facelite.detection`) at the
operating point written to the manifest, the margin taken off again, and matched against
the points' extent boxes at IoU ≥ 0.5 (`facelite.metrics.match_detections`), as
`facelite evaluate` scores a detector.
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
from ..splits import split_pairs
from .base import BuildTask, rounded

if TYPE_CHECKING:
    from ..recipe import Recipe

# Operating point written to the manifest (`output.score_threshold`), which the runtime's
# FaceDetector uses by default. Chosen on the HELEN photos of the TRAINING split (740, not
# the held-out val): the highest recall with <= 0.1 false boxes/image, for fp32 and int8.
SCORE_THRESHOLD = 0.4
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
        from ..detection_augment import augment_sample
        from ..detection_targets import TARGET_CHANNELS, make_targets

        spec, size, stride = recipe.input_spec, recipe.input.size, recipe.head.stride
        cfg, batch, seed = recipe.training.augmentation, recipe.training.batch, recipe.data.seed
        target_shape = (grid_size(recipe), grid_size(recipe), TARGET_CHANNELS)

        def pipeline(examples: Examples, augment: bool):
            rng = np.random.default_rng(seed)

            def sample(i: int):
                if augment:
                    pixels, boxes = augment_sample(examples, i, rng, cfg, size)
                else:
                    pixels, boxes = examples.x[i], examples.y[i][None]
                return pixels, make_targets(boxes, size, stride)

            return make_sample_dataset(examples, spec, batch, sample, target_shape, shuffle=augment, seed=seed)

        return pipeline(splits.train, True), pipeline(splits.val, False)

    def loss(self, recipe):
        return centernet_loss(recipe), []

    def decode(self, outputs: np.ndarray, recipe: "Recipe") -> list[list[Box]]:
        """Flat model outputs (N, G·G·5) → face boxes per image in input pixels.

        The runtime's decoder at the manifest's operating point, as `FaceDetector` runs
        it on a phone: boxes clipped to the input, slivers dropped, at most MAX_FACES.
        """
        g, s = grid_size(recipe), recipe.input.size
        decoder = HeatmapDecoder(self.output(recipe), {"packed": 0}, (s, s), SCORE_THRESHOLD, IOU_THRESHOLD,
                                 MAX_FACES)
        same = Placement((0.0, 0.0), (1.0, 1.0))
        return [decoder.to_image(decoder.boxes([o]), same, (s, s))
                for o in np.asarray(outputs, np.float32).reshape(-1, g, g, len(CHANNELS))]

    def metrics(self, outputs, val, recipe, reference=None):
        """Detections and annotated faces both as landmark extents (the training margin removed)."""
        s, spec = recipe.input.size, self.output(recipe)
        found = [[self.runtime.to_extent(b, spec) for b in boxes] for boxes in self.decode(outputs, recipe)]
        truth = [[self.runtime.to_extent(Box(*(gt * s)), spec)] for gt in val.y]
        r = match_detections(found, truth, IOU_MATCH)
        return {
            "n": r["n"],
            "recall": rounded(r["recall"], 4),
            "precision": rounded(r["precision"], 4),
            "false_boxes_per_image": rounded(r["false_boxes_per_image"], 4),
            "iou_threshold": IOU_MATCH,
        }

    def output(self, recipe):
        return {
            "kind": "heatmap",
            **output_layout(recipe),
            "box_margin": recipe.data.box_margin,
            "box": "extent of the 68 landmarks grown by box_margin of its size on each side",
            "score_threshold": SCORE_THRESHOLD,
            "iou_threshold": IOU_THRESHOLD,
        }
