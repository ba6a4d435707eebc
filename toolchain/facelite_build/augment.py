"""Training-time augmentation that keeps landmarks consistent with the pixels.

One random similarity transform per sample (flip, rotation, scale, shift) moves the
image and, when given, its landmark points; a horizontal flip also swaps left/right point
indices (the task's `mirror` permutation, e.g. `tasks.landmarks.IBUG_MIRROR`) so "left
eye corner" stays the subject's left eye corner. Photometric
changes (brightness, contrast) and random erasing touch pixels only. Works on whole
batches of 0..255 float images so the two CPU cores spend their time in kernels.
"""

from __future__ import annotations

import math

import tensorflow as tf

from .recipe import AugmentationConfig


def _similarity(batch: tf.Tensor, size: int, cfg: AugmentationConfig):
    """Per-sample forward 2×2 matrix M, offset t and flip flags (index pixel coords)."""
    angle = tf.random.uniform([batch], -cfg.rotation, cfg.rotation) * (math.pi / 180.0)
    scale = tf.random.uniform([batch], 1.0 - cfg.scale, 1.0 + cfg.scale)
    shift = tf.random.uniform([batch, 2], -cfg.shift, cfg.shift) * float(size)
    if cfg.flip:
        flip = tf.random.uniform([batch]) < 0.5
    else:
        flip = tf.zeros([batch], tf.bool)
    f = tf.where(flip, -1.0, 1.0)
    cos, sin = tf.cos(angle) * scale, tf.sin(angle) * scale
    m = tf.stack([tf.stack([cos * f, -sin], -1), tf.stack([sin * f, cos], -1)], -2)
    return m, shift, flip


def augment_batch(
    images: tf.Tensor,
    cfg: AugmentationConfig,
    points: tf.Tensor | None = None,
    mirror=None,
):
    """Augment a (B, S, S, C) float batch in 0..255; points are (B, P, 2) in [0, 1].

    `mirror[i]` is the point a flipped face has at index i (needed with points).
    Returns (images, points) — points None when none were given.
    """
    if points is not None and mirror is None:
        raise ValueError("augment_batch: points need their mirror permutation (which index a flip swaps with which)")
    size = images.shape[1]
    batch = tf.shape(images)[0]
    geometric = cfg.flip or cfg.rotation or cfg.scale or cfg.shift
    if geometric:
        m, shift, flip = _similarity(batch, size, cfg)
        c = (size - 1) / 2.0
        centre = tf.constant([c, c], tf.float32)
        inv = tf.linalg.inv(m)
        offset = centre - tf.linalg.matvec(inv, centre + shift)
        transform = tf.concat(
            [inv[:, 0, :], offset[:, 0:1], inv[:, 1, :], offset[:, 1:2], tf.zeros([batch, 2])], axis=1
        )
        images = tf.raw_ops.ImageProjectiveTransformV3(
            images=images,
            transforms=transform,
            output_shape=tf.constant([size, size]),
            fill_value=0.0,
            interpolation="BILINEAR",
            fill_mode="NEAREST",
        )
        if points is not None:
            px = points * float(size) - 0.5
            moved = tf.einsum("bij,bnj->bni", m, px - centre) + (centre + shift)[:, None, :]
            swapped = tf.gather(moved, mirror, axis=1)
            moved = tf.where(flip[:, None, None], swapped, moved)
            points = (moved + 0.5) / float(size)
    if cfg.brightness:
        images = images + tf.random.uniform([batch, 1, 1, 1], -cfg.brightness, cfg.brightness) * 255.0
    if cfg.contrast:
        average = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
        factor = tf.random.uniform([batch, 1, 1, 1], 1.0 - cfg.contrast, 1.0 + cfg.contrast)
        images = (images - average) * factor + average
    if cfg.erasing:
        images = _random_erasing(images, cfg.erasing)
    return tf.clip_by_value(images, 0.0, 255.0), points


def _random_erasing(images: tf.Tensor, probability: float) -> tf.Tensor:
    """Fill one random rectangle (2–20% of the area) with noise, per sample with `probability`."""
    batch = tf.shape(images)[0]
    h, w = images.shape[1], images.shape[2]
    area = tf.random.uniform([batch], 0.02, 0.2) * float(h * w)
    ratio = tf.exp(tf.random.uniform([batch], math.log(0.3), math.log(3.3)))
    eh = tf.minimum(tf.sqrt(area * ratio), float(h))
    ew = tf.minimum(tf.sqrt(area / ratio), float(w))
    y0 = tf.random.uniform([batch]) * (float(h) - eh)
    x0 = tf.random.uniform([batch]) * (float(w) - ew)
    ys = tf.range(h, dtype=tf.float32)[None, :, None]
    xs = tf.range(w, dtype=tf.float32)[None, None, :]
    inside = (
        (ys >= y0[:, None, None]) & (ys < (y0 + eh)[:, None, None])
        & (xs >= x0[:, None, None]) & (xs < (x0 + ew)[:, None, None])
    )
    apply = tf.random.uniform([batch]) < probability
    mask = tf.cast(inside & apply[:, None, None], images.dtype)[..., None]
    noise = tf.random.uniform(tf.shape(images), 0.0, 255.0)
    return images * (1.0 - mask) + noise * mask
