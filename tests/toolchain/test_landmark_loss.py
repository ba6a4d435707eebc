"""`[training.loss]`: the wing loss a landmarks recipe can choose, and how the key is checked."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import facelite_build  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow as tf
from facelite_build.errors import RecipeError
from facelite_build.paths import CHECKOUT
from facelite_build.recipe import load_recipe
from facelite_build.tasks import get_task
from facelite_build.tasks.landmarks import wing_loss

LANDMARKS = CHECKOUT / "models" / "landmarks" / "recipe.toml"
EXPRESSION = CHECKOUT / "models" / "expression" / "recipe.toml"


def _wing(errors, width=0.08, curvature=0.016):
    errors = tf.constant([errors], tf.float32)
    return float(wing_loss(width, curvature)(tf.zeros_like(errors), errors).numpy()[0])


def test_wing_loss_is_logarithmic_inside_the_width_and_linear_beyond_it():
    w, eps = 0.08, 0.016
    assert _wing([0.0]) == 0.0
    assert _wing([0.01]) == pytest.approx(w * math.log1p(0.01 / eps), rel=1e-5)
    join = w - w * math.log1p(w / eps)
    assert _wing([0.3]) == pytest.approx(0.3 - join, rel=1e-5)
    assert _wing([w - 1e-6]) == pytest.approx(_wing([w + 1e-6]), abs=1e-5)  # the two pieces meet
    assert _wing([0.01, -0.01]) == pytest.approx(_wing([0.01]), rel=1e-6)  # sign-blind, averaged


def test_wing_loss_pulls_harder_on_small_errors_than_on_large_ones():
    x = tf.Variable([[0.004, 0.3]])
    with tf.GradientTape() as tape:
        loss = wing_loss(0.08, 0.016)(tf.zeros_like(x), x)
    small, large = np.abs(tape.gradient(loss, x).numpy()[0])
    assert small > 3 * large  # L1 would pull equally on both, Huber less on the small one


def test_landmarks_recipe_chooses_its_loss():
    task = get_task("landmarks")
    huber, _ = task.loss(load_recipe(LANDMARKS, ['training.loss.kind=""']))  # "": the task's default
    assert huber.__class__.__name__ == "Huber"
    chosen, _ = task.loss(load_recipe(LANDMARKS, ['training.loss.kind="wing"', "training.loss.width=0.05"]))
    errors = tf.constant([[0.02]])
    assert float(chosen(tf.zeros_like(errors), errors).numpy()[0]) == pytest.approx(
        0.05 * math.log1p(0.02 / 0.016), rel=1e-5)


@pytest.mark.parametrize("recipe, overrides, message", [
    (LANDMARKS, ['training.loss.kind="wingg"'],
     "training.loss.kind 'wingg' is not a loss of task 'landmarks' (one of: huber, wing)"),
    (LANDMARKS, ['training.loss.kind="wing"', "training.loss.curvature=0"],
     "training.loss width and curvature must be > 0 for the wing loss"),
    (LANDMARKS, ['training.loss.knd="wing"'], "unknown key 'knd' under [training.loss]; did you mean 'kind'?"),
    (EXPRESSION, ['training.loss.kind="wing"'],
     "training.loss.kind 'wing' is not a loss of task 'classification' (only its default; remove the key)"),
])
def test_a_loss_the_task_does_not_offer_names_the_key(recipe, overrides, message):
    with pytest.raises(RecipeError, match=re.escape(message)):
        load_recipe(recipe, overrides)
