"""facelite.tasks: the runtime's one place for what each task means."""

from types import SimpleNamespace

import numpy as np
import pytest

from facelite import tasks
from facelite.detection import Box
from facelite.errors import BundleError
from facelite.preprocess import InputSpec, Placement


def _bundle(task, **manifest):
    return SimpleNamespace(task=task, path="x.flb", manifest=manifest)


def test_every_manifest_task_is_registered_under_its_name():
    assert sorted(tasks.TASKS) == ["classification", "detection", "image_to_image", "landmarks", "skin_metrics"]
    assert all(tasks.get_task(name).name == name for name in tasks.TASKS)


def test_an_unknown_task_is_a_bundle_error_naming_the_known_ones():
    with pytest.raises(BundleError, match="unknown task 'pose'.*classification, detection, image_to_image, landmarks, skin_metrics"):
        tasks.get_task("pose")


def test_require_task_says_what_the_bundle_is_and_who_needs_what():
    assert tasks.require_task(_bundle("landmarks"), "landmarks", "FaceLandmarker").name == "landmarks"
    with pytest.raises(BundleError, match="is a 'detection' bundle; FaceLandmarker needs 'landmarks'"):
        tasks.require_task(_bundle("detection"), "landmarks", "FaceLandmarker")


def test_only_classification_needs_labels_in_its_manifest():
    assert [n for n, t in tasks.TASKS.items() if t.needs_labels] == ["classification"]
    check = tasks.get_task("classification").check_manifest
    assert check({"labels": ["a", "b"]}) == []
    assert "non-empty 'labels'" in check({"labels": []})[0]
    assert "twice" in check({"labels": ["a", "a"]})[0]


def test_manifest_checks_of_landmarks_and_detection():
    assert tasks.get_task("landmarks").check_manifest({"output": {"kind": "points", "points": 68}}) == []
    assert "68 points" in tasks.get_task("landmarks").check_manifest({"output": {"points": 5}})[0]
    detection = tasks.get_task("detection").check_manifest
    assert detection({"output": {"kind": "heatmap", "stride": 8}}) == []
    assert len(detection({"output": {"kind": "boxes"}})) == 2


def test_classification_scores_softmax_logits_and_keep_probabilities():
    task = tasks.get_task("classification")
    logits = np.array([[2.0, 0.0, -1.0]])
    probs = task.scores(logits, {"kind": "logits"})
    assert probs.sum() == pytest.approx(1.0) and probs.argmax() == 0
    assert np.array_equal(task.scores(probs, {"kind": "probabilities"}), probs)


def test_agreement_is_top1_for_classifiers_and_none_for_other_tasks():
    out, ref = np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([[0.6, 0.4], [0.7, 0.3]])
    assert tasks.get_task("classification").agreement(out, ref) == 0.5
    assert tasks.get_task("landmarks").agreement(out, ref) is None
    assert tasks.get_task("detection").agreement(out, ref) is None


def test_verify_statistics_are_the_tasks_own():
    out, ref = np.array([[0.9, 0.1]]), np.array([[0.6, 0.4]])
    assert tasks.get_task("classification").compare(out, ref) == {"top1_agreement": 1.0}
    assert tasks.get_task("landmarks").compare(out, ref) == {}


def test_psnr_peak_is_one_for_outputs_in_unit_range():
    assert tasks.get_task("classification").psnr_peak({"kind": "probabilities"}) == 1.0
    assert tasks.get_task("classification").psnr_peak({"kind": "logits"}) is None
    assert tasks.get_task("landmarks").psnr_peak({}) == 1.0
    assert tasks.get_task("detection").psnr_peak({"heatmap_activation": "logits"}) is None


def test_landmark_points_are_68_pairs_mapped_through_the_placement():
    task = tasks.get_task("landmarks")
    out = np.full((2, 136), 0.5, np.float32)
    assert task.points(out).shape == (2, 68, 2)
    spec = InputSpec((1, 100, 100, 3), "rgb", "bilinear", (0,) * 3, (1,) * 3, "face")
    placed = task.to_image(task.points(out)[0], Placement((10.0, 20.0), (2.0, 2.0)), spec)
    assert placed[0].tolist() == [110.0, 120.0]                   # 0.5 · 100 px · 2 + origin
    with pytest.raises(BundleError, match="136 values"):
        task.points(np.zeros((1, 10)))


class _FakeEngine:
    def __init__(self, names, channels, variant="fp32"):
        self.variant = variant
        self.output_names = names
        self.output_details = [SimpleNamespace(shape=(1, 16, 16, c)) for c in channels]


