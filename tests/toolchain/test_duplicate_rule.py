"""`data.duplicates` (near | exact | none): parsed and checked like every recipe choice,
overridable with `--set`, and the rule the splits use: a held-out near copy of a training
image goes only under "near", an identical file under "near" and "exact", neither under
"none". Each shipped recipe names the rule its bundle was built with, so it resolves to
the validation split the bundle was measured on."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import facelite_build  # noqa: F401  (sets TF_USE_LEGACY_KERAS before anything imports TF)
from facelite.bundle import Bundle
from facelite_build.builder import BuildOptions, load_splits
from facelite_build.errors import RecipeError
from facelite_build.paths import CHECKOUT, data_root
from facelite_build.recipe import load_recipe
from facelite_build.splits import split_files
from facelite_build.tasks import get_task

MODELS = CHECKOUT / "models"
RECIPE = """
name = "t"
version = "0"
task = "classification"
[data]
path = "{root}"
train = ["train"]
val = ["val"]
labels = ["a"]
{duplicates}
[input]
size = 32
"""


def _recipe(tmp_path: Path, root: Path, duplicates: str = "", overrides: tuple[str, ...] = ()):
    path = tmp_path / "recipe.toml"
    path.write_text(RECIPE.format(root=root, duplicates=duplicates))
    return load_recipe(path, list(overrides))


def _texture(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8), (0, 0), 3)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> Path:
    """train/a: six different pictures; val/a: a byte copy of the first, a brighter
    re-encoded copy of the second, and a picture of its own."""
    root = tmp_path_factory.mktemp("data")
    (root / "train" / "a").mkdir(parents=True)
    (root / "val" / "a").mkdir(parents=True)
    for i in range(6):
        cv2.imwrite(str(root / "train" / "a" / f"t{i}.png"), _texture(i))
    (root / "val" / "a" / "byte_copy.png").write_bytes((root / "train" / "a" / "t0.png").read_bytes())
    cv2.imwrite(str(root / "val" / "a" / "near_copy.jpg"), cv2.convertScaleAbs(_texture(1), alpha=1.1, beta=10),
                [cv2.IMWRITE_JPEG_QUALITY, 80])
    cv2.imwrite(str(root / "val" / "a" / "own.png"), _texture(99))
    return root


def test_duplicates_defaults_to_near_and_set_overrides_it(tmp_path, folders):
    assert _recipe(tmp_path, folders).data.duplicates == "near"
    assert _recipe(tmp_path, folders, 'duplicates = "none"').data.duplicates == "none"
    overridden = _recipe(tmp_path, folders, 'duplicates = "none"', ("data.duplicates=near",))
    assert overridden.data.duplicates == "near"
    assert overridden.sha256 != _recipe(tmp_path, folders, 'duplicates = "none"').sha256  # the override is traceable


def test_an_unknown_rule_names_the_key_and_the_choices(tmp_path, folders):
    with pytest.raises(RecipeError) as e:
        _recipe(tmp_path, folders, 'duplicates = "md5"')
    message = str(e.value)
    assert "'data.duplicates' is 'md5'" in message and "(one of: near, exact, none)" in message
    with pytest.raises(RecipeError, match="did you mean 'exact'"):
        _recipe(tmp_path, folders, overrides=("data.duplicates=exakt",))


@pytest.mark.parametrize("rule, held_out", [
    ("none", ["byte_copy.png", "near_copy.jpg", "own.png"]),
    ("exact", ["near_copy.jpg", "own.png"]),
    ("near", ["own.png"]),
])
def test_the_rule_decides_which_copies_of_training_images_leave_validation(tmp_path, folders, rule, held_out):
    recipe = _recipe(tmp_path, folders, f'duplicates = "{rule}"')
    _, val = split_files(recipe, recipe.data_dir())
    assert sorted(p.name for p in val) == held_out
    splits = get_task("classification").load_splits(recipe, recipe.data_dir())  # what a build trains on
    assert sorted(Path(n).name for n in splits.val.names) == held_out
    assert splits.info["duplicates"]["dropped"] == 3 - len(held_out)
    assert (splits.info["duplicates"]["rule"] == "none") == (rule == "none")


def test_the_build_data_report_records_the_rule(tmp_path, folders):
    recipe = _recipe(tmp_path, folders, 'duplicates = "exact"')
    assert load_splits(recipe, BuildOptions(out=tmp_path / "out")).info["duplicate_rule"] == "exact"


SHIPPED_RULES = {"acne": "near", "expression": "none", "landmarks": "near", "face_detector": "none",
                 "restoration": "none", "skin_metrics": "near"}
"""The rule each shipped bundle was built with (its report and val size say so; skin_metrics
has no training files, so no rule moves any)."""


@pytest.mark.parametrize("name", sorted(SHIPPED_RULES))
def test_each_shipped_recipe_names_the_rule_its_bundle_was_built_with(name):
    assert load_recipe(MODELS / name / "recipe.toml").data.duplicates == SHIPPED_RULES[name]
    assert load_recipe(MODELS / name / "recipe.toml", ["data.duplicates=near"]).data.duplicates == "near"


HELEN = data_root() / "landmarks300w" / "helen_train"


@pytest.mark.skipif(not HELEN.is_dir(), reason=f"300W data not found at {HELEN}")
@pytest.mark.parametrize("name", ["landmarks", "face_detector"])
def test_a_shipped_300w_recipe_resolves_to_the_validation_split_its_bundle_was_measured_on(name):
    recipe = load_recipe(MODELS / name / "recipe.toml")
    with Bundle.open(MODELS / name / f"{name}.flb") as b:
        measured_on = b.manifest["metrics"]["n"]
    held_out = {"none": 130, "exact": 130, "near": 129}[recipe.data.duplicates]  # "near" moves one burst shot
    assert len(split_files(recipe, recipe.data_dir())[1]) == measured_on == held_out
