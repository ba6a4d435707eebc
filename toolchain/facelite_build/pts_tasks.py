"""300W folders (NAME.jpg + NAME.pts) → train/val examples for landmarks and detection.

The split is by file, seeded, and shared by both tasks: every subset in `data.train`
goes to training except the subsets also listed in `data.val`, of which a seeded
`data.val_fraction` of the sorted file list is held out (all of it when the fraction
is 0). With the shipped recipes (train = afw + helen_train, val = helen_train, 0.15,
seed 1234) the landmarker and the detector hold out exactly the same HELEN photos.

- landmarks: square face crops from the points' extent box (`input.crop = "face"`,
  `input.margin`), targets = 68 points in [0, 1] of the crop; training faces get
  `data.jitter` extra crops with the box shifted/scaled (an imperfect detector).
- detection: whole photos letterboxed to the input size (`input.crop = "letterbox"`),
  target = one box per photo, the points' extent grown by `data.box_margin` per side,
  as (x, y, w, h) fractions of the model input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facelite.errors import RecipeError
from facelite.preprocess import letterbox, to_color

from . import data as datamod
from .recipe import Recipe

Pair = tuple[Path, Path]


def split_pairs(recipe: Recipe, root: Path) -> tuple[list[Pair], list[Pair]]:
    """(train pairs, val pairs): deterministic for a given recipe seed, disjoint by file."""
    d = recipe.data
    subsets = list(dict.fromkeys(d.train + [s for s in d.val if s not in d.train]))
    train: list[Pair] = []
    val: list[Pair] = []
    for subset in subsets:
        pairs = datamod.list_pts_pairs(root, [subset])
        if subset not in d.val:
            train.extend(pairs)
            continue
        if d.val_fraction > 0:
            tr, va = datamod.split_indices(len(pairs), d.val_fraction, d.seed)
        else:
            tr, va = np.array([], int), np.arange(len(pairs))
        if subset in d.train:
            train.extend(pairs[i] for i in tr)
        val.extend(pairs[i] for i in va)
    if not val:
        raise RecipeError(f"{recipe.source}: data.val names no 300W subset to validate on")
    return train, val


def _limit(pairs: list[Pair], limit: int | None, seed: int) -> list[Pair]:
    if not limit or limit >= len(pairs):
        return pairs
    order = np.random.default_rng(seed).permutation(len(pairs))[:limit]
    return [pairs[i] for i in sorted(order)]


def load_detection_photos(pairs: list[Pair], recipe: Recipe) -> datamod.Examples:
    """Letterboxed photos (N, S, S, C) uint8 and boxes (N, 4) as input fractions (x, y, w, h)."""
    spec = recipe.input_spec
    xs, ys, names = [], [], []
    for image_path, pts_path in pairs:
        image = datamod.read_image(image_path, spec.color)
        points = datamod.read_pts(pts_path)
        canvas, (scale, px, py) = letterbox(to_color(image, spec.color), spec.height, spec.width, spec.resize)
        x, y, w, h = datamod.extent_box(points, recipe.data.box_margin)
        box = np.array([(x * scale + px) / spec.width, (y * scale + py) / spec.height,
                        w * scale / spec.width, h * scale / spec.height], np.float32)
        xs.append(canvas)
        ys.append(box)
        names.append(str(image_path))
    return datamod.Examples(np.stack(xs), np.stack(ys), names)


def load_pts_splits(recipe: Recipe, root: Path, limit: int | None = None):
    """(train Examples, val Examples) for a landmarks or detection recipe."""
    train_pairs, val_pairs = split_pairs(recipe, root)
    train_pairs = _limit(train_pairs, limit, recipe.data.seed)
    if limit:
        val_pairs = _limit(val_pairs, max(limit // 4, 50), recipe.data.seed)
    if recipe.task == "landmarks":
        spec = recipe.input_spec
        if spec.crop != "face":
            raise RecipeError(f"{recipe.source}: a landmarks recipe needs input.crop = \"face\"")
        train = datamod.load_landmark_crops(train_pairs, spec, jitter=recipe.data.jitter, seed=recipe.data.seed)
        val = datamod.load_landmark_crops(val_pairs, spec, jitter=0)
        return train, val
    if recipe.task == "detection":
        if recipe.input.crop != "letterbox":
            raise RecipeError(f"{recipe.source}: a detection recipe needs input.crop = \"letterbox\"")
        return load_detection_photos(train_pairs, recipe), load_detection_photos(val_pairs, recipe)
    raise RecipeError(f"{recipe.source}: task '{recipe.task}' does not read 300W folders")
