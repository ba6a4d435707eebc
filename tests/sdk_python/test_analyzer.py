"""FaceAnalyzer end to end on a real ACNE04 photo: with the shipped bundles (the default
path), and with stand-ins where a bundles folder has no detector / landmarks bundle."""

import numpy as np
import pytest

from facelite import FaceAnalyzer, FaceAnalyzerOptions, FaceDetector, FaceDetectorOptions
from facelite.paths import MODELS_DIR
from facelite.regions import REGION_NAMES

ACNE_LABELS = {"level0", "level1", "level2"}


def _analyzer(bundles_dir, **kw):
    return FaceAnalyzer.create_from_options(FaceAnalyzerOptions(bundles_dir=bundles_dir, accelerator="cpu", **kw))


@pytest.fixture(scope="module")
def shipped_analyzer(shipped_bundles_dir):
    return _analyzer(shipped_bundles_dir)


@pytest.fixture(scope="module")
def stand_in_analyzer(stand_in_bundles_dir):
    return _analyzer(stand_in_bundles_dir)


def _check_common(result, face):
    w, h = result.image_size
    assert 0 <= face.box.x < w and 0 <= face.box.y < h and face.box.w > 100 and 0 < face.box.score <= 1
    assert face.landmarks.shape == (68, 2)
    assert set(face.regions) == set(REGION_NAMES)
    assert face.expression is not None and face.expression.top[0] in face.expression.scores
    assert sum(face.expression.scores.values()) == pytest.approx(1, abs=1e-3)
    assert 0 < face.skin.scores["redness"] < 60   # a* of skin
    assert {"detect", "landmarks", "expression", "skin", "total"} <= set(result.timings_ms)


def test_real_photo_with_the_shipped_bundles_uses_them(shipped_analyzer, acne_photo):
    result = shipped_analyzer.analyze(acne_photo)
    assert result.detector == "bundle:face_detector"           # the shipped detector, no Haar stand-in
    assert result.stages == {"detector": "bundle:face_detector", "landmarks": "bundle:landmarks",
                             "expression": "bundle:expression", "acne": "bundle:acne"}
    assert len(result.faces) == 1
    face = result.faces[0]
    _check_common(result, face)
    assert face.landmarks_source == "bundle:landmarks"
    # the model's points follow the face: inside the detection box grown by 15% a side
    b = face.box
    lo = np.array([b.x - 0.15 * b.w, b.y - 0.15 * b.h])
    hi = np.array([b.x + 1.15 * b.w, b.y + 1.15 * b.h])
    assert ((face.landmarks >= lo) & (face.landmarks <= hi)).all()
    assert face.skin.acne is not None and face.skin.acne.top[0] in ACNE_LABELS   # the shipped acne bundle
    assert 0 <= face.skin.scores["acne_severity"] <= 1


def test_real_photo_with_stand_ins_marked(stand_in_analyzer, acne_photo):
    result = stand_in_analyzer.analyze(acne_photo)
    assert result.detector == "haar-stand-in"
    assert result.stages == {"detector": "haar-stand-in", "landmarks": "mean-shape-stand-in",
                             "expression": "bundle:expression", "acne": "skipped (no bundle)"}
    assert len(result.faces) >= 1
    face = result.faces[0]
    _check_common(result, face)
    assert face.landmarks_source == "mean-shape-stand-in"
    assert face.skin.acne is None and set(face.skin.scores) == {"redness"}


def test_default_bundles_dir_is_the_repos_shipped_models():
    stages = FaceAnalyzer.create_from_options(FaceAnalyzerOptions(accelerator="cpu")).stages
    assert (stages["detector"], stages["landmarks"], stages["acne"]) == (
        "bundle:face_detector", "bundle:landmarks", "bundle:acne")
    # expression ships later (models/expression/expression.flb); either way the stage says what runs
    shipped_expression = (MODELS_DIR / "expression" / "expression.flb").is_file()
    assert stages["expression"] == ("bundle:expression" if shipped_expression else "skipped (no bundle)")


def test_empty_bundles_dir_means_every_stand_in_not_the_shipped_models(tmp_path, acne_photo):
    result = _analyzer(tmp_path).analyze(acne_photo)
    assert result.detector == "haar-stand-in"
    assert result.stages == {"detector": "haar-stand-in", "landmarks": "mean-shape-stand-in",
                             "expression": "skipped (no bundle)", "acne": "skipped (no bundle)"}
    assert result.faces and result.faces[0].expression is None and result.faces[0].skin.acne is None


@pytest.mark.parametrize("which", ["shipped_analyzer", "stand_in_analyzer"])
def test_result_serialises_to_the_cli_contract(request, which, acne_photo):
    doc = request.getfixturevalue(which).analyze(acne_photo).to_json()
    assert {"faces", "timings_ms", "image_size", "detector", "stages"} <= set(doc)
    face = doc["faces"][0]
    assert {"box", "landmarks", "landmarks_source", "regions", "expression", "skin"} <= set(face)
    assert len(face["landmarks"]) == 68 and set(face["box"]) == {"x", "y", "w", "h", "score"}


@pytest.mark.parametrize("which", ["shipped_analyzer", "stand_in_analyzer"])
def test_no_face_is_an_empty_list_not_an_error(request, which):
    result = request.getfixturevalue(which).analyze(np.full((200, 300, 3), 127, np.uint8))
    assert result.faces == [] and result.image_size == (300, 200)


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
    det = FaceDetector.create_from_options(FaceDetectorOptions(use_shipped_bundle=False))
    assert det.name == "haar-stand-in"
    box = det.detect(acne_photo).boxes[0]
    x, y, w, h = det.to_extent(box)
    assert box.x <= x and box.y <= y and w < box.w and h < box.h


def test_face_detector_defaults_to_the_shipped_bundle(shipped, acne_photo):
    det = FaceDetector.create_from_options(FaceDetectorOptions(accelerator="cpu"))
    assert det.name == "bundle:face_detector" and str(det.engine.bundle.path) == str(shipped["face_detector"])
    boxes = det.detect(acne_photo).boxes
    assert len(boxes) == 1 and boxes[0].score >= det.min_score
