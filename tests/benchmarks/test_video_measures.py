"""benchmarks/video.py's jitter: mean frame-to-frame point motion over the true outer-eye-corner distance."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from video import jitter


def test_jitter_is_the_mean_step_over_the_interocular_distance_skipping_frames_without_a_face():
    truth = np.zeros((68, 2))
    truth[45] = (50.0, 0.0)                                  # outer eye corners 50 px apart
    still = np.ones((68, 2))
    moved = still + (0.0, 2.0)                               # every point 2 px down
    assert jitter([still, still, still], [truth] * 3) == 0.0
    assert jitter([still, moved, None, moved], [truth] * 4) == 2.0 / 50.0
    assert jitter([still, None], [truth] * 2) is None
