"""The tensor a model trains and validates on is, bit for bit, the tensor the runtime feeds it.

For every shipped recipe, a few real files go through the toolchain's own input pipeline
for that task — its loader (`BuildTask.load_splits`'s functions) and its real tf.data
pipeline (`BuildTask.datasets`, the validation one: augmentation off) — and each tensor
the model would receive must equal `facelite.preprocess.prepare` on the same file (with
the same face box for `crop = "face"`), compared with `np.array_equal` on float32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facelite.datasets import extent_box, read_pts
from facelite.preprocess import prepare
from facelite_build.data import Examples, Splits, load_image_folder
from facelite_build.paths import CHECKOUT, data_root
from facelite_build.recipe import load_recipe
from facelite_build.splits import split_pairs
from facelite_build.tasks import get_task
from facelite_build.tasks.detection import letterboxed_photos
from facelite_build.tasks.landmarks import face_crops

FILES = 6  # real files per recipe


def _recipe(name: str):
    recipe = load_recipe(CHECKOUT / "models" / name / "recipe.toml")
    root = recipe.data_dir()
    if not root.is_dir():
        pytest.skip(f"{name}: its data folder {root} is absent (shared data not found under {data_root()}; "
                    "set FACELITE_DATA)")
    return recipe, root


def _model_inputs(recipe, splits: Splits) -> np.ndarray:
    """Every tensor the validation tf.data pipeline of the recipe's task yields, in order."""
    _, val_ds = get_task(recipe.task).datasets(recipe, splits)
    return np.concatenate([x.numpy() for x, _ in val_ds])


def _assert_bit_exact(inputs: np.ndarray, expected: list[np.ndarray]) -> None:
    assert inputs.dtype == np.float32 and len(inputs) == len(expected) > 0
    for i, (got, want) in enumerate(zip(inputs, expected)):
        assert want.dtype == np.float32 and got.shape == want.shape
        assert np.array_equal(got, want), f"sample {i}: max |diff| {np.abs(got - want).max()}"


@pytest.mark.parametrize("name", ["expression", "acne"])
def test_classification_pipeline_feeds_the_runtime_prepare_tensor(name):
    recipe, root = _recipe(name)
    spec, d = recipe.input_spec, recipe.data
    folder = root / (d.val[0] if d.val else d.train[0])
    labels, val = load_image_folder(folder, d.labels, spec, limit=FILES, seed=d.seed, progress=False)
    inputs = _model_inputs(recipe, Splits(val, val, labels))
    _assert_bit_exact(inputs, [prepare(Path(n), spec) for n in val.names])


def _pts_val_pairs(recipe, root):
    _, val = split_pairs(recipe, root)
    return val[:FILES]


def test_landmarks_pipeline_feeds_the_runtime_prepare_tensor_for_the_same_face_box():
    recipe, root = _recipe("landmarks")
    spec, pairs = recipe.input_spec, _pts_val_pairs(recipe, root)
    val = face_crops(pairs, spec)
    inputs = _model_inputs(recipe, Splits(val, val, []))
    _assert_bit_exact(inputs, [prepare(img, spec, box=extent_box(read_pts(pts))) for img, pts in pairs])


def test_face_detector_pipeline_feeds_the_runtime_prepare_tensor():
    recipe, root = _recipe("face_detector")
    spec, pairs = recipe.input_spec, _pts_val_pairs(recipe, root)
    val = letterboxed_photos(pairs, spec, recipe.data.box_margin)
    inputs = _model_inputs(recipe, Splits(val, val, []))
    _assert_bit_exact(inputs, [prepare(img, spec) for img, _ in pairs])


def test_calibration_and_golden_inputs_are_the_runtime_normalisation_of_the_stored_pixels():
    from facelite.preprocess import normalize
    from facelite_build.dataset import normalized

    rng = np.random.default_rng(0)
    ex = Examples(rng.integers(0, 256, (5, 8, 8, 3), dtype=np.uint8), np.zeros(5), ["x"] * 5)
    recipe = load_recipe(CHECKOUT / "models" / "expression" / "recipe.toml")
    x = normalized(ex, recipe.input_spec)
    assert x.dtype == np.float32
    assert all(np.array_equal(a, normalize(p, recipe.input_spec)) for a, p in zip(x, ex.x))
