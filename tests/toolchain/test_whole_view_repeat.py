"""`data.whole_view_repeat`: the face_patches layout repeats each training photo's whole
skin crop (the view that sees every lesion the grade counts), its patches once."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from facelite.acne import ACNE_PATCH_REGIONS, WHOLE_VIEW
from facelite.mean_shape import fit_to_box
from facelite_build.errors import RecipeError
from facelite_build.face_patches import FaceGeometry, load_examples
from facelite_build.recipe import load_recipe

RECIPE = Path(__file__).resolve().parents[2] / "models" / "acne" / "recipe.toml"


def test_the_whole_crop_is_repeated_and_the_patches_are_not(tmp_path):
    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), np.random.default_rng(0).integers(0, 255, (320, 320, 3), np.uint8))
    face = FaceGeometry((80.0, 70.0, 160.0, 190.0), 0.9, fit_to_box((80, 70, 160, 190)))
    spec = load_recipe(RECIPE).input_spec
    once = load_examples([(photo, 2)], {photo: face}, spec)
    thrice = load_examples([(photo, 2)], {photo: face}, spec, whole_repeat=3)
    views = [n.split("#")[1] for n in thrice.names]
    assert views == [WHOLE_VIEW] * 3 + list(ACNE_PATCH_REGIONS)
    assert len(once) == len(ACNE_PATCH_REGIONS) + 1 and set(thrice.y.tolist()) == {2}
    assert all(np.array_equal(thrice.x[i], once.x[0]) for i in range(3))


@pytest.mark.parametrize("change, message", [
    ("data.whole_view_repeat=0", "data.whole_view_repeat is 0"),
    ("data.layout='image_folder'", "in the face_patches layout"),
])
def test_a_repeat_outside_face_patches_or_below_one_is_refused(change, message):
    with pytest.raises(RecipeError, match=re.escape(message)):
        load_recipe(RECIPE, ["data.whole_view_repeat=2", change] if "layout" in change else [change])
