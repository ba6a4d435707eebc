"""tf.data input pipelines over in-memory `Examples`.

Batches are gathered from the uint8 arrays by index (no 1 GB constant in the graph),
augmented as a batch, then normalised with the recipe's mean/std — the same
`(x - mean) / std` that `facelite.preprocess.normalize` applies at inference.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from facelite.bundle import InputSpec
from facelite.preprocess import normalize

from .augment import augment_batch
from .data import Examples
from .recipe import AugmentationConfig


def make_dataset(
    examples: Examples,
    spec: InputSpec,
    batch: int,
    task: str,
    n_classes: int = 0,
    augmentation: AugmentationConfig | None = None,
    shuffle: bool = False,
    seed: int = 0,
) -> tf.data.Dataset:
    """(inputs, targets) batches; classification targets are one-hot (label smoothing)."""
    x, y = examples.x, examples.y
    n = len(x)
    mean = tf.constant(spec.mean, tf.float32)
    std = tf.constant(spec.std, tf.float32)
    ds = tf.data.Dataset.range(n)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch)

    def gather(idx):
        return x[idx], y[idx]

    def load(idx):
        images, targets = tf.numpy_function(gather, [idx], (tf.uint8, tf.as_dtype(y.dtype)))
        images.set_shape((None,) + x.shape[1:])
        targets.set_shape((None,) + y.shape[1:])
        return tf.cast(images, tf.float32), targets

    def transform(images, targets):
        points = targets if task == "landmarks" else None
        if augmentation is not None:
            images, points = augment_batch(images, augmentation, points)
        images = (images - mean) / std
        if task == "classification":
            targets = tf.one_hot(targets, n_classes)
        elif task == "landmarks":
            targets = tf.reshape(points, [-1, 136])
        return images, targets

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def normalized(examples: Examples, spec: InputSpec, count: int | None = None, seed: int = 0) -> np.ndarray:
    """Float32 model inputs for `count` seeded samples (all when None), via facelite.preprocess."""
    idx = np.arange(len(examples))
    if count is not None and count < len(idx):
        idx = np.sort(np.random.default_rng(seed).permutation(len(idx))[:count])
    return np.stack([normalize(examples.x[i], spec) for i in idx]).astype(np.float32)