@pytest.mark.parametrize("spec, names, channels, roles", [
    ({"channels": ["heatmap", "size_w", "size_h"]}, ["out"], [3], {"packed": 0}),
    ({"outputs": {"heatmap": "b", "size": "a"}}, ["a", "b"], [2, 1], {"heatmap": 1, "size": 0}),
    ({}, ["StatefulPartitionedCall:1", "size"], [1, 2], {"heatmap": 0, "size": 1}),   # size by name, heat by count
    ({}, ["x_size", "x_heatmap", "x_offset"], [2, 1, 2], {"heatmap": 1, "size": 0, "offset": 2}),
    ({}, ["y"], [5], {"packed": 0}),
])
def test_detection_output_roles_are_matched_by_manifest_name_or_channels(spec, names, channels, roles):
    assert tasks.get_task("detection").output_roles(spec, names, channels) == roles


def test_detection_outputs_that_cannot_be_told_apart_are_a_bundle_error():
    with pytest.raises(BundleError, match="cannot tell the heatmap/size/offset outputs apart"):
        tasks.get_task("detection").output_roles({}, ["p", "q"], [4, 4], "det.flb")


def _detector_bundle(**output):
    spec = InputSpec((1, 64, 64, 3), "rgb", "bilinear", (127.5,) * 3, (127.5,) * 3, "letterbox")
    return SimpleNamespace(task="detection", path="det.flb", input_spec=spec,
                           manifest={"output": {"kind": "heatmap", "stride": 4, **output}})


def test_detection_decoder_uses_the_manifest_operating_point_and_maps_boxes_to_the_photo():
    bundle = _detector_bundle(channels=["size_w", "size_h", "heatmap", "offset_x", "offset_y"],
                              score_threshold=0.3, box_margin=0.25)
    task = tasks.get_task("detection")
    dec = task.decoder(bundle, _FakeEngine(["out"], [5]))
    assert (dec.score_threshold, dec.iou_threshold, dec.max_boxes) == (0.3, 0.4, tasks.MAX_FACES)
    packed = np.zeros((16, 16, 5), np.float32)
    packed[7, 7] = (0.25, 0.25, 0.35, 0.5, 0.5)          # centre (30, 30), 16×16 input pixels
    (box,) = dec.boxes([packed])
    assert (box.x, box.y, box.w, box.h) == pytest.approx((22, 22, 16, 16))
    # a 200×100 photo letterboxed into 64×64: scale 0.32, 16 px of padding on top
    placement = Placement((0.0, -16 / 0.32), (1 / 0.32, 1 / 0.32))
    (photo,) = dec.to_image([box], placement, (200, 100))
    assert (photo.x, photo.y, photo.w, photo.h) == pytest.approx((68.75, 18.75, 50, 50))
    extent = task.to_extent(photo, bundle.manifest["output"])
    assert (extent.w, extent.h) == pytest.approx((50 / 1.5, 50 / 1.5))


def test_detection_decoder_drops_weak_boxes_and_slivers_and_clips_to_the_photo():
    dec = tasks.get_task("detection").decoder(_detector_bundle(), _FakeEngine(["heatmap", "size"], [1, 2]),
                                              score_threshold=0.5, max_boxes=2)
    identity = Placement((0.0, 0.0), (1.0, 1.0))
    boxes = [Box(-10, -10, 30, 30, 0.9), Box(5, 5, 10, 10, 0.4), Box(63.5, 0, 10, 10, 0.8), Box(0, 0, 5, 5, 0.7),
             Box(1, 1, 5, 5, 0.6)]
    kept = dec.to_image(boxes, identity, (64, 64))
    assert [(b.x, b.y, b.w, b.h) for b in kept] == [(0, 0, 20, 20), (0, 0, 5, 5)]


def test_detection_decoder_reads_separate_heatmap_and_size_outputs():
    dec = tasks.get_task("detection").decoder(_detector_bundle(), _FakeEngine(["size", "heatmap"], [2, 1]))
    heat, size = np.zeros((16, 16, 1), np.float32), np.zeros((16, 16, 2), np.float32)
    heat[4, 3, 0], size[4, 3] = 0.9, (0.25, 0.5)
    (box,) = dec.boxes([size, heat])
    assert (box.x + box.w / 2, box.y + box.h / 2, box.w, box.h) == pytest.approx((14, 18, 16, 32))


def test_tasks_docstring_examples_run():
    import doctest

    assert doctest.testmod(tasks, optionflags=doctest.ELLIPSIS).failed == 0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_landmark_outputs_that_are_not_finite_are_a_bundle_error(bad):
    """A re-signed model with one flipped byte output NaN points; fed on, OpenCV's polygon
    fill hung on them (fuzz seed 17, bundle:536). A damaged model is exit 2, not a hang."""
    out = np.full((2, 136), 0.5, np.float32)
    out[1, 7] = bad
    with pytest.raises(BundleError, match="NaN or infinite coordinates"):
        tasks.get_task("landmarks").points(out)
    assert tasks.get_task("landmarks").points(out[:1]).shape == (1, 68, 2)
