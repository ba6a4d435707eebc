"""Augmentation moves pixels and landmarks together; flips keep left/right semantics."""

import numpy as np
import pytest
import tensorflow as tf

from facelite_build.augment import augment_batch
from facelite_build.recipe import AugmentationConfig
from facelite_build.tasks.landmarks import IBUG_MIRROR


def _dot_image(points: np.ndarray, size: int = 64) -> np.ndarray:
    img = np.zeros((size, size, 1), np.float32)
    for x, y in (points * size - 0.5).round().astype(int):
        img[y, x, 0] = 255.0
    return img


def test_geometric_augmentation_moves_points_with_the_pixels():
    tf.random.set_seed(1)
    rng = np.random.default_rng(0)
    pts = rng.uniform(0.3, 0.7, (1, 68, 2)).astype(np.float32)
    pts[0, 1:] = pts[0, 0]  # one marked pixel, so the argmax locates it unambiguously
    image = _dot_image(pts[0])[None]
    cfg = AugmentationConfig(flip=False, rotation=20, scale=0.15, shift=0.1)
    out, moved = augment_batch(tf.constant(image), cfg, tf.constant(pts), IBUG_MIRROR)
    y, x = np.unravel_index(np.argmax(out.numpy()[0, :, :, 0]), (64, 64))
    expect = moved.numpy()[0, 0] * 64 - 0.5
    assert abs(x - expect[0]) <= 1.5 and abs(y - expect[1]) <= 1.5


def test_flip_mirrors_x_and_swaps_left_right_indices():
    pts = np.zeros((1, 68, 2), np.float32)
    pts[0, :, 1] = 0.5
    pts[0, 36, 0], pts[0, 45, 0] = 0.1, 0.7  # outer eye corners, asymmetric
    cfg = AugmentationConfig(flip=True)
    for seed in range(8):  # flip is random: find a draw that flips
        tf.random.set_seed(seed)
        _, moved = augment_batch(tf.zeros((1, 32, 32, 1)), cfg, tf.constant(pts), IBUG_MIRROR)
        moved = moved.numpy()[0]
        if not np.isclose(moved[36, 0], 0.1, atol=1e-4):
            break
    # after the mirror, index 36 (subject's right outer corner) holds the old 45 mirrored
    assert np.isclose(moved[36, 0], 1.0 - 0.7, atol=1e-4)
    assert np.isclose(moved[45, 0], 1.0 - 0.1, atol=1e-4)


def test_photometric_and_erasing_keep_range_and_shape():
    tf.random.set_seed(0)
    x = tf.fill((4, 16, 16, 3), 128.0)
    cfg = AugmentationConfig(flip=False, brightness=0.5, contrast=0.5, erasing=1.0)
    out, none = augment_batch(x, cfg)
    out = out.numpy()
    assert none is None and out.shape == (4, 16, 16, 3)
    assert out.min() >= 0.0 and out.max() <= 255.0 and out.std() > 0


def test_points_without_their_mirror_permutation_are_refused():
    with pytest.raises(ValueError, match="mirror permutation"):
        augment_batch(tf.zeros((1, 8, 8, 1)), AugmentationConfig(flip=True), tf.zeros((1, 68, 2)))
