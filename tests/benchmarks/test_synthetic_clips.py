"""The clip synthesiser of benchmarks/video.py moves its true points exactly as it moves the pixels."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from synthetic_clips import MOTIONS, clip


def blob_photo(at: tuple[float, float], size: int = 400) -> np.ndarray:
    """A black photo with one Gaussian spot (sigma 2 px) centred on `at` (pixel-centre coordinates)."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    spot = 250 * np.exp(-((xs - at[0]) ** 2 + (ys - at[1]) ** 2) / (2 * 2.0 ** 2))
    return np.repeat(np.rint(spot).astype(np.uint8)[:, :, None], 3, axis=2)


def centroid(image: np.ndarray) -> np.ndarray:
    weight = image[:, :, 0].astype(np.float64)
    ys, xs = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    return np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum()


@pytest.mark.parametrize("motion", MOTIONS)
def test_the_true_point_follows_the_pixels_in_every_motion(motion):
    points = np.random.default_rng(1).uniform(150, 250, (68, 2))
    points[0] = (190.3, 210.6)
    frames = list(clip(blob_photo(points[0]), points, motion, n_frames=9))
    for frame in frames:
        assert np.linalg.norm(centroid(frame.image) - frame.points[0]) < 0.25
    assert [f.timestamp_ms for f in frames] == [round(i * 1000 / 30) for i in range(9)]


def test_a_still_clip_keeps_its_points_and_noise_changes_every_frame():
    photo = np.full((300, 300, 3), 128, np.uint8)
    points = np.random.default_rng(2).uniform(100, 200, (68, 2))
    frames = list(clip(photo, points, "still", n_frames=3, noise_sigma=4.0))
    assert all(np.array_equal(f.points, frames[0].points) for f in frames)
    assert not np.array_equal(frames[0].image, frames[1].image)
    assert 3.0 < np.std(frames[0].image.astype(np.float64)) < 5.0
