"""Acne per face: the acne model on a face's skin crop and on its forehead, cheek and chin
patches, combined into one severity (facelite.acne)."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from facelite import acne
from facelite.acne import (ACNE_PATCH_REGIONS, MIN_PATCH_FRACTION, WHOLE_VIEW, AcneGrader, AcneGraderOptions,
                           acne_grade, acne_views, combine_views)
from facelite.errors import BundleError
from facelite.face_detector import FaceDetector, FaceDetectorOptions
from facelite.image import load_image
from facelite.landmarker import FaceLandmarker, FaceLandmarkerOptions
from facelite.mean_shape import fit_to_box
from facelite.options import BaseOptions
from facelite.preprocess import prepare
from facelite.regions import face_regions
from facelite.skin_measures import SKIN_CROP_SIZE, face_crop

from fixture_bundles import fixture_bundle

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
