"""The shipped face detector finds no face where there is none: blank and featureless frames.

Close-up training (1.1.0) labels a frame filled with skin as a face; without face-free
views (`training.augmentation.background`) the model learnt that any smooth frame is one,
and a photo of a wall got a face. Every variant at its own operating point."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facelite.bundle import VARIANT_NAMES
from facelite.face_detector import FaceDetector, FaceDetectorOptions
from facelite.options import BaseOptions

BUNDLE = Path(__file__).resolve().parents[2] / "models" / "face_detector" / "face_detector.flb"


def _blank_frames() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    frames = {f"grey {v}": np.full((240, 320, 3), v, np.uint8) for v in (0, 128, 255)}
    frames["flat skin tone"] = np.full((256, 256, 3), (120, 150, 200), np.uint8)  # BGR
    frames["blurred noise"] = cv2.GaussianBlur(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8), (31, 31), 10)
    return frames


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("variant", sorted(VARIANT_NAMES))
def test_no_face_on_blank_frames(variant):
    detector = FaceDetector(FaceDetectorOptions(base_options=BaseOptions(bundle_path=BUNDLE, variant=variant)))
    found = {name: [round(b.score, 2) for b in detector.detect(frame).boxes] for name, frame in _blank_frames().items()}
    assert found == {name: [] for name in found}, f"{variant} at {detector.min_score}: {found}"
