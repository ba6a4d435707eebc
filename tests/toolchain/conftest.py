"""Shared tiny models and data for the post-training toolchain tests.

Everything is session-scoped and seeded: one tiny MobileNet (alpha 0.25, 32×32, 3
classes) is trained once, pruned once and converted once to the four variants; the
other tests reuse those bytes, which keeps the whole toolchain suite to a few
conversions.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_model_optimization")

import facelite_build  # noqa: E402,F401  (legacy Keras before TensorFlow)
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from facelite.bundle import InputSpec  # noqa: E402

SIZE = 32
CLASSES = 3
LABELS = ["a", "b", "c"]

# Tolerances for this toy: a 32×32 α0.25 MobileNet trained for a few dozen steps is far
# more sensitive to weight/activation rounding than a real model (fp16 moves its
# probabilities by up to ~0.02, int8 by up to ~0.45 on a borderline sample, while the
# shipped landmarks model moves by 5e-4 and 0.023). The tests check the mechanism and
# top-1 agreement with these; the runtime's own rules live in facelite.verify.
TOY_TOLERANCE = {
    "fp32": {"max_abs_err": 1e-4, "top1_agreement": 1.0},
    "fp16": {"max_abs_err": 0.05, "top1_agreement": 1.0},
    "dynamic": {"max_abs_err": 0.25, "top1_agreement": 0.75},
    # observed 12/16 = 0.75 on the goldens; 0.625 leaves margin for oneDNN/TF drift
    "int8": {"max_abs_err": 0.5, "top1_agreement": 0.625},
}


def make_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Preprocessed-range (-1..1) images whose class sets the dominant channel."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % CLASSES
    x = rng.normal(0.0, 0.35, size=(n, SIZE, SIZE, 3)).astype(np.float32)
    x[np.arange(n), :, :, y] += 0.8
    return np.clip(x, -1.0, 1.0), y.astype(np.int64)


@pytest.fixture(scope="session")
def toy_tolerance():
    return TOY_TOLERANCE


@pytest.fixture(scope="session")
def labels():
    return LABELS


@pytest.fixture(scope="session")
def data():
    x_train, y_train = make_images(96, seed=1)
    x_val, y_val = make_images(24, seed=2)
    return x_train, y_train, x_val, y_val


@pytest.fixture(scope="session")
def train_ds(data):
    x, y, _, _ = data
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(16)


@pytest.fixture(scope="session")
def input_spec():
    return InputSpec((1, SIZE, SIZE, 3), "rgb", "bilinear", (127.5,) * 3, (127.5,) * 3)


def tiny_mobilenet() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNet(
        input_shape=(SIZE, SIZE, 3), alpha=0.25, weights=None, classes=CLASSES, dropout=0.0
    )
    # A few dozen steps are not enough for BatchNorm's default 0.99 moving averages;
    # without this the inference-mode outputs collapse to one constant vector and
    # top-1 agreement between variants would be meaningless.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.8
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


@pytest.fixture(scope="session")
def trained_model(train_ds):
    model = tiny_mobilenet()
    model.fit(train_ds, epochs=6, verbose=0)
    return model


@pytest.fixture(scope="session")
def pruned_model(trained_model, train_ds):
    from facelite_build.prune import prune_model

    return prune_model(trained_model, train_ds, target_sparsity=0.5, epochs=2)


@pytest.fixture(scope="session")
def variants(pruned_model, data):
    from facelite_build.quantize import convert_all

    x_train = data[0]
    return convert_all(pruned_model, representative=x_train)


@pytest.fixture(scope="session")
def goldens(pruned_model, data):
    x_val = data[2][:16]
    return x_val, pruned_model.predict(x_val, verbose=0).astype(np.float32)
