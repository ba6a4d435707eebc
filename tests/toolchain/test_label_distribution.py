"""Label-distribution targets (`data.targets = "label_distribution"`, ACNE04's LDL): a
Gaussian over ordered grades around each folder label, through the soft-target path the
FER+ vote distributions take, and the recipe checks that keep the two apart."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from facelite_build.errors import RecipeError
from facelite_build.recipe import load_recipe
from facelite_build.tasks import get_task
from facelite_build.vote_targets import label_distribution


def test_each_label_becomes_a_gaussian_over_the_grades_centred_on_it():
    d = label_distribution(np.array([0, 1, 2]), 3, 0.6)
    assert d.dtype == np.float32 and np.allclose(d.sum(1), 1.0)
    assert d.argmax(1).tolist() == [0, 1, 2]
    assert d[1, 0] == pytest.approx(d[1, 2])  # the middle grade spreads evenly to both neighbours
    assert d[0, 1] > d[0, 2] > 0  # a far grade gets less than a neighbour, never nothing
    assert d[0].tolist() == d[2, ::-1].tolist()
    wider = label_distribution(np.array([1]), 3, 1.0)
    assert wider[0, 1] < d[1, 1]  # a larger SD spreads more of the target


def test_a_non_positive_sigma_is_refused():
    with pytest.raises(RecipeError, match="target_sigma is 0"):
        label_distribution(np.array([0]), 3, 0.0)


def _recipe(tmp_path: Path, folder: Path, data_lines: str) -> Path:
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'name = "t"\nversion = "0"\ntask = "classification"\n'
                      f'[data]\npath = "{folder}"\nval = ["val"]\n{data_lines}\n'
                      f'[input]\nsize = 32\ncolor = "gray_as_rgb"\n')
    return recipe


def test_recipe_trains_on_label_distributions_and_validates_on_folder_labels(tmp_path, image_folder):
    recipe = load_recipe(_recipe(tmp_path, image_folder, 'targets = "label_distribution"\ntarget_sigma = 0.6'))
    task = get_task("classification")
    splits = task.load_splits(recipe, recipe.data_dir())
    assert splits.labels == ["left", "middle", "right"]
    assert splits.train.y.shape == (72, 3) and splits.val.y.dtype == np.int32
    assert np.allclose(splits.train.y, label_distribution(splits.train.y.argmax(1), 3, 0.6))
    assert splits.info["targets"]["sigma"] == 0.6
    train, _ = task.datasets(recipe, splits)
    _, y = next(iter(train))
    peaks = {round(float(v), 3) for v in y.numpy().max(1)}
    assert peaks <= {0.798, 0.667}  # soft targets (the end and middle grades' peaks), not drawn one-hot labels


@pytest.mark.parametrize("lines, message", [
    ('targets = "label_distribution"', "needs data.target_sigma"),
    ('targets = "label_distribution"\ntarget_sigma = -1.0', "needs data.target_sigma"),
    ('target_sigma = 0.6', 'only read with data.targets = "label_distribution"'),
    ('votes = "votes.csv"\ntargets = "label_distribution"\ntarget_sigma = 0.6', "with data.votes use majority"),
])
def test_recipe_checks_name_the_fix(tmp_path, image_folder, lines, message):
    with pytest.raises(RecipeError, match=re.escape(message)):
        load_recipe(_recipe(tmp_path, image_folder, lines))
