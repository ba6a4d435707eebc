"""FaceAnalyzer end to end on a real ACNE04 photo: with the shipped bundles (the default
path), with stand-ins only where they were asked for, and over folders and videos."""

import shutil

import cv2
import numpy as np
import pytest

from facelite import (AnalysisResult, BaseOptions, Bundle, BundleError, FaceAnalyzer, FaceAnalyzerOptions,
                      FaceDetector, FaceDetectorOptions, ImageError, SkinReport, UserError)
from facelite.paths import shipped_bundle
from facelite.regions import REGION_NAMES
from facelite.skin import SKIPPED_V1_ACNE

CPU = BaseOptions(accelerator="cpu")
SKIPPED = "skipped (no bundle)"
NO_SKIN = {"skin_metrics": SKIPPED, "acne": SKIPPED, "restoration": SKIPPED}


def shipped_acne_stage() -> str:
    """The acne stage the shipped acne bundle gives: it runs when trained on face crops."""
    with Bundle.open(shipped_bundle("acne")) as acne:
        return "bundle:acne" if acne.input_spec.crop == "face" else SKIPPED_V1_ACNE


def _analyzer(bundles_dir, **kw):
    return FaceAnalyzer.create_from_options(FaceAnalyzerOptions(base_options=CPU, bundles_dir=bundles_dir, **kw))


@pytest.fixture(scope="module")
def shipped_analyzer(shipped_bundles_dir):
    return _analyzer(shipped_bundles_dir)


@pytest.fixture(scope="module")
def stand_in_analyzer(stand_in_bundles_dir):
    return _analyzer(stand_in_bundles_dir, stand_in="if_missing")


def _check_common(result, face):
    w, h = result.image_size
    assert 0 <= face.box.x < w and 0 <= face.box.y < h and face.box.w > 100 and 0 < face.box.score <= 1
    assert face.landmarks.shape == (68, 2)
    assert set(face.regions) == set(REGION_NAMES)
    assert face.expression is not None and face.expression.top[0] in face.expression.scores
    assert sum(face.expression.scores.values()) == pytest.approx(1, abs=1e-3)
    assert {"load", "detect", "landmarks", "expression", "total"} <= set(result.timings_ms)


def test_real_photo_with_the_shipped_bundles_uses_them(shipped_analyzer, acne_photo):
    result = shipped_analyzer.analyze(acne_photo)
    assert result.detector == "bundle:face_detector"           # the shipped detector, no Haar stand-in
    assert result.stages == {"detector": "bundle:face_detector", "landmarks": "bundle:landmarks",
                             "expression": "bundle:expression", "skin_metrics": "bundle:skin_metrics",
                             "acne": shipped_acne_stage(), "restoration": "off"}
    assert len(result.faces) == 1
    face = result.faces[0]
    _check_common(result, face)
    assert face.landmarks_source == "bundle:landmarks"
    # the model's points follow the face: inside the detection box grown by 15% a side
    b = face.box
    lo = np.array([b.x - 0.15 * b.w, b.y - 0.15 * b.h])
    hi = np.array([b.x + 1.15 * b.w, b.y + 1.15 * b.h])
    assert ((face.landmarks >= lo) & (face.landmarks <= hi)).all()
    assert isinstance(face.skin, SkinReport)
    assert set(face.skin.regions) >= set(REGION_NAMES) - {"left_cheek", "right_cheek"}  # a far cheek may be hidden
    assert all(0 <= s <= 100 for s in face.skin.scores.values()) and "redness" in face.skin.scores
    assert ("acne" in face.skin.scores) == (result.stages["acne"] == "bundle:acne")
    assert {"skin_crop", "skin_measures", "quality"} <= set(result.timings_ms)
    assert result.timings_ms["total"] == pytest.approx(
        sum(v for k, v in result.timings_ms.items() if k != "total"))


