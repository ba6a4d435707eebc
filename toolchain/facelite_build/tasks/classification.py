"""Classification: a labelled image folder → a softmax over the recipe's labels.

Data: `data.layout = "image_folder"`, one `<split>/<label>/` folder per label
(`facelite.datasets.labelled_images`); validation is the `data.val` folders, else a
seeded `data.val_fraction` of the training images; a validation image with an exact or
near copy in training (`splits.duplicates_across`) is dropped from a `data.val` folder, or
moved to training in a seeded split. `data.layout = "face_patches"` reads
the same folders of face photos and trains on each face's skin crop and patches
(`facelite_build.face_patches`, the acne model). Targets are class indices, one-hot
(with `training.label_smoothing`) for the cross-entropy loss; `training.class_weights`
can weight rare classes up. The manifest's metrics per variant: accuracy on the
validation split, and against the fp32 variant top-1 agreement and PSNR.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facelite.metrics import accuracy, psnr_db, top1_agreement
from facelite.preprocess import CROPS

from ..data import Examples, Splits, load_image_folder
from ..splits import duplicates_across, split_indices
from .base import BuildTask, rounded

if TYPE_CHECKING:
    from ..recipe import Recipe


class Classification(BuildTask):
    name = "classification"
    head = "classifier"
    layout = "image_folder"
    other_layouts = ("face_patches",)
    crops = CROPS  # a face crop needs a box; without one the whole image is used

    def load_splits(self, recipe: "Recipe", root: Path, limit: int | None = None) -> Splits:
        if recipe.data.layout == "face_patches":
            from ..face_patches import load_splits

            return load_splits(recipe, root, limit)
        d, spec = recipe.data, recipe.input_spec
        labels = d.labels or None
        train_parts = []
        for split in d.train:
            labels, part = load_image_folder(root / split, labels, spec, limit, d.seed)
            train_parts.append(part)
        train = Examples.concat(train_parts)
        if d.val:
            val_limit = max(limit // 4, 200) if limit else None
            val = Examples.concat([load_image_folder(root / s, labels, spec, val_limit, d.seed)[1] for s in d.val])
        else:
            tr, va = split_indices(len(train), d.val_fraction, d.seed)
            train, val = train.take(tr), train.take(va)
        # a validation image with a copy in training: dropped from a fixed val folder, else moved to training
        copies, report = duplicates_across(train.names, val.names)
        rest = np.array([i for i in range(len(val)) if i not in set(copies)], int)
        if d.val:
            report.dropped = len(copies)
        else:
            report.moved = len(copies)
            train = Examples.concat([train, val.take(np.array(copies, int))])
        val = val.take(rest)
        return Splits(train, val, list(labels), {"duplicates": report.to_json()})

    def n_outputs(self, labels: list[str]) -> int:
        return len(labels)

    def build_head(self, recipe, backbone, n_outputs):
        from ..model import dense_head

        return dense_head(recipe, backbone, n_outputs, "softmax", "probabilities")

    def datasets(self, recipe, splits):
        import tensorflow as tf

        from ..dataset import make_dataset

        n = len(splits.labels)
        spec, batch = recipe.input_spec, recipe.training.batch

        def one_hot(y):
            return tf.one_hot(y, n)

        train = make_dataset(splits.train, spec, batch, encode=one_hot, augmentation=recipe.training.augmentation,
                             shuffle=True, seed=recipe.data.seed)
        return train, make_dataset(splits.val, spec, batch, encode=one_hot)

    def loss(self, recipe):
        import tf_keras as keras

        loss = keras.losses.CategoricalCrossentropy(label_smoothing=recipe.training.label_smoothing)
        return loss, [keras.metrics.CategoricalAccuracy(name="accuracy")]

    def class_weights(self, recipe, splits):
        """`balanced`: n / (k · count); `sqrt`: its square root (gentler on rare classes); `none`."""
        mode, k, y = recipe.training.class_weights, len(splits.labels), splits.train.y
        if mode == "none":
            return None
        counts = np.bincount(y, minlength=k).astype(np.float64)
        w = len(y) / (k * np.maximum(counts, 1))
        if mode == "sqrt":
            w = np.sqrt(w)
        return {i: float(v) for i, v in enumerate(w)}

    def metrics(self, outputs, val, recipe, reference=None):
        out = {"n": int(len(val)), "accuracy": rounded(accuracy(val.y, outputs.argmax(1)), 4)}
        if reference is not None:
            out["agreement_vs_fp32"] = rounded(top1_agreement(outputs, reference), 4)
            out["psnr_db"] = psnr_db(outputs, reference)
        return out

    def output(self, recipe):
        return {"kind": "probabilities"}  # the head ends in a softmax

