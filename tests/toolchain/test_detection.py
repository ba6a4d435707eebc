"""Face detector build pieces: heatmap targets, box-consistent augmentation, CenterNet model
and loss, and the toolchain ↔ runtime decoder contract."""

from __future__ import annotations

import numpy as np
import pytest

from facelite.detection import decode_output, split_channels
from facelite_build.centernet import CHANNELS
from facelite_build.detection_targets import make_targets


def test_targets_peak_at_box_centre():
    box = np.array([[0.3, 0.4, 0.2, 0.2]], np.float32)  # centre (0.4, 0.5) → cell (8, 10) of 20
    t = make_targets(box, 160, 8)
    assert t.shape == (20, 20, 6)
    r, c = np.unravel_index(np.argmax(t[..., 0]), t.shape[:2])
    assert (r, c) == (10, 8) and t[r, c, 0] == 1.0
    assert t[..., 5].sum() == 1.0 and t[r, c, 5] == 1.0
    np.testing.assert_allclose(t[r, c, 1:3], [0.2, 0.2])
    np.testing.assert_allclose(t[r, c, 3:5], [0.0, 0.0], atol=1e-6)
    # Off-grid centre: peak on the containing cell, the rest in the offset.
    t = make_targets(np.array([[0.1, 0.1, 0.13, 0.2]], np.float32), 160, 8)
    r, c = np.unravel_index(np.argmax(t[..., 0]), t.shape[:2])
    cx, cy = (0.1 + 0.065) * 20, (0.1 + 0.1) * 20
    assert (r, c) == (int(cy), int(cx))
    np.testing.assert_allclose(t[r, c, 3:5], [cx - int(cx), cy - int(cy)], atol=1e-5)
    # Two faces, two peaks.
    t = make_targets(np.array([[0.05, 0.05, 0.2, 0.2], [0.6, 0.6, 0.3, 0.3]], np.float32), 160, 8)
    assert t[..., 5].sum() == 2 and (t[..., 0] == 1.0).sum() == 2


def test_targets_decode_back_with_the_runtime_decoder():
    box = np.array([0.23, 0.31, 0.37, 0.41], np.float32)
    t = make_targets(box[None], 160, 8)
    packed = t[..., :5]  # heatmap, w, h, dx, dy — the model's output layout
    parts = split_channels(packed, CHANNELS)
    assert parts["heatmap"].shape == (20, 20) and parts["size"].shape == (20, 20, 2)
    boxes = decode_output(packed, {"stride": 8, "channels": CHANNELS}, (160, 160))
    assert len(boxes) == 1
    np.testing.assert_allclose(boxes[0].xywh, box * 160, atol=1e-3)


@pytest.mark.parametrize("mosaic", [0.0, 1.0])
def test_augmentation_moves_boxes_with_pixels(mosaic):
    from facelite_build.data import Examples
    from facelite_build.detection_augment import augment_sample
    from facelite_build.recipe import AugmentationConfig

    size = 96
    x = np.zeros((4, size, size, 3), np.uint8)
    y = np.array([[0.2, 0.3, 0.3, 0.25], [0.5, 0.5, 0.2, 0.2], [0.1, 0.1, 0.5, 0.6], [0.4, 0.2, 0.3, 0.3]], np.float32)
    for img, (bx, by, bw, bh) in zip(x, y * size):
        img[int(round(by)) : int(round(by + bh)), int(round(bx)) : int(round(bx + bw))] = 255
    cfg = AugmentationConfig(flip=True, scale=0.5, shift=0.2, mosaic=mosaic)
    rng = np.random.default_rng(0)
    for trial in range(20):
        img, boxes = augment_sample(Examples(x, y, ["a"] * 4), trial % 4, rng, cfg, size)
        white = img.mean(-1) > 127
        for bx, by, bw, bh in boxes * size:
            x0, y0 = int(max(bx, 0)), int(max(by, 0))
            x1, y1 = int(min(bx + bw, size)), int(min(by + bh, size))
            if x1 - x0 < 4 or y1 - y0 < 4:
                continue
            inner = white[y0 + 1 : y1 - 1, x0 + 1 : x1 - 1]
            assert inner.mean() > 0.9, (trial, bx, by, bw, bh)
        if len(boxes) < (4 if mosaic else 1):
            continue  # a face pushed (mostly) out of the frame is dropped, not labelled
        covered = np.zeros_like(white)
        for bx, by, bw, bh in boxes * size:
            covered[max(int(by) - 1, 0) : int(by + bh) + 2, max(int(bx) - 1, 0) : int(bx + bw) + 2] = True
        assert not (white & ~covered).any()


def _detector_recipe(size: int = 64, channels: int = 16):
    from facelite_build.recipe import DataConfig, HeadConfig, InputConfig, Recipe

    return Recipe("face_detector", "0", "detection", data=DataConfig(layout="pts300w"),
                  input=InputConfig(size=size, crop="letterbox"),
                  head=HeadConfig(type="centernet", stride=8, channels=channels))


def test_centernet_model_output_and_loss():
    import tensorflow as tf

    from facelite_build.centernet import build_centernet, output_layout
    from facelite_build.model import build_backbone
    from facelite_build.tasks.detection import centernet_loss

    r = _detector_recipe()
    model = build_centernet(r, build_backbone(r))
    assert model.output_shape == (None, 8, 8, 5)
    y = model(tf.zeros((2, 64, 64, 3))).numpy()
    assert ((y >= 0) & (y <= 1)).all()
    t = np.stack([make_targets(np.array([[0.2, 0.2, 0.4, 0.4]]), 64, 8)] * 2)
    loss = float(centernet_loss(r)(tf.constant(t), tf.constant(y)))
    assert np.isfinite(loss) and loss > 0
    layout = output_layout(r)
    assert layout["channels"][:3] == ["heatmap", "size_w", "size_h"] and layout["stride"] == 8


def test_detection_metrics_score_perfect_outputs_as_full_recall_without_false_boxes():
    from facelite_build.data import Examples
    from facelite_build.tasks import get_task

    r = _detector_recipe(size=160)
    boxes = np.array([[0.23, 0.31, 0.37, 0.41], [0.1, 0.5, 0.2, 0.25]], np.float32)
    outputs = np.stack([make_targets(b[None], 160, 8)[..., :5] for b in boxes]).reshape(2, -1)
    val = Examples(np.zeros((2, 160, 160, 3), np.uint8), boxes, ["a", "b"])
    m = get_task("detection").metrics(outputs, val, r)
    assert m == {"n": 2, "recall": 1.0, "precision": 1.0, "false_boxes_per_image": 0.0, "iou_threshold": 0.5,
                 "score_threshold": 0.4}
    m = get_task("detection").metrics(outputs[::-1], val, r)   # each image gets the other's box
    assert m["recall"] == 0.0 and m["false_boxes_per_image"] == 1.0