def test_real_photo_with_stand_ins_asked_for_is_marked(stand_in_analyzer, acne_photo):
    result = stand_in_analyzer.analyze(acne_photo)
    assert result.detector == "haar-stand-in"
    assert result.stages == {"detector": "haar-stand-in", "landmarks": "mean-shape-stand-in",
                             "expression": "bundle:expression", **NO_SKIN}
    assert len(result.faces) >= 1
    face = result.faces[0]
    _check_common(result, face)
    assert face.landmarks_source == "mean-shape-stand-in"
    assert face.skin is None   # no skin_metrics bundle in the folder


def test_default_bundles_are_the_shipped_ones():
    stages = FaceAnalyzer.create_from_options(FaceAnalyzerOptions(base_options=CPU)).stages
    assert (stages["detector"], stages["landmarks"], stages["skin_metrics"], stages["acne"]) == (
        "bundle:face_detector", "bundle:landmarks", "bundle:skin_metrics", shipped_acne_stage())
    shipped_expression = shipped_bundle("expression") is not None
    assert stages["expression"] == ("bundle:expression" if shipped_expression else "skipped (no bundle)")


def test_missing_detector_and_landmarks_bundles_are_an_error_naming_the_stand_in_option(tmp_path):
    with pytest.raises(BundleError) as err:
        _analyzer(tmp_path)
    message = str(err.value)
    assert str(tmp_path / "face_detector" / "face_detector.flb") in message
    assert str(tmp_path / "landmarks" / "landmarks.flb") in message
    assert "stand_in='if_missing'" in message and "--stand-ins" in message


def test_missing_shipped_bundles_are_an_error_not_a_silent_stand_in(tmp_path, monkeypatch):
    monkeypatch.setenv("FACELITE_BUNDLES", str(tmp_path))   # an install whose bundles folder is empty
    with pytest.raises(BundleError, match="stand-ins"):
        FaceAnalyzer.create_from_options(FaceAnalyzerOptions(base_options=CPU))
    with pytest.raises(BundleError, match="stand_in='if_missing'"):
        FaceDetector.create_from_options(FaceDetectorOptions(base_options=CPU))
    assert FaceDetector.create_from_options(FaceDetectorOptions(stand_in="if_missing")).name == "haar-stand-in"


def test_empty_bundles_dir_with_stand_ins_runs_every_stand_in(tmp_path, acne_photo):
    result = _analyzer(tmp_path, stand_in="if_missing").analyze(acne_photo)
    assert result.detector == "haar-stand-in"
    assert result.stages == {"detector": "haar-stand-in", "landmarks": "mean-shape-stand-in",
                             "expression": SKIPPED, **NO_SKIN}
    assert result.faces and result.faces[0].expression is None and result.faces[0].skin is None


def test_stand_ins_always_ignore_bundles_that_are_present(shipped_bundles_dir):
    stages = _analyzer(shipped_bundles_dir, stand_in="always").stages
    assert (stages["detector"], stages["landmarks"], stages["skin_metrics"]) == (
        "haar-stand-in", "mean-shape-stand-in", "bundle:skin_metrics")


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


def test_load_timing_includes_decoding_the_path(shipped_analyzer, acne_photo):
    pixels = cv2.imread(str(acne_photo))
    from_path = sorted(shipped_analyzer.analyze(acne_photo).timings_ms["load"] for _ in range(3))[1]
    from_array = sorted(shipped_analyzer.analyze(pixels).timings_ms["load"] for _ in range(3))[1]
    assert from_path > 0 and from_path > from_array   # a 512×512 JPEG decode vs an array check


def test_bundle_detector_and_landmarker_are_used_when_present(bundles, acne_photo, tmp_path):
    for name, key in (("face_detector", "detector"), ("landmarks", "landmarks")):
        (tmp_path / name).mkdir()
        shutil.copy(bundles[key], tmp_path / name / f"{name}.flb")
    result = _analyzer(tmp_path, min_face_score=0.0).analyze(acne_photo)
    assert result.detector == "bundle:face_detector"
    assert all(f.landmarks_source == "bundle:landmarks" for f in result.faces)


