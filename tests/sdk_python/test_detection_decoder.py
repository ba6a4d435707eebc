"""Heatmap decoding and NMS on synthetic CenterNet-style outputs."""

from dataclasses import replace

import numpy as np
import pytest

from facelite.detection import Box, decode_heatmap, nms
from facelite.metrics import iou


def _maps(hs=16, ws=16):
    return np.zeros((hs, ws, 1), np.float32), np.zeros((hs, ws, 2), np.float32)


def test_two_separate_peaks_decode_to_two_boxes_in_input_pixels():
    heat, size = _maps()
    heat[4, 3, 0], size[4, 3] = 0.9, (0.25, 0.5)    # centre cell (r=4, c=3)
    heat[10, 12, 0], size[10, 12] = 0.7, (0.125, 0.125)
    boxes = decode_heatmap(heat[None], size[None], stride=4, input_size=(64, 64))
    assert [round(b.score, 2) for b in boxes] == [0.9, 0.7]          # best first
    b = boxes[0]
    assert (b.x + b.w / 2, b.y + b.h / 2) == pytest.approx((3.5 * 4, 4.5 * 4))   # cell centre
    assert (b.w, b.h) == pytest.approx((16, 32))                                    # fractions of W, H


def test_offsets_move_the_centre_from_the_cell_corner():
    heat, size = _maps()
    heat[4, 3, 0], size[4, 3] = 0.9, (0.25, 0.25)
    offset = np.zeros((16, 16, 2), np.float32)
    offset[4, 3] = (0.25, 0.75)
    (b,) = decode_heatmap(heat, size, stride=4, input_size=(64, 64), offset=offset)
    assert (b.x + b.w / 2, b.y + b.h / 2) == pytest.approx(((3 + 0.25) * 4, (4 + 0.75) * 4))


def test_only_local_maxima_above_threshold_become_boxes():
    heat, size = _maps()
    size[...] = 0.2
    heat[5, 5, 0], heat[5, 6, 0], heat[6, 5, 0] = 0.9, 0.8, 0.85    # one blob → one peak
    heat[12, 12, 0] = 0.3                                            # below threshold
    boxes = decode_heatmap(heat, size, stride=4, input_size=(64, 64), score_threshold=0.5)
    assert len(boxes) == 1 and boxes[0].score == pytest.approx(0.9)


def test_logit_heatmaps_are_squashed_when_the_manifest_says_so():
    heat, size = _maps()
    size[...] = 0.2
    heat[8, 8, 0] = 2.0
    (b,) = decode_heatmap(heat, size, stride=4, input_size=(64, 64), logits=True,
                            score_threshold=0.6)
    assert b.score == pytest.approx(1 / (1 + np.exp(-2.0)))


def test_nms_keeps_the_best_of_overlapping_boxes_and_separate_ones():
    a, b, c = Box(0, 0, 10, 10, 0.9), Box(1, 1, 10, 10, 0.8), Box(30, 30, 10, 10, 0.5)
    assert iou(a, b) > 0.5 and iou(a, c) == 0
    assert nms([b, c, a], iou_threshold=0.4) == [a, c]
    assert nms([b, c, a], max_boxes=1) == [a]


def test_decoder_applies_nms_to_distinct_peaks_with_big_overlapping_boxes():
    heat, size = _maps()
    size[...] = 0.6                                  # huge boxes: neighbours overlap heavily
    heat[6, 6, 0], heat[6, 8, 0] = 0.9, 0.8          # two local maxima two cells apart
    boxes = decode_heatmap(heat, size, stride=4, input_size=(64, 64), iou_threshold=0.4)
    assert len(boxes) == 1


def test_letterboxed_detector_maps_boxes_back_to_the_photo(bundles, monkeypatch):
    """A box in the middle of a letterboxed 64×64 input lands in the middle of a 200×100 photo."""
    from facelite import BaseOptions
    from facelite.face_detector import FaceDetector, FaceDetectorOptions

    det = FaceDetector.create_from_options(FaceDetectorOptions(
        base_options=BaseOptions(bundle_path=bundles["detector"], accelerator="cpu")))
    det.spec = replace(det.spec, crop="letterbox")
    heat, size = np.zeros((1, 16, 16, 1), np.float32), np.zeros((1, 16, 16, 2), np.float32)
    heat[0, 7, 7, 0], size[0, 7, 7] = 0.9, (0.25, 0.25)     # centre (30, 30) in input pixels, 16×16
    outs = [heat if d.shape[-1] == 1 else size for d in det.engine.output_details]   # 1 channel: heatmap
    monkeypatch.setattr(det.engine, "run_pixels", lambda x, spec=None: outs)
    (b,) = det.detect(np.zeros((100, 200, 3), np.uint8)).boxes
    # 200×100 → scale 0.32, pad_y 16: input (22, 22, 16, 16) → photo ((22-0)/0.32, (22-16)/0.32, 50, 50)
    assert (b.x, b.y, b.w, b.h) == pytest.approx((68.75, 18.75, 50, 50))
