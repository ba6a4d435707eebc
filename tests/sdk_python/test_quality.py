"""The capture quality gate (`facelite.quality`): head pose, landmark measures and the checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from facelite.datasets import extent_box, pts_pairs, read_pts
from facelite.mean_shape import IBUG_MIRROR, fit_to_box
from facelite.quality import (CAPTURE_CHECKS, CHECK_CODES, CHECK_RULES, HEAD_MODEL, LOW_RESOLUTION_FACE_PX,
                              MAX_TILT_DEG, MAX_YAW_DEG, MIN_FACE_SCALE_PX, POSE_POINTS, RESTORABLE_CHECKS,
                              RESTORATION_TOLERATES,
                              assess_capture, eye_aspect_ratio, face_scale, face_unseen, head_pose)

FACE_BOX = (100.0, 100.0, 200.0, 220.0)
IMAGE = (400, 400)


def good_capture() -> dict[str, float]:
    """Every capture measure comfortably on the passing side of its threshold."""
    rules = {r.code: r for r in CHECK_RULES}
    capture = {m: rules[c].threshold * (2.0 if rules[c].at_least else 0.5) for c, m in CAPTURE_CHECKS.items()}
    return {**capture, "skin_lightness": 60.0, "dark_fraction": 0.0, "sclera_pixels": 200.0}


def posed_points(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0, scale: float = 80.0) -> np.ndarray:
    """68 points whose pose points are `HEAD_MODEL` rotated (roll · pitch · yaw) and seen by an
    orthographic camera; the other points are the mean shape (the fit ignores them)."""
    y, p, r = (math.radians(a) for a in (yaw, pitch, roll))
    ry = np.array([[math.cos(y), 0, -math.sin(y)], [0, 1, 0], [math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), math.sin(p)], [0, -math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    points = fit_to_box(FACE_BOX).astype(np.float64)
    points[list(POSE_POINTS)] = (HEAD_MODEL @ (rz @ rx @ ry).T)[:, :2] * scale + 200.0
    return points.astype(np.float32)


def mirrored(points: np.ndarray, width: float = 400.0) -> np.ndarray:
    out = np.asarray(points, np.float32)[IBUG_MIRROR].copy()
    out[:, 0] = width - out[:, 0]
    return out


@pytest.mark.parametrize("angles", [(0, 0, 0), (30, 0, 0), (-60, 0, 0), (0, 20, 0), (0, -35, 0), (0, 0, 40),
                                    (0, 0, -15)])
def test_head_pose_recovers_the_rotation_of_the_head_model(angles):
    pose = head_pose(posed_points(*angles))
    assert (pose.yaw, pose.pitch, pose.roll) == pytest.approx(angles, abs=1e-4)


def test_head_pose_signs_follow_the_image_yaw_right_pitch_up_roll_clockwise():
    turned_right, chin_up, leaning_clockwise = posed_points(yaw=30), posed_points(pitch=20), posed_points(roll=20)
    frontal = posed_points()
    assert turned_right[30, 0] > frontal[30, 0]                        # the nose tip moves to the image right
    assert chin_up[30, 1] - chin_up[27, 1] < frontal[30, 1] - frontal[27, 1]  # the nose looks shorter from below
    assert leaning_clockwise[45, 1] > leaning_clockwise[36, 1]         # the eye line slopes down to the right


def test_a_mirrored_face_has_the_opposite_yaw_and_roll_and_the_same_pitch(shared_data):
    pairs = pts_pairs(shared_data / "landmarks300w" / "afw")[::20]
    for _, pts in pairs:
        points = read_pts(pts)
        pose, flipped = head_pose(points), head_pose(mirrored(points, 1000.0))
        assert flipped.yaw == pytest.approx(-pose.yaw, abs=1e-3)
        assert flipped.roll == pytest.approx(-pose.roll, abs=1e-3)
        assert flipped.pitch == pytest.approx(pose.pitch, abs=1e-3)


def test_yaw_sign_follows_the_nose_on_real_annotations(shared_data):
    """On every clearly turned AFW face (|yaw| > 20°) the nose tip lies toward the side the
    yaw names, relative to the midpoint of the outer eye corners (an independent cue)."""
    turned = 0
    for _, pts in pts_pairs(shared_data / "landmarks300w" / "afw"):
        points = read_pts(pts)
        yaw = head_pose(points).yaw
        if abs(yaw) > 20:
            turned += 1
            assert math.copysign(1, points[30, 0] - (points[36, 0] + points[45, 0]) / 2) == math.copysign(1, yaw), pts
    assert turned >= 30


def test_degenerate_points_give_nan_angles_that_fail_the_pose_checks():
    points = np.zeros((68, 2), np.float32)
    assert math.isnan(head_pose(points).yaw)
    failed = assess_capture(points, None, IMAGE).failed
    assert {"head_turned", "head_tilted", "face_too_small"} <= set(failed)


def test_eye_aspect_ratio_drops_when_the_lids_meet():
    points = fit_to_box(FACE_BOX)
    open_ratio = eye_aspect_ratio(points)
    shut = points.copy()
    for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
        shut[upper] = shut[lower] = (points[upper] + points[lower]) / 2
    assert open_ratio > 0.2 and eye_aspect_ratio(shut) == 0.0
    assert assess_capture(shut, None, IMAGE).failed == ["eyes_closed"]


def test_face_scale_is_the_eye_distance_of_a_frontal_face_and_holds_on_a_turned_one():
    frontal = fit_to_box((100, 100, 240, 200))
    eyes = float(np.linalg.norm(frontal[42:48].mean(0) - frontal[36:42].mean(0)))
    assert face_scale(frontal) == pytest.approx(eyes, rel=1e-6)
    narrow = frontal.copy()
    narrow[:, 0] = 220 + (narrow[:, 0] - 220) * 0.4          # a strongly turned head: eyes close together
    mouth = (narrow[48] + narrow[54]) / 2
    eye_mid = (narrow[36:42].mean(0) + narrow[42:48].mean(0)) / 2
    assert face_scale(narrow) == pytest.approx(0.9 * float(np.linalg.norm(mouth - eye_mid)), rel=1e-6)


def test_small_faces_are_low_resolution_then_too_small():
    points = fit_to_box(FACE_BOX)
    scale = face_scale(points)
    at = lambda s: assess_capture((points - 200) * s / scale + 200, None, IMAGE)  # noqa: E731
    assert at(LOW_RESOLUTION_FACE_PX * 1.01).failed == []
    low = at(LOW_RESOLUTION_FACE_PX * 0.95)
    assert low.failed == ["low_resolution"] and not low.restorable and not low.reliable
    small = at(MIN_FACE_SCALE_PX * 0.95)
    assert small.failed == ["face_too_small", "low_resolution"] and not small.restorable
    assert small.checks[0].message.startswith("Move closer")


def test_a_face_leaving_the_frame_or_disagreeing_with_the_detector_is_occluded():
    points = fit_to_box(FACE_BOX)
    assert face_unseen(points, FACE_BOX, IMAGE) < 0.01
    assert face_unseen(points, None, (200, 400)) == pytest.approx(0.5, abs=0.01)      # half the face past x = 200
    assert face_unseen(points, (100, 210, 200, 220), IMAGE) > 0.5                       # the detector saw lower
    assert assess_capture(points, None, (170, 400)).failed == ["occluded"]
    assert assess_capture(points, FACE_BOX, IMAGE).failed == []


def test_turned_and_tilted_heads_fail_their_checks_at_the_thresholds():
    assert assess_capture(posed_points(yaw=MAX_YAW_DEG - 1), None, IMAGE).failed == []
    assert assess_capture(posed_points(yaw=-(MAX_YAW_DEG + 1)), None, IMAGE).failed == ["head_turned"]
    assert assess_capture(posed_points(roll=MAX_TILT_DEG + 1), None, IMAGE).failed == ["head_tilted"]
    assert assess_capture(posed_points(pitch=-(MAX_TILT_DEG + 1)), None, IMAGE).failed == ["head_tilted"]


def test_each_capture_measure_fails_only_its_own_check():
    points = fit_to_box(FACE_BOX)
    good = good_capture()
    assert assess_capture(points, FACE_BOX, IMAGE, good).reliable
    rules = {r.code: r for r in CHECK_RULES}
    for code, measure in CAPTURE_CHECKS.items():
        bad = dict(good, **{measure: rules[code].threshold * (0.5 if rules[code].at_least else 2.0)})
        quality = assess_capture(points, FACE_BOX, IMAGE, bad)
        assert quality.failed == [code] and not quality.reliable
        assert quality.restorable == (code in RESTORABLE_CHECKS)
        assert quality.messages() == [rules[code].message]


def test_a_nan_measure_fails_and_a_missing_one_is_not_checked():
    points = fit_to_box(FACE_BOX)
    quality = assess_capture(points, FACE_BOX, IMAGE, dict(good_capture(), sharpness=math.nan))
    assert quality.failed == ["blur"] and quality.to_json()["checks"][CHECK_CODES.index("blur")]["value"] is None
    partial = {k: v for k, v in good_capture().items() if k != "noise"}
    assert "noisy" not in [c.code for c in assess_capture(points, FACE_BOX, IMAGE, partial).checks]
    assert [c.code for c in assess_capture(points, FACE_BOX, IMAGE).checks] == list(CHECK_CODES[:6])


def test_restoration_is_offered_for_noise_alone_or_with_low_resolution_and_never_for_low_resolution_alone():
    points = fit_to_box(FACE_BOX)
    noisy = dict(good_capture(), noise=100.0)
    assert assess_capture(points, FACE_BOX, IMAGE, noisy).restorable
    assert not assess_capture(points, FACE_BOX, IMAGE, dict(noisy, sharpness=0.0)).restorable
    assert not assess_capture(points, FACE_BOX, IMAGE, good_capture()).restorable
    scale = face_scale(points)
    low = (points - 200) * LOW_RESOLUTION_FACE_PX * 0.95 / scale + 200
    low_box = extent_box(low)
    assert assess_capture(low, low_box, IMAGE, noisy).failed == ["low_resolution", "noisy"]
    assert assess_capture(low, low_box, IMAGE, noisy).restorable
    assert not assess_capture(low, low_box, IMAGE, good_capture()).restorable


def test_the_report_lists_every_check_in_order_with_code_value_threshold_and_message():
    quality = assess_capture(fit_to_box(FACE_BOX), FACE_BOX, IMAGE, good_capture())
    doc = quality.to_json()
    assert doc["reliable"] is True
    assert [c["code"] for c in doc["checks"]] == list(CHECK_CODES)
    assert all(set(c) == {"code", "passed", "value", "threshold", "message"} for c in doc["checks"])
    assert len(set(CHECK_CODES)) == 12 and RESTORABLE_CHECKS == ("noisy",)
    assert RESTORATION_TOLERATES == ("low_resolution",)


def test_underexposure_reads_the_light_not_the_skin_tone(shared_data):
    """A dark-skinned face in good light (HELEN 13601448_1: skin L* 26) passes
    `underexposed`; a light face (HELEN 100466187_1: skin L* 80) two stops under (× 0.25 in
    linear light) fails it, though its skin is then no darker than the first one's."""
    from facelite import BaseOptions
    from facelite.image import load_image
    from facelite.skin_measures import SkinMeasurer, SkinMeasurerOptions, linear_to_srgb8, srgb_to_linear

    helen = shared_data / "landmarks300w" / "helen_train"
    with SkinMeasurer.create_from_options(SkinMeasurerOptions(base_options=BaseOptions(accelerator="cpu"))) as m:
        def verdict(name: str, exposure: float):
            image, points = load_image(helen / f"{name}.jpg"), read_pts(helen / f"{name}.pts")
            if exposure != 1.0:
                image = linear_to_srgb8(srgb_to_linear(image) * exposure)
            capture = m.measure(image, points).capture
            check = next(c for c in assess_capture(points, None, image.shape[1::-1], capture).checks
                         if c.code == "underexposed")
            return check.passed, capture["skin_lightness"]

        dark_skin, dark_skin_lightness = verdict("13601448_1", 1.0)
        light_face, _ = verdict("100466187_1", 1.0)
        darkened, darkened_lightness = verdict("100466187_1", 0.25)
    assert dark_skin and light_face and not darkened
    assert dark_skin_lightness < 30 < darkened_lightness
