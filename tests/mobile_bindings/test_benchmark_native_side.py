"""benchmarks/native_side.py: the C core as a benchmark side sees the other sides' pixels and times them without decode.

The speed benchmarks (pipeline.py, video.py) hand the C runner PNG copies of the arrays the
Python and MediaPipe sides get; these tests prove the copies are the same pixels (the C
core's points are Python's on them, IMAGE and VIDEO mode) and that the time taken is the
runner's `timings_ms` total less the PNG's decode.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

from helen_photos import helen_photos
from native_side import NativeSide, write_png
from synthetic_clips import clip

from facelite import BaseOptions, FaceAnalyzer, FaceAnalyzerOptions

LANDMARKS_MAX_PX = 1e-3  # test_video_parity.py's tolerance
ROUNDED_MAX_PX = 0.005 + 1e-4
"""`--analyze --json` prints IMAGE-mode points rounded to 0.01 px, as `facelite analyze` does
(only `--video` has `--exact`): half a step, plus a little for the float32 points' own step."""


@pytest.fixture(scope="module")
def photo(shared_data):
    if not (shared_data / "landmarks300w" / "helen_train").is_dir():
        pytest.skip(f"HELEN photos not found under {shared_data}")
    return helen_photos(shared_data, 1)[0]


def _python(**options) -> FaceAnalyzer:
    return FaceAnalyzer.create_from_options(FaceAnalyzerOptions(
        base_options=BaseOptions(accelerator="cpu", num_threads=2), bundles_dir=REPO / "models", **options))


def test_native_photo_time_is_total_less_decode_and_its_points_are_pythons_on_the_same_pixels(c_build, photo,
                                                                                              tmp_path):
    side = NativeSide(c_build.runner, REPO / "models", "auto", 2, max_faces=1)
    png = write_png(tmp_path, "photo", photo.image)
    results = side.analyze([png, png], skin=False)
    assert len(results) == 2                                   # the warm-up run is dropped
    for r in results:
        assert r.ms == pytest.approx(r.timings["total"] - r.timings["load"])
        assert "skin_measures" not in r.timings
    with _python(skin=False, max_faces=1) as analyzer:
        want = analyzer.analyze(photo.image)
    assert len(results[0].points) == len(want.faces) >= 1
    assert np.abs(results[0].points[0] - want.faces[0].landmarks).max() <= ROUNDED_MAX_PX


def test_native_video_frames_give_python_video_modes_points(c_build, photo, tmp_path):
    frames = list(clip(photo.image, photo.points, "translation", 4))
    pngs = [write_png(tmp_path, f"{k:02d}", f.image) for k, f in enumerate(frames)]
    side = NativeSide(c_build.runner, REPO / "models", "auto", 2, max_faces=1)
    got = side.video(pngs, [f.timestamp_ms for f in frames], skin=False)
    with _python(skin=False, running_mode="video", max_faces=1) as analyzer:
        want = [analyzer.analyze_video_frame(f.image, f.timestamp_ms) for f in frames]
    assert len(got) == len(frames)
    for g, w in zip(got, want):
        assert g.ms == pytest.approx(g.timings["total"] - g.timings["load"])
        assert np.abs(g.points[0] - w.faces[0].landmarks).max() <= LANDMARKS_MAX_PX
