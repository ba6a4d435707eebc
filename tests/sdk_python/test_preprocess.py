"""Properties of the preprocessing kernels that the spec promises (docs/preprocessing.md)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facelite import preprocess as pp
from facelite.errors import ImageError
from facelite.image import load_image

RNG = np.random.default_rng(0)


def _smooth(h, w, c=3):
    return cv2.GaussianBlur(RNG.integers(0, 256, (h, w, c), dtype=np.uint8), (5, 5), 2)


@pytest.mark.parametrize("method", pp.RESIZES)
def test_resize_keeps_a_constant_image_constant(method):
    img = np.full((37, 23, 3), 201, np.uint8)
    assert np.all(pp.resize(img, 11, 50, method) == 201)


@pytest.mark.parametrize("method", pp.RESIZES)
def test_resize_weights_sum_to_2048_on_every_row(method):
    for src, dst in ((100, 7), (7, 100), (33, 33), (48, 96), (161, 160)):
        idx, w = pp.resize_taps(src, dst, method)
        assert np.all(w.sum(axis=1) == 2048) and np.all(w >= 0)
        assert idx.min() >= 0 and idx.max() < src


def test_bilinear_stays_within_one_level_of_opencv():
    img = _smooth(120, 90)
    ours = pp.resize(img, 48, 40, "bilinear").astype(int)
    theirs = cv2.resize(img, (40, 48), interpolation=cv2.INTER_LINEAR).astype(int)
    assert np.abs(ours - theirs).max() <= 1


def test_area_halving_is_the_rounded_mean_of_each_2x2_block():
    img = RNG.integers(0, 256, (10, 12, 1), dtype=np.uint8)
    blocks = img.reshape(5, 2, 6, 2, 1).astype(int).sum(axis=(1, 3))
    assert np.array_equal(pp.resize(img, 5, 6, "area").astype(int), (blocks * 2**20 + 2**21) >> 22)


def test_resize_does_not_depend_on_the_pass_order():
    img = _smooth(64, 200)
    # 64→30 rows with 200→190 columns picks one order, the transposed image the other.
    a = pp.resize(img, 30, 190, "area")
    b = pp.resize(np.ascontiguousarray(img.transpose(1, 0, 2)), 190, 30, "area").transpose(1, 0, 2)
    assert np.array_equal(a, b)


def test_gray_of_a_grey_pixel_is_the_pixel_itself():
    v = np.arange(256, dtype=np.uint8)
    bgr = np.stack([v, v, v], axis=1)[None]
    assert np.array_equal(pp.to_color(bgr, "gray")[0, :, 0], v)


def test_rgb_reverses_the_channels():
    bgr = _smooth(4, 5)
    assert np.array_equal(pp.to_color(bgr, "rgb"), bgr[:, :, ::-1])


def test_crop_outside_the_image_repeats_edge_pixels():
    img = np.arange(25, dtype=np.uint8).reshape(5, 5, 1)
    crop, origin = pp.crop_square(img, (-2, -2, 4, 4), 0.0)
    assert origin.tolist() == [-2, -2, 4]
    assert crop[:, :, 0].tolist() == [[0, 0, 0, 1]] * 3 + [[5, 5, 5, 6]]


def test_crop_rounds_half_up_not_to_even():
    _, origin = pp.crop_square(np.zeros((20, 20, 3), np.uint8), (2.5, 3.5, 4, 4), 0.0)
    assert origin.tolist() == [3, 4, 4]


@pytest.mark.parametrize("crop", ["none", "face", "letterbox"])
def test_placement_maps_input_corners_back_onto_the_image(crop):
    spec = pp.InputSpec((1, 32, 32, 3), "rgb", "bilinear", (0,) * 3, (1,) * 3, crop, 0.1)
    img = _smooth(60, 90)
    box = (20.0, 10.0, 30.0, 40.0)
    _, placement = pp.prepare_pixels(img, spec, box)
    corners = placement.to_image([[0, 0], [32, 32]])
    if crop == "none":
        assert corners.tolist() == [[0, 0], [90, 60]]
    elif crop == "letterbox":
        s = 32 / 90  # 60 rows → 21 (rounded), padded by 5 on top
        assert np.allclose(corners, [[0, -5 / s], [90, 27 / s]])
    else:
        assert np.allclose(corners, [[11, 6], [11 + 48, 6 + 48]])  # side 40·1.2 about the centre (35, 30)
    assert np.allclose(placement.to_input(corners), [[0, 0], [32, 32]], atol=1e-4)


def test_identity_warp_returns_the_image():
    img = _smooth(20, 30)
    assert np.array_equal(pp.warp_affine(img, np.array([[1.0, 0, 0], [0, 1.0, 0]]), 30, 20), img)


def test_half_pixel_shift_warp_averages_neighbours():
    img = np.array([[0, 100, 200]], np.uint8)
    out = pp.warp_affine(img, np.array([[1.0, 0, -0.5], [0, 1.0, 0]]), 2, 1)
    assert out.tolist() == [[50, 150]]


def test_quantize_rounds_half_to_even_and_saturates():
    x = np.array([0.5, 1.5, 2.5, -0.5, 1000.0, -1000.0], np.float32)
    assert pp.quantize(x, 1.0, 0, np.int8).tolist() == [0, 2, 2, 0, 127, -128]


def test_prepare_accepts_a_path_bytes_and_an_array_alike(tmp_path):
    img = _smooth(50, 40)
    path = tmp_path / "face.png"
    cv2.imwrite(str(path), img)
    spec = pp.InputSpec((1, 16, 16, 3), "gray_as_rgb", "area", (127.5,) * 3, (127.5,) * 3)
    a = pp.prepare(path, spec)
    assert np.array_equal(a, pp.prepare(path.read_bytes(), spec))
    assert np.array_equal(a, pp.prepare(img, spec))
    assert a.dtype == np.float32 and a.shape == (16, 16, 3)


def test_decoding_applies_exif_orientation():
    from importlib import util
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "make_preprocess_vectors.py"
    module = util.module_from_spec(util.spec_from_file_location("make_vectors", script))
    module.__spec__.loader.exec_module(module)
    src = _smooth(24, 40)
    decoded = load_image(module.exif_orientation_jpeg(src, 6))
    assert decoded.shape == (40, 24, 3)  # rotated 90° clockwise
    assert np.abs(decoded.astype(int) - np.rot90(src, -1).astype(int)).mean() < 4


def test_undecodable_bytes_name_the_problem():
    with pytest.raises(ImageError, match="image bytes"):
        load_image(b"not an image at all")


def test_a_face_crop_is_resized_straight_from_the_image_as_if_cut_first():
    img = _smooth(60, 80)
    spec = pp.InputSpec((1, 24, 24, 3), "gray_as_rgb", "area", (0,) * 3, (1,) * 3, "face", 0.2)
    box = (-10.3, 30.6, 50.0, 44.0)  # partly outside: edge pixels repeat
    crop, _ = pp.crop_square(img, box, 0.2)
    direct, _ = pp.prepare_pixels(img, spec, box)
    assert np.array_equal(direct, pp.resize(pp.to_color(crop, "gray_as_rgb"), 24, 24, "area"))


def test_a_face_box_far_larger_than_the_image_is_a_user_error_not_a_huge_allocation():
    from facelite.errors import UserError

    spec = pp.InputSpec((1, 16, 16, 3), "rgb", "bilinear", (0,) * 3, (1,) * 3, "face", 0.1)
    with pytest.raises(UserError, match="crop"):
        pp.prepare_pixels(np.zeros((20, 30, 3), np.uint8), spec, (0, 0, 1e9, 1e9))
    with pytest.raises(UserError, match="not finite"):
        pp.prepare_pixels(np.zeros((20, 30, 3), np.uint8), spec, (0, 0, float("nan"), 5))
