"""`head.containment_threshold`: the recipe key behind a detection bundle's `output.containment_threshold`.

The package stage writes the manifest's `output` from the recipe (`Detection.output`), and
its own decoding (operating points on the training split, validation metrics) runs the
same NMS as the runtime (`Detection.decode` through `facelite.tasks.HeatmapDecoder`)."""

from __future__ import annotations

from pathlib import Path

import facelite_build  # noqa: F401  (sets TF_USE_LEGACY_KERAS before anything imports TF)
import numpy as np
import pytest
from facelite_build.centernet import CHANNELS, grid_size
from facelite_build.errors import RecipeError
from facelite_build.recipe import load_recipe
from facelite_build.tasks import get_task

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "models" / "face_detector" / "recipe.toml"


@pytest.mark.parametrize("value", ["-0.1", "1.5"])
def test_a_containment_threshold_outside_0_1_is_refused_naming_the_key(value):
    with pytest.raises(RecipeError, match=r"head\.containment_threshold .* give a value in \(0, 1\], or 0"):
        load_recipe(RECIPE, [f"head.containment_threshold={value}"])


def test_the_manifest_output_carries_the_key_and_omits_it_at_0():
    task = get_task("detection")
    assert task.output(load_recipe(RECIPE))["containment_threshold"] == 0.5
    assert "containment_threshold" not in task.output(load_recipe(RECIPE, ["head.containment_threshold=0"]))


def test_the_build_decodes_with_the_recipe_s_containment_rule():
    """A face peak and a weaker, small peak at its edge: one box with the rule, two without."""
    recipe = load_recipe(RECIPE)
    g = grid_size(recipe)
    out = np.zeros((g, g, len(CHANNELS)), np.float32)
    out[10, 10, :3], out[10, 10, 3:] = (0.9, 0.75, 0.75), 0.5    # a face over most of the input
    out[10, 3, :3], out[10, 3, 3:] = (0.6, 0.2, 0.2), 0.5        # a small box two thirds inside it
    task = get_task("detection")
    with_rule = task.decode(out.reshape(1, -1), recipe, 0.4)
    without = task.decode(out.reshape(1, -1), load_recipe(RECIPE, ["head.containment_threshold=0"]), 0.4)
    assert [len(with_rule[0]), len(without[0])] == [1, 2]
