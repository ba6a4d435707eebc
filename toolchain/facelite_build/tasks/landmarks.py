"""Landmarks: 300W photos → the iBUG points regressed from a square face crop.

Data: `data.layout = "pts300w"` (`NAME.jpg` + `NAME.pts`), split by `splits.split_pairs`.
Each face is cut as the runtime cuts it: `facelite.preprocess.prepare_pixels(image,
spec, box)` with the points' extent as the box (`input.crop = "face"`, `input.margin`),
and its target is the points in the model input, as fractions of its width and height
(`Placement.to_input`). Training faces get `data.jitter` extra crops with the box
shifted and scaled a little, so the model tolerates an imperfect detector. Augmentation
moves the points with the pixels; a flip swaps left/right points by `IBUG_MIRROR`.

Loss (`training.loss.kind`): Huber on the flat coordinates (default) or wing loss
(`wing_loss`). Manifest metrics: mean NME (inter-ocular) on the
validation crops, and the largest coordinate change against the fp32 variant.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facelite.datasets import extent_box, read_pts
from facelite.image import load_image
from facelite.mean_shape import IBUG_MIRROR
from facelite.metrics import max_abs_err, per_face_nme
from facelite.preprocess import InputSpec, prepare_pixels
from facelite.tasks import POINTS

from ..data import Examples, Splits
from ..errors import RecipeError
from ..splits import split_pairs
from .base import BuildTask, rounded

if TYPE_CHECKING:
    from ..recipe import Recipe

JITTER_SHIFT = 0.08  # jittered boxes move by up to this fraction of the box per axis ...
JITTER_SCALE = 0.10  # ... and are scaled by up to ±this
HUBER_DELTA = 0.02  # in input fractions: about 2 px of a 112 px crop


def face_crops(pairs: list[tuple[Path, Path]], spec: InputSpec, jitter: int = 0, seed: int = 0) -> Examples:
    """Face crops (N, H, W, C) uint8 and their points (N, P, 2) as fractions of the input.

    The box is the points' extent (`facelite.datasets.extent_box`), the box the runtime's
    evaluator uses too; `jitter` > 0 adds that many crops per face around a shifted and
    scaled box.
    """
    rng = np.random.default_rng(seed)
    size = np.array([spec.width, spec.height], np.float32)
    xs, ys, names = [], [], []
    for image_path, pts_path in pairs:
        image = load_image(image_path)
        points = read_pts(pts_path)
        box = extent_box(points)
        boxes = [box]
        for _ in range(jitter):
            x, y, w, h = box
            s = 1.0 + rng.uniform(-JITTER_SCALE, JITTER_SCALE)
            boxes.append((x + rng.uniform(-JITTER_SHIFT, JITTER_SHIFT) * w,
                          y + rng.uniform(-JITTER_SHIFT, JITTER_SHIFT) * h, w * s, h * s))
        for b in boxes:
            pixels, placement = prepare_pixels(image, spec, b)
            xs.append(pixels)
            ys.append(placement.to_input(points) / size)
            names.append(str(image_path))
    return Examples(np.stack(xs), np.stack(ys).astype(np.float32), names)


def wing_loss(width: float, curvature: float):
    """Wing loss (Feng et al. 2018) on coordinates, averaged like Keras' own losses.

    `width * log(1 + |e| / curvature)` for |e| < width, `|e| - C` beyond (C makes the two
    pieces meet): the gradient grows towards small errors instead of fading as with L2
    or staying flat as with L1, so training keeps refining points that are already
    nearly right, which is where most of the NME of a regression head is.
    """
    import tensorflow as tf

    join = width - width * math.log1p(width / curvature)

    def wing(y_true, y_pred):
        error = tf.abs(y_true - y_pred)
        return tf.reduce_mean(tf.where(error < width, width * tf.math.log1p(error / curvature), error - join), axis=-1)

    return wing


class Landmarks(BuildTask):
    name = "landmarks"
    head = "points"
    layout = "pts300w"
    crops = ("face",)

    points = POINTS  # the runtime's count; IBUG_MIRROR permutes exactly these
    losses = ("huber", "wing")

    def check_recipe(self, recipe, file):
        super().check_recipe(recipe, file)
        loss = recipe.training.loss
        if loss.kind == "wing" and not (loss.width > 0 and loss.curvature > 0):
            raise RecipeError(
                f"{file}: training.loss width and curvature must be > 0 for the wing loss "
                f"(got {loss.width}, {loss.curvature}; e.g. 0.08 and 0.016, in input fractions)"
            )

    def load_splits(self, recipe: "Recipe", root: Path, limit: int | None = None) -> Splits:
        d, spec = recipe.data, recipe.input_spec
        train, val = split_pairs(recipe, root, limit)
        return Splits(face_crops(train, spec, jitter=d.jitter, seed=d.seed), face_crops(val, spec), [])

    def n_outputs(self, labels: list[str]) -> int:
        return 2 * self.points

    def build_head(self, recipe, backbone, n_outputs):
        from ..model import dense_head

        return dense_head(recipe, backbone, n_outputs, None, "points")

    def datasets(self, recipe, splits):
        import tensorflow as tf

        from ..dataset import make_dataset

        spec, batch, width = recipe.input_spec, recipe.training.batch, self.n_outputs([])

        def flat(points):
            return tf.reshape(points, [-1, width])

        train = make_dataset(splits.train, spec, batch, encode=flat, augmentation=recipe.training.augmentation,
                             mirror=IBUG_MIRROR, shuffle=True, seed=recipe.data.seed)
        return train, make_dataset(splits.val, spec, batch, encode=flat)

    def loss(self, recipe):
        import tf_keras as keras

        loss = recipe.training.loss
        chosen = wing_loss(loss.width, loss.curvature) if loss.kind == "wing" else keras.losses.Huber(delta=HUBER_DELTA)
        return chosen, [keras.metrics.MeanAbsoluteError(name="mae")]

    def metrics(self, outputs, val, recipe, reference=None):
        pred = self.runtime.points(outputs)
        out = {"n": int(len(val)), "nme": rounded(per_face_nme(pred, val.y).mean(), 5)}
        if reference is not None:
            out["max_abs_err_vs_fp32"] = rounded(max_abs_err(outputs, reference), 5)
        return out

    def output(self, recipe):
        return {"kind": "points", "points": self.points, "normalized": True}
