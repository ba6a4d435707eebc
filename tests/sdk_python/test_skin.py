"""Redness v1 (docs/skin.md): region pixels by the centre-inside rule, a* from 8-bit sRGB,
means in row-major order. The C core is held to the same numbers by
tests/mobile_bindings/test_pipeline_parity.py; these pin the spec's known values."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from facelite.regions import region_mask
from facelite.skin import SKIN_REGIONS, SRGB_TO_LINEAR, a_star, mean_of, redness, skin_result, spec_cbrt


def bgr(b: int, g: int, r: int) -> np.ndarray:
    return np.array([[[b, g, r]]], np.uint8)


def test_white_and_greys_have_a_star_exactly_zero():
    assert a_star(bgr(255, 255, 255))[0, 0] == 0.0
    for v in (0, 1, 10, 128, 200):
        assert abs(a_star(bgr(v, v, v))[0, 0]) < 1e-12, v


def test_pure_srgb_red_green_and_blue_have_the_textbook_a_star():
    assert a_star(bgr(0, 0, 255))[0, 0] == pytest.approx(80.09, abs=0.01)
    assert a_star(bgr(0, 255, 0))[0, 0] == pytest.approx(-86.18, abs=0.01)
    assert a_star(bgr(255, 0, 0))[0, 0] == pytest.approx(79.19, abs=0.01)


def test_the_linear_table_is_the_srgb_curve():
    assert SRGB_TO_LINEAR[0] == 0.0 and SRGB_TO_LINEAR[255] == 1.0
    assert SRGB_TO_LINEAR[10] == (10 / 255) / 12.92            # linear segment
    assert SRGB_TO_LINEAR[128] == pytest.approx(0.21586, abs=1e-5)
    assert (np.diff(SRGB_TO_LINEAR) > 0).all()


def test_spec_cbrt_is_within_one_ulp_of_the_exact_cube_root():
    t = np.concatenate([np.linspace(216 / 24389, 1.01, 4001), [1 / 512, 0.015625, 0.125, 1.0]])
    y = spec_cbrt(t)
    for yi, ti in zip(y, t):
        fy, ft = Fraction(float(yi)), Fraction(float(ti))
        root = fy - (fy ** 3 - ft) / (3 * fy * fy)  # one exact Newton step: the root to far below an ulp
        assert abs(fy - root) <= Fraction(float(np.spacing(yi))), ti
    assert spec_cbrt(np.array([0.125, 1.0])).tolist() == [0.5, 1.0]


def test_a_square_covers_the_pixels_whose_centres_are_inside():
    square = np.array([[2, 2], [6, 2], [6, 6], [2, 6]], np.float32)
    m = region_mask(square, (10, 10, 3))
    assert m.count == 16 and (m.x0, m.y0) == (2, 2)
    assert all(m.contains(x, y) for x in range(2, 6) for y in range(2, 6))
    assert not m.contains(6, 2) and not m.contains(1, 3)
    # edges through pixel centres: a centre on the left or top edge is in, on the right or bottom one out
    half = np.array([[2.5, 2.5], [5.5, 2.5], [5.5, 5.5], [2.5, 5.5]], np.float32)
    assert region_mask(half, (10, 10)).count == 9


def test_a_triangle_holds_about_its_area_and_the_mask_stays_in_its_bounding_box():
    tri = np.array([[100.2, 50.7], [400.9, 80.1], [180.3, 300.6]], np.float32)
    m = region_mask(tri, (2000, 3000))
    area = 0.5 * abs((400.9 - 100.2) * (300.6 - 50.7) - (180.3 - 100.2) * (80.1 - 50.7))
    assert abs(m.count - area) < 0.01 * area
    assert (m.x0, m.y0) == (100, 50) and m.mask.shape == (251, 301)   # never a whole-image mask


def test_a_polygon_beyond_the_image_is_clipped_and_a_degenerate_one_is_empty():
    m = region_mask(np.array([[-5, -5], [3, -5], [3, 3], [-5, 3]], np.float32), (4, 4))
    assert (m.x0, m.y0, m.count) == (0, 0, 9)
    assert region_mask(np.array([[1, 1], [2, 2]], np.float32), (4, 4)).count == 0
    assert region_mask(np.array([[1, 1], [np.nan, 2], [3, 1]], np.float32), (4, 4)).count == 0


def test_the_mean_adds_in_order_and_is_nan_for_no_pixel():
    values = np.array([1e16, 1.0, -1e16, 1.0])
    assert mean_of(values) == ((((0.0 + 1e16) + 1.0) - 1e16) + 1.0) / 4
    assert math.isnan(mean_of(np.array([])))


def test_redness_counts_a_pixel_in_two_skin_regions_once():
    image = np.zeros((20, 20, 3), np.uint8)
    image[:, :10] = (0, 0, 255)      # red left half
    image[:, 10:] = (255, 255, 255)  # white right half
    left = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], np.float32)   # 100 red pixels
    wide = np.array([[5, 0], [15, 0], [15, 10], [5, 10]], np.float32)   # 50 red, 50 white
    overall, per_region = redness(image, {"forehead": left, "nose": wide,
                                          "left_under_eye": np.array([[0, 10], [20, 10], [20, 20]], np.float32)})
    red = a_star(bgr(0, 0, 255))[0, 0]
    assert per_region["forehead"] == pytest.approx(red) and per_region["nose"] == pytest.approx(red / 2)
    assert overall == pytest.approx(red * 100 / 150)   # the union: 100 red + 50 white, under-eye left out
    assert "left_under_eye" not in SKIN_REGIONS and per_region["left_under_eye"] == pytest.approx(red * 0.25, rel=0.2)


def test_without_regions_redness_is_the_mean_over_the_box():
    image = np.zeros((10, 10, 3), np.uint8)
    image[2:6, 2:6] = (0, 0, 255)
    result = skin_result(image, None, box=(2, 2, 4, 4))
    assert result.scores["redness"] == pytest.approx(a_star(bgr(0, 0, 255))[0, 0]) and result.region_redness == {}
