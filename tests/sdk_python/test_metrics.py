"""facelite.metrics: the one definition of every reported score."""

from types import SimpleNamespace

import numpy as np
import pytest

from facelite import metrics
from facelite.detection import Box


def test_psnr_is_none_for_identical_outputs_because_json_has_no_infinity():
    a = np.array([[0.2, 0.8]])
    assert metrics.psnr_db(a, a) is None
    assert metrics.psnr_db(np.zeros(0), np.zeros(0)) is None


def test_psnr_uses_the_given_peak_else_the_reference_range():
    ref = np.array([0.0, 2.0, 1.0, 1.0])
    assert metrics.psnr_db(ref + 0.01, ref, peak=1.0) == pytest.approx(40.0)
    assert metrics.psnr_db(ref + 0.01, ref) == pytest.approx(10 * np.log10(4 / 1e-4), abs=1e-3)


def test_psnr_takes_outputs_first_and_rounds_to_three_decimals_unless_asked_not_to():
    ref, out = np.array([0.0, 1.0]), np.array([0.0, 1.003])
    exact = metrics.psnr_db(out, ref, decimals=None)
    assert metrics.psnr_db(out, ref) == round(exact, 3) != exact
    assert metrics.psnr_db(out, np.array([0.0, 3.0])) != metrics.psnr_db(np.array([0.0, 3.0]), out)  # peak from reference


def test_psnr_refuses_arrays_of_different_shapes():
    with pytest.raises(ValueError, match="shape"):
        metrics.psnr_db(np.zeros((2, 3)), np.zeros((3, 2)))


def test_accuracy_confusion_and_recall_agree_and_empty_classes_have_no_recall():
    truth, pred = np.array([0, 0, 1, 1, 1]), np.array([0, 1, 1, 1, 0])
    conf = metrics.confusion_matrix(truth, pred, 3)
    assert conf.tolist() == [[1, 1, 0], [1, 2, 0], [0, 0, 0]]
    assert metrics.accuracy(truth, pred) == pytest.approx(np.trace(conf) / conf.sum())
    assert metrics.per_class_recall(conf) == [0.5, pytest.approx(2 / 3), None]
    assert metrics.accuracy([], []) is None


def test_top1_agreement_compares_arg_max_per_row_and_is_none_without_rows():
    out = np.array([[0.1, 0.9], [0.6, 0.4], [0.3, 0.7]])
    ref = np.array([[0.2, 0.8], [0.4, 0.6], [0.1, 0.9]])
    assert metrics.top1_agreement(out, ref) == pytest.approx(2 / 3)
    assert metrics.top1_agreement(np.zeros((0, 2)), np.zeros((0, 2))) is None


def test_max_and_mean_abs_err():
    assert metrics.max_abs_err([1.0, 2.0], [1.5, 2.0]) == 0.5
    assert metrics.mean_abs_err([1.0, 2.0], [1.5, 2.0]) == 0.25
    assert metrics.max_abs_err(np.zeros(0), np.zeros(0)) == 0.0


def test_nme_divides_by_the_outer_eye_corner_distance():
    truth = np.zeros((2, 68, 2))
    truth[:, 45] = (20.0, 0.0)                     # eye corners 36 (0, 0) and 45 (20, 0)
    pred = truth.copy()
    pred[0] += (2.0, 0.0)                          # face 0: every point 2 px off → 0.1
    assert metrics.per_face_nme(pred, truth).tolist() == pytest.approx([0.1, 0.0])


def test_iou_works_on_anything_with_box_attributes():
    a, b = Box(0, 0, 10, 10), SimpleNamespace(x=5, y=0, w=10, h=10)
    assert metrics.iou(a, b) == pytest.approx(50 / 150)
    assert metrics.iou(a, Box(20, 20, 5, 5)) == 0.0
    assert metrics.iou(Box(0, 0, 0, 0), Box(0, 0, 0, 0)) == 0.0


def test_match_detections_counts_recall_precision_and_false_boxes_per_image():
    truth = [[Box(0, 0, 10, 10)], [Box(0, 0, 10, 10)], [Box(0, 0, 10, 10)]]
    found = [[Box(1, 1, 10, 10, 0.9), Box(40, 40, 5, 5, 0.8)],   # hit + a false box
             [Box(30, 30, 10, 10, 0.9)],                          # miss, one false box
             []]                                                  # nothing found
    r = metrics.match_detections(found, truth)
    assert (r["n"], r["n_truth"], r["n_pred"], r["tp"]) == (3, 3, 3, 1)
    assert r["recall"] == pytest.approx(1 / 3) and r["precision"] == pytest.approx(1 / 3)
    assert r["false_boxes_per_image"] == pytest.approx(2 / 3)
    assert r["found"] == [1, 0, 0]


def test_match_detections_lets_each_face_be_claimed_once_best_score_first():
    face = Box(0, 0, 10, 10)
    twice = [Box(0, 0, 10, 10, 0.6), Box(1, 0, 10, 10, 0.9)]
    r = metrics.match_detections([twice], [[face]])
    assert r["tp"] == 1 and r["n_pred"] == 2 and r["false_boxes_per_image"] == 1.0
    low_overlap = metrics.match_detections([[Box(6, 0, 10, 10)]], [[face]])   # IoU 4/16 < 0.5
    assert low_overlap["tp"] == 0 and low_overlap["precision"] == 0.0


def test_match_detections_has_no_ratio_without_a_denominator():
    r = metrics.match_detections([], [])
    assert r["recall"] is None and r["precision"] is None and r["false_boxes_per_image"] is None
    with pytest.raises(ValueError, match="images"):
        metrics.match_detections([[]], [])


def test_metric_docstring_examples_run():
    import doctest

    assert doctest.testmod(metrics, optionflags=doctest.ELLIPSIS).failed == 0


def test_ssim_is_one_for_identical_images_and_falls_with_noise_and_blur():
    import cv2

    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 256, (48, 48, 3)).astype(np.uint8), (0, 0), 1.0)
    assert metrics.ssim(image, image) == pytest.approx(1.0)
    noisy = np.clip(image + rng.normal(0, 20, image.shape), 0, 255)
    blurred = cv2.GaussianBlur(image, (0, 0), 2.0)
    assert metrics.ssim(noisy, image) < 0.9 and metrics.ssim(blurred, image) < 0.9
    assert metrics.ssim(image[:, :, 0], image[:, :, 0]) == pytest.approx(1.0)       # greyscale too


def test_ssim_refuses_images_of_different_shapes_or_smaller_than_its_window():
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.ssim(np.zeros((20, 20)), np.zeros((20, 21)))
    with pytest.raises(ValueError, match="at least 11 pixels"):
        metrics.ssim(np.zeros((10, 40)), np.zeros((10, 40)))
