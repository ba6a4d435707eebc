"""FaceAnalyzer end to end on a real ACNE04 photo, with stand-ins where no bundle exists."""

import numpy as np
import pytest

from facelite import FaceAnalyzer, FaceAnalyzerOptions, FaceDetector, FaceDetectorOptions
from facelite.regions import REGION_NAMES


@pytest.fixture(scope="module")
def analyzer(bundles_dir):
    return FaceAnalyzer.create_from_options(FaceAnalyzerOptions(bundles_dir=bundles_dir, accelerator="cpu"))


def test_real_photo_gives_a_face_with_stand_ins_marked(analyzer, acne_photo):
    result = analyzer.analyze(acne_photo)
    assert result.detector == "haar-stand-in"
    assert len(result.faces) >= 1
    face = result.faces[0]
    w, h = result.image_size
    assert 0 <= face.box.x < w and face.box.w > 100 and 0 < face.box.score <= 1
    assert face.landmarks.shape == (68, 2)
    assert face.landmarks_source == "mean-shape-stand-in"
    assert set(face.regions) == set(REGION_NAMES)
    assert face.expression is not None and face.expression.top[0] in face.expression.scores
    assert sum(face.expression.scores.values()) == pytest.approx(1, abs=1e-3)
    assert face.skin.acne is None and 0 < face.skin.scores["redness"] < 60   # a* of skin
    assert {"detect", "landmarks", "expression", "skin", "total"} <= set(result.timings_ms)


def test_result_serialises_to_the_cli_contract(analyzer, acne_photo):
    doc = analyzer.analyze(acne_photo).to_json()
    assert {"faces", "timings_ms", "image_size", "detector"} <= set(doc)
    face = doc["faces"][0]
    assert {"box", "landmarks", "regions", "expression", "skin"} <= set(face)
    assert len(face["landmarks"]) == 68 and set(face["box"]) == {"x", "y", "w", "h", "score"}


def test_no_face_is_an_empty_list_not_an_error(analyzer):
    result = analyzer.analyze(np.full((200, 300, 3), 127, np.uint8))
    assert result.faces == [] and result.image_size == (300, 200)


def test_missing_bundles_skip_expression(tmp_path, acne_photo):
    result = FaceAnalyzer.create_from_options(FaceAnalyzerOptions(bundles_dir=tmp_path)).analyze(acne_photo)
    assert result.faces and result.faces[0].expression is None
    assert result.stages["expression"].startswith("skipped")


def test_bundle_detector_and_landmarker_are_used_when_present(bundles, acne_photo, tmp_path):
    import shutil

    for name, key in (("face_detector", "detector"), ("landmarks", "landmarks")):
        (tmp_path / name).mkdir()
        shutil.copy(bundles[key], tmp_path / name / f"{name}.flb")
    a = FaceAnalyzer.create_from_options(FaceAnalyzerOptions(bundles_dir=tmp_path, min_face_score=0.0))
    result = a.analyze(acne_photo)
    assert result.detector == "bundle:face_detector"
    assert all(f.landmarks_source == "bundle:landmarks" for f in result.faces)


def test_haar_box_converts_to_a_smaller_extent_box_inside_it(acne_photo):
    det = FaceDetector.create_from_options(FaceDetectorOptions())
    box = det.detect(acne_photo).boxes[0]
    x, y, w, h = det.to_extent(box)
    assert box.x <= x and box.y <= y and w < box.w and h < box.h
