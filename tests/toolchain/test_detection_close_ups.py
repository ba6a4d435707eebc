"""Detector augmentation for close-up photos: faces zoomed past the frame, pushed half out
of it, tilted; their labels (the visible part of the box) and the recipe keys that drive
them (`training.augmentation.close_up`, `close_up_max`, `half_face`, `background`, `rotation`)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import facelite_build  # noqa: F401  (sets TF_USE_LEGACY_KERAS before anything imports TF)
from facelite.datasets import extent_box
from facelite.preprocess import InputSpec
from facelite_build.data import Examples
from facelite_build.detection_augment import MIN_VISIBLE, FaceCloseUps, augment_sample, face_close_ups
from facelite_build.errors import RecipeError
from facelite_build.recipe import AugmentationConfig, load_recipe

REPO = Path(__file__).resolve().parents[2]
SIZE = 96


def _white_faces():
    """Four black pictures, each with a white 'face' filling its box exactly."""
    x = np.zeros((4, SIZE, SIZE, 3), np.uint8)
    y = np.array([[19, 29, 29, 24], [48, 48, 19, 19], [10, 10, 48, 58], [38, 19, 29, 29]], np.float32) / SIZE
    for img, (bx, by, bw, bh) in zip(x, (y * SIZE).astype(int)):
        img[by : by + bh, bx : bx + bw] = 255  # whole pixels: zoomed far, the edges stay put
    return Examples(x, y, ["a"] * 4), FaceCloseUps(x.copy(), y.copy())


@pytest.mark.parametrize("kind", ["close_up", "half_face"])
def test_a_face_cut_by_the_frame_is_labelled_by_its_visible_part(kind):
    examples, close_ups = _white_faces()
    cfg = AugmentationConfig(flip=True, shift=0.2, scale=0.3, **{kind: 1.0})
    rng = np.random.default_rng(1)
    cut = 0
    for trial in range(40):
        img, boxes = augment_sample(examples, trial % 4, rng, cfg, SIZE, close_ups)
        white = img.mean(-1) > 127
        assert len(boxes) <= 1
        if not len(boxes):
            # Only a sliver with the face's centre out of the frame: taught as background.
            assert kind == "half_face" and white.mean() < MIN_VISIBLE
            continue
        bx, by, bw, bh = boxes[0] * SIZE
        assert bx >= 0 and by >= 0 and bx + bw <= SIZE + 1e-3 and by + bh <= SIZE + 1e-3  # inside the frame
        x0, y0, x1, y1 = int(bx), int(by), int(np.ceil(bx + bw)), int(np.ceil(by + bh))
        assert white[y0 + 1 : y1 - 1, x0 + 1 : x1 - 1].mean() > 0.9  # the box holds face ...
        outside = white.copy()
        outside[max(y0 - 1, 0) : y1 + 1, max(x0 - 1, 0) : x1 + 1] = False
        assert not outside.any()  # ... and all of the visible face
        touches = bx < 0.5 or by < 0.5 or bx + bw > SIZE - 0.5 or by + bh > SIZE - 0.5
        cut += touches
        if kind == "close_up":
            assert max(bw, bh) > 0.45 * SIZE and touches  # a close-up fills the frame to at least one edge
        else:
            assert bx < 0.5 or bx + bw > SIZE - 0.5  # pushed out of the left or right edge
    assert cut >= 20


def test_close_up_faces_overflow_the_frame_and_a_full_frame_face_is_one_box():
    x = np.full((1, SIZE, SIZE, 3), 255, np.uint8)  # the whole picture is face
    photo = Examples(x, np.array([[0.0, 0.0, 1.0, 1.0]], np.float32), ["a"])
    cfg = AugmentationConfig(flip=False, close_up=1.0, close_up_max=2.0)
    rng = np.random.default_rng(0)
    for _ in range(10):
        _, boxes = augment_sample(photo, 0, rng, cfg, SIZE, FaceCloseUps(photo.x, photo.y))
        assert len(boxes) == 1
        w, h = boxes[0, 2:] * SIZE
        assert w * h >= 0.25 * SIZE * SIZE - 1  # centre anywhere in the frame: at least a quarter of it


def test_rotated_face_box_is_the_tilted_faces_extent():
    x = np.zeros((1, SIZE, SIZE, 3), np.uint8)
    cv2.ellipse(x[0], (48, 48), (14, 20), 0, 0, 360, (255, 255, 255), -1)
    photo = Examples(x, np.array([[34, 28, 29, 41]], np.float32) / SIZE, ["a"])  # the drawn pixels
    cfg = AugmentationConfig(flip=False, rotation=40)
    rng = np.random.default_rng(3)
    for _ in range(10):
        img, boxes = augment_sample(photo, 0, rng, cfg, SIZE)
        ys, xs = np.nonzero(img.mean(-1) > 127)
        extent = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)
        bx, by, bw, bh = boxes[0] * SIZE
        np.testing.assert_allclose(extent, [bx, by, bx + bw, by + bh], atol=1.5)


def test_background_views_show_no_face_and_have_no_box():
    x = np.full((1, SIZE, SIZE, 3), 60, np.uint8)
    x[0, 10:40, 10:40] = 255  # the face, in the top-left corner
    photo = Examples(x, np.array([[10, 10, 30, 30]], np.float32) / SIZE, ["a"])
    cfg = AugmentationConfig(flip=False, background=1.0)
    rng = np.random.default_rng(0)
    empty = 0
    for _ in range(30):
        img, boxes = augment_sample(photo, 0, rng, cfg, SIZE)
        if not len(boxes):
            empty += 1
            assert (img.mean(-1) < 128).all()  # a window clear of the face
    assert empty >= 15  # the rest: no face-free window found, the photo itself


def test_close_up_crops_hold_the_face_box_of_the_photo(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    points = np.stack([rng.uniform(50, 110, 68), rng.uniform(30, 95, 68)], axis=1).astype(np.float32)
    img_path, pts_path = tmp_path / "face.png", tmp_path / "face.pts"
    cv2.imwrite(str(img_path), image)
    pts_path.write_text("version: 1\nn_points: 68\n{\n" + "".join(f"{x} {y}\n" for x, y in points) + "}\n")
    spec = InputSpec((1, 32, 32, 3), "rgb", "bilinear", (127.5,) * 3, (127.5,) * 3, "letterbox")
    crops = face_close_ups([(img_path, pts_path)], spec, box_margin=0.1)
    assert crops.x.shape == (1, 64, 64, 3) and crops.x.dtype == np.uint8
    x, y, w, h = crops.y[0]
    # The crop is the face box's longer side grown by half of it per side, centred on the box.
    assert max(w, h) == pytest.approx(0.5, abs=0.02)
    assert (x + w / 2, y + h / 2) == pytest.approx((0.5, 0.5), abs=0.02)
    _, _, ew, eh = extent_box(points, 0.1)
    assert w / h == pytest.approx(ew / eh, rel=0.02)


@pytest.mark.parametrize("override, message", [
    ("training.augmentation.close_up=1.5", "training.augmentation.close_up is a probability"),
    ("training.augmentation.half_face=-0.1", "training.augmentation.half_face is a probability"),
    ("training.augmentation.background=2", "training.augmentation.background is a probability"),
    ("training.augmentation.close_up_max=0.8", "training.augmentation.close_up_max .* give a value >= 1"),
    ("training.augmentation.rotation=120", "training.augmentation.rotation .* give a value in \\[0, 90\\]"),
])
def test_bad_close_up_keys_are_refused_naming_the_key(override, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(REPO / "models/face_detector/recipe.toml", [override])


def test_shipped_detector_recipe_trains_on_close_ups():
    a = load_recipe(REPO / "models/face_detector/recipe.toml").training.augmentation
    assert a.close_up > 0 and a.close_up_max > 1 and a.half_face > 0 and a.background > 0
