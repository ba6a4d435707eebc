"""Pruning reaches its target over the kernels it counts, and returns a plain model."""

from __future__ import annotations

import numpy as np
import pytest
import tf_keras as keras

from facelite.errors import UserError
from facelite_build.prune import prune_model, sparsity_of, steps_per_epoch


def test_polynomial_pruning_reaches_target_sparsity_within_two_points(trained_model, pruned_model):
    assert sparsity_of(trained_model) < 0.01
    assert abs(sparsity_of(pruned_model) - 0.5) <= 0.02


def test_pruned_model_is_stripped_and_input_model_untouched(trained_model, pruned_model):
    names = {type(layer).__name__ for layer in pruned_model.layers}
    assert "PruneLowMagnitude" not in names
    assert sparsity_of(trained_model) < 0.01  # the original kept its dense weights


def test_depthwise_kernels_are_neither_pruned_nor_counted(pruned_model):
    dw = [l for l in pruned_model.layers if isinstance(l, keras.layers.DepthwiseConv2D)]
    assert dw
    zeros = sum(int(np.count_nonzero(l.depthwise_kernel.numpy() == 0)) for l in dw)
    assert zeros == 0


def _dense_net() -> keras.Model:
    keras.utils.set_random_seed(3)
    inp = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inp)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(32, activation="relu")(x)
    out = keras.layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inp, out)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_two_four_pruning_zeroes_two_of_every_four_input_weights(train_ds):
    pruned = prune_model(_dense_net(), train_ds, target_sparsity=0.5, epochs=1, two_four=True)
    dense = [l for l in pruned.layers if isinstance(l, keras.layers.Dense)][0]
    # TFLite layout: groups of 4 consecutive input channels per output unit.
    groups = dense.kernel.numpy().T.reshape(-1, 4)
    assert np.all(np.count_nonzero(groups == 0, axis=1) >= 2)
    # the RGB first conv (3 input channels) cannot tile 2:4 and stays dense
    assert abs(sparsity_of(pruned) - 0.5) <= 0.02


def test_two_four_requires_half_sparsity(train_ds):
    with pytest.raises(UserError, match="2:4"):
        prune_model(_dense_net(), train_ds, target_sparsity=0.7, epochs=1, two_four=True)


def test_infinite_dataset_is_a_user_error(train_ds):
    with pytest.raises(UserError, match="repeat"):
        steps_per_epoch(train_ds.repeat())