def test_base_options_are_shared_by_every_stage(shipped_bundles_dir):
    base = BaseOptions(accelerator="cpu", num_threads=3, variant="fp32")
    analyzer = FaceAnalyzer.create_from_options(FaceAnalyzerOptions(base_options=base, bundles_dir=shipped_bundles_dir))
    info = analyzer.info
    acne = {"acne"} if shipped_acne_stage() == "bundle:acne" else set()
    assert set(info) == {"face_detector", "landmarks", "expression", "skin_metrics"} | acne
    assert {(i.variant, i.accelerator, i.num_threads) for i in info.values()} == {("fp32", "cpu", 3)}


def test_analyze_folder_recurses_and_reports_bad_files_in_place(shipped_analyzer, acne_photo, tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    shutil.copy(acne_photo, tmp_path / "top.jpg")
    shutil.copy(acne_photo, tmp_path / "a" / "b" / "deep.jpg")
    (tmp_path / "a" / "bad.jpg").write_text("not an image")
    outcomes = dict(shipped_analyzer.analyze_folder(tmp_path))
    assert sorted(p.relative_to(tmp_path).as_posix() for p in outcomes) == ["a/b/deep.jpg", "a/bad.jpg", "top.jpg"]
    assert isinstance(outcomes[tmp_path / "a" / "b" / "deep.jpg"], AnalysisResult)
    assert isinstance(outcomes[tmp_path / "a" / "bad.jpg"], ImageError)
    assert [p.name for p, _ in shipped_analyzer.analyze_folder(tmp_path, recursive=False)] == ["top.jpg"]


def test_analyze_folder_without_an_image_anywhere_fails_at_once(shipped_analyzer, tmp_path):
    (tmp_path / "empty" / "deeper").mkdir(parents=True)
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(ImageError, match="no image in the folder or its sub-folders"):
        shipped_analyzer.analyze_folder(tmp_path)


def test_analyze_video_samples_every_nth_frame(shipped_analyzer, acne_photo, tmp_path):
    frame = cv2.imread(str(acne_photo))
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, frame.shape[1::-1])
    for _ in range(7):
        writer.write(frame)
    writer.release()
    runs = list(shipped_analyzer.analyze_video(path, every=3))
    assert [f.index for f, _ in runs] == [0, 3, 6] and [f.time_s for f, _ in runs] == [0.0, 0.6, 1.2]
    assert all(len(r.faces) == 1 for _, r in runs)
    assert [f.index for f, _ in shipped_analyzer.analyze_video(path, every=2, max_frames=2)] == [0, 2]


def test_closed_analyzer_refuses_work(shipped_bundles_dir, acne_photo):
    with _analyzer(shipped_bundles_dir) as analyzer:
        assert analyzer.info
    assert analyzer.info == {} and analyzer.detector.engine is None
    with pytest.raises(UserError, match="closed"):
        analyzer.analyze(acne_photo)


def test_haar_box_converts_to_a_smaller_extent_box_inside_it(acne_photo):
    det = FaceDetector.create_from_options(FaceDetectorOptions(stand_in="always"))
    assert det.name == "haar-stand-in" and det.is_stand_in and det.info is None
    box = det.detect(acne_photo).boxes[0]
    x, y, w, h = det.to_extent(box)
    assert box.x <= x and box.y <= y and w < box.w and h < box.h


def test_face_detector_defaults_to_the_shipped_bundle(shipped, acne_photo):
    det = FaceDetector.create_from_options(FaceDetectorOptions(base_options=CPU))
    assert det.name == "bundle:face_detector" and str(det.engine.bundle.path) == str(shipped["face_detector"])
    boxes = det.detect(acne_photo).boxes
    assert len(boxes) == 1 and boxes[0].score >= det.min_score
