"""Acne per face: the acne model on a face's skin crop and on its forehead, cheek and chin
patches, combined into one severity (facelite.acne)."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from facelite import acne
from facelite.acne import (ACNE_PATCH_REGIONS, MIN_PATCH_FRACTION, WHOLE_VIEW, AcneGrader, AcneGraderOptions,
                           acne_grade, acne_views, combine_views, grade_index)
from facelite.bundle import GRADE_DECISIONS
from facelite.errors import BundleError
from facelite.face_detector import FaceDetector, FaceDetectorOptions
from facelite.image import load_image
from facelite.landmarker import FaceLandmarker, FaceLandmarkerOptions
from facelite.mean_shape import fit_to_box
from facelite.options import BaseOptions
from facelite.preprocess import prepare
from facelite.regions import face_regions
from facelite.skin_measures import SKIN_CROP_SIZE, face_crop

from facelite_build.package import rewrite_manifest

from fixture_bundles import fixture_bundle, with_unchecked_manifest

FRONTAL = fit_to_box((60, 50, 136, 170))  # a frontal face's 68 points in a 256 px crop


def test_views_are_the_whole_crop_then_a_square_around_each_region():
    views = acne_views(FRONTAL, SKIN_CROP_SIZE)
    assert [n for n, _ in views] == [WHOLE_VIEW, *ACNE_PATCH_REGIONS] and views[0][1] is None
    regions = face_regions(FRONTAL, (SKIN_CROP_SIZE, SKIN_CROP_SIZE))
    for name, (x, y, w, h) in views[1:]:
        (x0, y0), (x1, y1) = regions[name].min(0), regions[name].max(0)
        assert w == h == pytest.approx(max(math.sqrt((x1 - x0) * (y1 - y0)), MIN_PATCH_FRACTION * SKIN_CROP_SIZE))
        assert (x + w / 2, y + h / 2) == pytest.approx(((x0 + x1) / 2, (y0 + y1) / 2))


def test_the_far_cheek_of_a_turned_head_is_left_out():
    turned = FRONTAL.copy()
    nose_x = turned[30, 0]
    image_left = turned[:, 0] < nose_x  # the subject's right side, turned away
    turned[image_left, 0] = nose_x - 0.25 * (nose_x - turned[image_left, 0])
    names = [n for n, _ in acne_views(turned, SKIN_CROP_SIZE)]
    assert "right_cheek" not in names and "left_cheek" in names and "forehead" in names


def test_the_whole_crop_weighs_as_much_as_all_patches_together():
    names = [WHOLE_VIEW, "forehead", "chin"]
    p = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    assert combine_views(names, p).tolist() == [0.5, 0.25, 0.25]
    grade = acne_grade(names, p, ["level0", "level1", "level2"])
    assert grade.severity == pytest.approx(0.75)  # 0.25·1 + 0.25·2
    assert grade.per_region == {"forehead": 2.0, "chin": 1.0} and grade.grade == "level0"
    assert grade.to_json()["probabilities"] == {"level0": 0.5, "level1": 0.25, "level2": 0.25}
    assert combine_views([WHOLE_VIEW], p[1:2]).tolist() == [0.0, 0.0, 1.0]  # no patch: the crop alone


def test_argmax_takes_the_first_of_the_most_probable_labels():
    assert grade_index([0.2, 0.5, 0.3]) == grade_index([0.2, 0.5, 0.3], "argmax") == 1
    assert grade_index([0.4, 0.2, 0.4], "argmax") == 0 and grade_index([0.1, 0.45, 0.45], "argmax") == 1


def test_median_is_the_first_label_whose_cumulative_probability_reaches_a_half():
    assert grade_index([0.45, 0.10, 0.45], "median") == 1  # arg-max: level0
    assert grade_index([0.30, 0.30, 0.40], "median") == 1  # arg-max: level2
    assert grade_index([0.5, 0.0, 0.5], "median") == 0  # exactly a half is reached
    assert grade_index([0.25, 0.25, 0.5], "median") == 1
    assert grade_index([0.0, 0.0, 1.0], "median") == 2 and grade_index([1.0, 0.0, 0.0], "median") == 0
    assert grade_index([0.1, 0.1, 0.1], "median") == 2  # never reaches a half: the last label


def test_the_median_is_summed_in_float64_in_label_order():
    p = np.array([0.49999999, 0.50000001])  # in float32 the first is 0.5 and would be the median
    assert np.float32(p[0]) == 0.5 and grade_index(p, "median") == 1
    q = np.array([0.1, 0.2, 0.2, 0.5])  # 0.1 + 0.2 + 0.2 is 0.5000000000000001 in float64: level 2 reaches it
    assert grade_index(q, "median") == 2


def test_an_unknown_decision_names_the_values_it_takes():
    with pytest.raises(ValueError, match="grade decision 'mode' is not one of argmax, median"):
        grade_index([0.5, 0.5], "mode")
    assert GRADE_DECISIONS == ("argmax", "median")


def test_acne_grade_decides_by_the_decision_and_leaves_severity_and_probabilities_alone():
    names, p = [WHOLE_VIEW, "forehead"], np.array([[0.6, 0.1, 0.3], [0.3, 0.1, 0.6]])  # combined .45/.10/.45
    by = {d: acne_grade(names, p, ["level0", "level1", "level2"], d) for d in GRADE_DECISIONS}
    assert (by["argmax"].grade, by["median"].grade) == ("level0", "level1")
    assert by["argmax"].severity == by["median"].severity and by["argmax"].probabilities == by["median"].probabilities
    assert by["argmax"].to_json() == by["median"].to_json()  # the JSON has no grade: it is unchanged
    assert acne_grade(names, p, ["level0", "level1", "level2"]).grade == "level0"  # the default: argmax


def test_a_bundle_that_takes_whole_photos_is_refused_naming_the_fix():
    with pytest.raises(BundleError, match="takes whole photos.*input crop 'face'"):
        AcneGrader.create_from_bundle(fixture_bundle("tiny"))


@pytest.fixture(scope="module")
def real_crop(acne_photo, shipped):
    base = {name: BaseOptions(bundle_path=shipped[name], accelerator="cpu") for name in ("face_detector", "landmarks")}
    image = load_image(acne_photo)
    with FaceDetector.create_from_options(FaceDetectorOptions(base_options=base["face_detector"])) as det, \
            FaceLandmarker.create_from_options(FaceLandmarkerOptions(base_options=base["landmarks"])) as lm:
        box = det.detect(image).boxes[0]
        points = lm.detect(image, det.to_extent(box)).points
    return face_crop(image, points)


def test_grade_of_a_real_face_is_its_views_run_one_by_one_and_combined(real_crop, shipped):
    options = AcneGraderOptions(base_options=BaseOptions(bundle_path=shipped["acne"], accelerator="cpu"))
    with AcneGrader.create_from_options(options) as grader:
        grade = grader.grade(real_crop)
        views = grader.views(real_crop)
        one_by_one = np.array([[grader.classify_tensor(prepare(real_crop.image, grader.spec, box)[None])[0].scores[l]
                                for l in grader.labels] for _, box in views])
        twice = grader.grade_batch([real_crop, real_crop])
    expected = acne_grade([n for n, _ in views], one_by_one, grader.labels)
    assert grade.severity == pytest.approx(expected.severity, abs=1e-5)
    assert 0.0 <= grade.severity <= 2.0 and sum(grade.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert set(grade.per_region) == {n for n, _ in views} - {WHOLE_VIEW}
    assert [g.severity for g in twice] == pytest.approx([grade.severity] * 2, abs=1e-6)


def test_docstring_examples_run():
    assert doctest.testmod(acne, optionflags=doctest.ELLIPSIS).failed == 0


def _grader(path):
    return AcneGrader.create_from_options(AcneGraderOptions(base_options=BaseOptions(bundle_path=path,
                                                                                     accelerator="cpu")))


def test_grader_grades_by_the_bundle_s_grade_decision(real_crop, shipped, tmp_path):
    """The shipped bundle (no field: argmax) and a copy with `output.grade_decision = "median"`:
    the same severity and probabilities, each face graded by its bundle's decision."""
    median = rewrite_manifest(shipped["acne"], lambda m: m["output"].update(grade_decision="median"),
                              out=tmp_path / "acne.flb")
    spread = ([WHOLE_VIEW, "forehead"], np.array([[0.6, 0.1, 0.3], [0.3, 0.1, 0.6]]))  # combined .45/.10/.45
    grades = {}
    for decision, path in (("argmax", shipped["acne"]), ("median", median)):
        with _grader(path) as grader:
            assert grader.decision == decision
            grade = grader.grade(real_crop)
            assert grade.grade == grader.labels[grade_index(list(grade.probabilities.values()), decision)]
            grader.view_probabilities = lambda crops: [spread] * len(crops)  # a face the two decisions grade apart
            grades[decision] = (grade, grader.grade(real_crop).grade)
    assert grades["argmax"][0].to_json() == grades["median"][0].to_json()
    assert (grades["argmax"][1], grades["median"][1]) == ("level0", "level1")


def test_an_unknown_grade_decision_is_refused_naming_the_bundle_the_field_and_its_values(shipped, tmp_path):
    with pytest.raises(BundleError, match="output.grade_decision"):
        rewrite_manifest(shipped["acne"], lambda m: m["output"].update(grade_decision="mode"), out=tmp_path / "a.flb")
    bad = with_unchecked_manifest(shipped["acne"], tmp_path / "bad.flb",
                                  lambda m: m["output"].update(grade_decision="mode"))
    with pytest.raises(BundleError) as e:
        _grader(bad)
    assert str(e.value) == f'{bad}:manifest.json: output.grade_decision: "mode" is not one of argmax, median'
