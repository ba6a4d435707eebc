"""Containment NMS: a box lying mostly inside a better one is the same face, whatever the IoU.

The shipped detector puts a second, weaker peak on an ear next to a close-up face; the
ear's box is small, so its IoU with the face box stays far under `output.iou_threshold`.
`output.containment_threshold` (docs/bundle.md) makes NMS also drop a box when that share
of the smaller of the two lies inside the other. A manifest without it decodes as before.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from facelite.bundle import validate_manifest
from facelite.detection import Box, containment, decode_heatmap, nms
from facelite.errors import BundleError
from facelite.metrics import iou
from facelite.paths import bundle_in, shipped_bundles_dir
from facelite.tasks import get_task

FACE = Box(0, 0, 100, 100, 0.9)
EAR = Box(-10, 30, 30, 30, 0.5)  # two thirds of it inside the face box


def test_containment_is_the_share_of_the_smaller_box_inside_the_other():
    assert containment(FACE, EAR) == containment(EAR, FACE) == pytest.approx(2 / 3)
    assert containment(FACE, Box(20, 20, 10, 10)) == 1.0
    assert containment(FACE, Box(200, 0, 10, 10)) == 0.0
    assert containment(FACE, Box(0, 0, 0, 10)) == 0.0  # an empty box lies nowhere


def test_nms_by_iou_keeps_a_small_box_inside_a_face_and_containment_drops_it():
    assert iou(FACE, EAR) < 0.1
    assert nms([EAR, FACE]) == [FACE, EAR]
    assert nms([EAR, FACE], containment_threshold=0.5) == [FACE]


def test_a_share_equal_to_the_threshold_is_dropped_and_one_below_is_kept():
    share = containment(FACE, EAR)
    assert nms([EAR, FACE], containment_threshold=share) == [FACE]
    assert nms([EAR, FACE], containment_threshold=share + 1e-9) == [FACE, EAR]


def test_a_weaker_larger_box_around_a_better_one_is_dropped_too():
    """The smaller box may be the better one (ACNE04 level2_46: a peak on the ear beats the
    whole-frame close-up face); the weaker of the two goes, as IoU NMS would drop it."""
    around = Box(-50, -50, 300, 300, 0.4)
    assert nms([around, FACE], containment_threshold=0.9) == [FACE]


def test_neighbouring_faces_that_overlap_a_little_are_both_kept():
    left, right = Box(0, 0, 100, 100, 0.9), Box(80, 0, 100, 100, 0.8)  # 20% of each inside the other
    assert nms([left, right], containment_threshold=0.5) == [left, right]


def test_decode_heatmap_applies_the_containment_rule():
    heat, size = np.zeros((16, 16), np.float32), np.zeros((16, 16, 2), np.float32)
    heat[8, 8], size[8, 8] = 0.9, (0.75, 0.75)    # a face filling most of the 64 px input
    heat[8, 2], size[8, 2] = 0.6, (0.25, 0.25)    # a small box at its left edge
    kwargs = {"stride": 4, "input_size": (64, 64), "score_threshold": 0.5}
    assert len(decode_heatmap(heat, size, **kwargs)) == 2
    assert [b.score for b in decode_heatmap(heat, size, containment_threshold=0.5, **kwargs)] == [pytest.approx(0.9)]


def _detector_manifest() -> dict:
    path = bundle_in(shipped_bundles_dir(), "face_detector")
    if path is None:
        pytest.skip("no shipped face_detector bundle")
    from facelite.bundle import Bundle

    with Bundle.open(path) as bundle:
        return copy.deepcopy(bundle.manifest)


@pytest.mark.parametrize("value", [0, -0.1, 1.5, "0.5"])
def test_a_containment_threshold_outside_0_1_is_refused(value):
    manifest = _detector_manifest()
    manifest["output"]["containment_threshold"] = value
    with pytest.raises(BundleError, match="containment_threshold"):
        validate_manifest(manifest)
    problems = get_task("detection").check_manifest(manifest)
    assert any("output.containment_threshold" in p for p in problems), problems


def test_a_manifest_without_the_field_decodes_by_iou_only():
    manifest = _detector_manifest()
    manifest["output"].pop("containment_threshold", None)
    validate_manifest(manifest)
    assert get_task("detection").check_manifest(manifest) == []
    manifest["output"]["containment_threshold"] = 1.0
    validate_manifest(manifest)
    assert get_task("detection").check_manifest(manifest) == []
