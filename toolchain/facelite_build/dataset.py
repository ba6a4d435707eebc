"""tf.data input pipelines over in-memory `Examples`: batches of normalised model inputs.

Two pipelines, one ending:

- `make_dataset` gathers uint8 batches by index (no 1 GB constant in the graph) and
  augments them as a batch on the TF graph (`augment.augment_batch`), moving landmark
  points with the pixels when the task gives a `mirror` permutation;
- `make_sample_dataset` builds each sample in numpy (`sample(i) -> (pixels, target)`),
  for tasks whose augmentation and targets are per-sample code (the face detector).

Both end with `facelite.preprocess.normalize` — the runtime's own function, called
through `tf.numpy_function` rather than re-written in TF — so with augmentation off the
tensor the model trains and is validated on is, bit for bit, the tensor
`facelite.preprocess.prepare` gives it at run time (tests/toolchain/test_input_parity.py).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from facelite.preprocess import InputSpec, normalize

from .augment import augment_batch
from .data import Examples
from .recipe import AugmentationConfig


def normalize_batch(images: tf.Tensor, spec: InputSpec) -> tf.Tensor:
    """`facelite.preprocess.normalize` on a (B, H, W, C) batch of 0..255 pixels, in the graph."""

    def run(pixels: np.ndarray) -> np.ndarray:
        return np.asarray(normalize(pixels, spec), np.float32)

    out = tf.numpy_function(run, [images], tf.float32, stateful=False)
    out.set_shape(images.shape)
    return out


def normalized(examples: Examples, spec: InputSpec, count: int | None = None, seed: int = 0) -> np.ndarray:
    """Float32 model inputs of `count` seeded samples (all when None), in example order."""
    idx = np.arange(len(examples))
    if count is not None and count < len(idx):
        idx = np.sort(np.random.default_rng(seed).permutation(len(idx))[:count])
    return np.stack([normalize(examples.x[i], spec) for i in idx]).astype(np.float32)


def _indices(n: int, batch: int, shuffle: bool, seed: int) -> tf.data.Dataset:
    ds = tf.data.Dataset.range(n)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch)


def make_dataset(
    examples: Examples,
    spec: InputSpec,
    batch: int,
    *,
    encode: Callable[[tf.Tensor], tf.Tensor] | None = None,
    augmentation: AugmentationConfig | None = None,
    mirror: np.ndarray | None = None,
    shuffle: bool = False,
    seed: int = 0,
) -> tf.data.Dataset:
    """(normalised inputs, targets) batches, augmented as a batch on the graph.

    With `mirror` the targets are points (B, P, 2) in [0, 1] of the input, moved with
    the pixels (a flip swaps index i with `mirror[i]`). `encode` maps the (augmented)
    targets to what the loss compares, e.g. one-hot classes or flat coordinates.
    """
    x, y = examples.x, examples.y

    def gather(idx):
        return x[idx], y[idx]

    def load(idx):
        images, targets = tf.numpy_function(gather, [idx], (tf.uint8, tf.as_dtype(y.dtype)))
        images.set_shape((None,) + x.shape[1:])
        targets.set_shape((None,) + y.shape[1:])
        return tf.cast(images, tf.float32), targets

    def transform(images, targets):
        if augmentation is not None:
            images, points = augment_batch(images, augmentation, targets if mirror is not None else None, mirror)
            if mirror is not None:
                targets = points
        images = normalize_batch(images, spec)
        return images, (encode(targets) if encode is not None else targets)

    ds = _indices(len(x), batch, shuffle, seed)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(transform, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def make_sample_dataset(
    examples: Examples,
    spec: InputSpec,
    batch: int,
    sample: Callable[[int], tuple[np.ndarray, np.ndarray]],
    target_shape: tuple[int, ...],
    *,
    shuffle: bool = False,
    seed: int = 0,
) -> tf.data.Dataset:
    """(normalised inputs, targets) batches built one sample at a time in numpy.

    `sample(i)` returns example i's (H, W, C) pixels in 0..255 (augmented or not) and its
    float32 target of `target_shape`. Samples are drawn on one thread, in order, so a
    seeded `sample` gives the same epoch every run.
    """

    def batch_fn(idx):
        pixels, targets = zip(*(sample(int(i)) for i in idx))
        images = np.asarray(normalize(np.stack(pixels), spec), np.float32)
        return images, np.stack(targets).astype(np.float32)

    def load(idx):
        images, targets = tf.numpy_function(batch_fn, [idx], (tf.float32, tf.float32))
        images.set_shape((None, spec.height, spec.width, spec.channels))
        targets.set_shape((None,) + tuple(target_shape))
        return images, targets

    ds = _indices(len(examples), batch, shuffle, seed)
    return ds.map(load, num_parallel_calls=1).prefetch(2)
