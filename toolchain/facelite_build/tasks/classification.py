"""Classification: a labelled image folder → a softmax over the recipe's labels.

Data: `data.layout = "image_folder"`, one `<split>/<label>/` folder per label
(`facelite.datasets.labelled_images`); validation is the `data.val` folders, else a
seeded `data.val_fraction` of the training images; a validation image with an exact or
near copy in training (`splits.duplicates_across`, the rule `data.duplicates` names) is
dropped from a `data.val` folder, or moved to training in a seeded split. With `data.votes` (a FER+ vote file under the data
folder) the labels are the eight FER+ emotions and the targets come from each image's
crowd votes, not its folder (`facelite_build.vote_targets`: `data.targets` = majority,
probability or cross_entropy, as in the FER+ paper; validation scored with the FER+
majority rule). Ordered folder labels (grades) can train on `data.targets =
"label_distribution"`: a Gaussian over the labels with SD `data.target_sigma`
(`vote_targets.label_distribution`, ACNE04's label-distribution learning), through the
same soft-target path as the vote distributions. `data.layout = "face_patches"` reads
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

from facelite.datasets import FERPLUS_EMOTIONS, read_ferplus_votes
from facelite.metrics import accuracy, psnr_db, top1_agreement
from facelite.preprocess import CROPS

from ..data import Examples, Splits, load_image_folder
from ..errors import RecipeError
from ..splits import duplicates_across, near_switch, split_indices
from ..vote_targets import LABEL_DISTRIBUTION, distribution_splits, vote_splits, with_votes
from .base import BuildTask, rounded

if TYPE_CHECKING:
    from ..recipe import Recipe


class Classification(BuildTask):
    name = "classification"
    test_time_flip = True
    grade_decision = True
    head = "classifier"
    layout = "image_folder"
    other_layouts = ("face_patches",)
    crops = CROPS  # a face crop needs a box; without one the whole image is used

    def load_splits(self, recipe: "Recipe", root: Path, limit: int | None = None) -> Splits:
        if recipe.data.layout == "face_patches":
            from ..face_patches import load_splits

            splits = load_splits(recipe, root, limit)
        else:
            splits = self._folder_splits(recipe, root, limit)
        if recipe.data.targets == LABEL_DISTRIBUTION:
            train, splits.info["targets"] = distribution_splits(splits.train, len(splits.labels),
                                                                recipe.data.target_sigma)
            splits = Splits(train, splits.val, splits.labels, splits.info)
        return splits

    def _folder_splits(self, recipe: "Recipe", root: Path, limit: int | None) -> Splits:
        """The image_folder layout: folder labels, or FER+ vote targets with `data.votes`."""
        d, spec = recipe.data, recipe.input_spec
        votes = read_ferplus_votes(root / d.votes) if d.votes else None
        labels = d.labels or None
        no_votes = 0

        def read(split: str, n: int | None) -> Examples:
            nonlocal labels, no_votes
            if votes is None:
                labels, part = load_image_folder(root / split, labels, spec, n, d.seed)
                return part
            part, missing = with_votes(load_image_folder(root / split, None, spec, n, d.seed)[1], root / split, votes)
            no_votes += missing
            return part

        train = Examples.concat([read(split, limit) for split in d.train])
        if d.val:
            val_limit = max(limit // 4, 200) if limit else None
            val = Examples.concat([read(s, val_limit) for s in d.val])
        else:
            tr, va = split_indices(len(train), d.val_fraction, d.seed)
            train, val = train.take(tr), train.take(va)
        # a validation image with a copy in training: dropped from a fixed val folder, else moved to training
        copies, report = duplicates_across(train.names, val.names, near_switch(recipe))  # data.duplicates
        rest = np.array([i for i in range(len(val)) if i not in set(copies)], int)
        if d.val:
            report.dropped = len(copies)
        else:
            report.moved = len(copies)
            train = Examples.concat([train, val.take(np.array(copies, int))])
        val = val.take(rest)
        info = {"duplicates": report.to_json()}
        if votes is not None:
            train, val, info["votes"] = vote_splits(train, val, d.targets)
            info["votes"].update(file=str(votes.path), images_without_votes=no_votes)
            labels = FERPLUS_EMOTIONS
        return Splits(train, val, list(labels), info)

    def check_recipe(self, recipe, file):
        super().check_recipe(recipe, file)
        d = recipe.data
        if d.votes and d.labels and tuple(d.labels) != FERPLUS_EMOTIONS:
            raise RecipeError(f"{file}: with data.votes the labels are the FER+ emotions in vote-file order; "
                              f"set data.labels = {list(FERPLUS_EMOTIONS)} or leave it out")
        if d.votes and d.layout != "image_folder":
            raise RecipeError(f"{file}: data.votes needs data.layout = \"image_folder\"")
        if d.whole_view_repeat < 1 or (d.whole_view_repeat != 1 and d.layout != "face_patches"):
            raise RecipeError(f"{file}: data.whole_view_repeat is {d.whole_view_repeat}; it counts the training "
                              "copies of a face's whole crop in the face_patches layout (1 or more)")
        if d.targets == LABEL_DISTRIBUTION:
            if d.votes:
                raise RecipeError(f"{file}: data.targets = \"{LABEL_DISTRIBUTION}\" spreads folder labels over "
                                  "ordered grades; with data.votes use majority, probability or cross_entropy")
            if not d.target_sigma > 0:
                raise RecipeError(f"{file}: data.targets = \"{LABEL_DISTRIBUTION}\" needs data.target_sigma, "
                                  "the Gaussian's SD in grades (> 0, e.g. 0.6)")
        elif d.target_sigma:
            raise RecipeError(f"{file}: data.target_sigma is only read with data.targets = \"{LABEL_DISTRIBUTION}\" "
                              f"(targets is '{d.targets}'); remove it or set the targets")

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

        def draw(p):  # FER+ probabilistic label drawing: a one-hot label drawn from each image's votes
            return tf.one_hot(tf.random.categorical(tf.math.log(p), 1)[:, 0], n)

        encode = one_hot
        if splits.train.y.ndim == 2:  # vote or label-distribution targets (one-hot for `majority`)
            encode = draw if recipe.data.targets == "probability" else None
        train = make_dataset(splits.train, spec, batch, encode=encode, augmentation=recipe.training.augmentation,
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
        if y.ndim == 2:  # soft targets: count each example under its leading label
            y = y.argmax(1)
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
        out = {"kind": "probabilities"}  # the head ends in a softmax
        if recipe.head.test_time_flip:  # every reader averages each crop's scores with its mirror's
            out["test_time_flip"] = True
        if recipe.head.grade_decision != "argmax":  # absent: argmax, so older bundles keep their bytes
            out["grade_decision"] = recipe.head.grade_decision
        return out

