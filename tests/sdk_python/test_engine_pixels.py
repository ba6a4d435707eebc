"""Pixels in (`Engine.run_pixels`): steps 5–6 fused into the engine give the float path's
numbers bit for bit, on every shipped bundle's goldens, and results stay the caller's."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from facelite.bundle import Bundle
from facelite.engine import Engine
from facelite.errors import UserError
from facelite.preprocess import (InputSpec, dequantize, dequantize_table, normalize, prepare_pixels, quantize,
                                 quantize_table, to_color)

REPO = Path(__file__).resolve().parents[2]
IMAGE_BUNDLES = [p for p in sorted(REPO.glob("models/*/*.flb")) if not Bundle.open(p).input_spec.extra_channels]


@pytest.mark.parametrize("path", IMAGE_BUNDLES, ids=lambda p: p.stem)
def test_run_pixels_is_bit_identical_to_normalise_then_run_for_every_shipped_variant(path):
    bundle = Bundle.open(path)
    pixels = bundle.golden_inputs()[:2]
    for variant in bundle.variants:
        engine = Engine(bundle, variant, "cpu", 1)
        expected = engine.run(normalize(pixels, bundle.input_spec))
        got = engine.run_pixels(pixels)
        assert [g.dtype for g in got] == [np.float32] * len(expected)
        for e, g in zip(expected, got):
            np.testing.assert_array_equal(g, e, err_msg=f"{path.stem} {variant}")


def test_shipped_int8_variants_take_the_table_path():
    int8 = [Bundle.open(p) for p in IMAGE_BUNDLES if "int8" in Bundle.open(p).variants]
    assert int8, "no shipped int8 variant to test"
    for bundle in int8:
        assert Engine(bundle, "int8", "cpu", 1).input_dtype == np.int8


@pytest.mark.parametrize("mean,std", [((127.5,) * 3, (127.5,) * 3), ((123.7, 116.3, 103.5), (58.4, 57.1, 57.4)),
                                      ((128.0,) * 3, (1.0,) * 3)])
@pytest.mark.parametrize("dtype,scale,zero_point", [(np.int8, 2 / 255, -1), (np.uint8, 0.0171, 114), (np.int8, 0.05, 3)])
def test_quantize_table_equals_normalise_then_quantize_for_any_mean_and_std(mean, std, dtype, scale, zero_point):
    spec = InputSpec((1, 4, 4, 3), "rgb", "bilinear", mean, std)
    pixels = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    table = quantize_table(spec, scale, zero_point, dtype)
    expected = quantize(normalize(pixels, spec), scale, zero_point, dtype)
    np.testing.assert_array_equal(table[pixels, np.arange(3)], expected)


@pytest.mark.parametrize("dtype,scale,zero_point", [(np.int8, 0.0039, -128), (np.uint8, 0.1, 7)])
def test_dequantize_table_equals_dequantize(dtype, scale, zero_point):
    raw = np.arange(256, dtype=np.uint8).view(dtype)
    np.testing.assert_array_equal(dequantize_table(dtype, scale, zero_point)[raw.view(np.uint8)],
                                  dequantize(raw, scale, zero_point))


def test_results_of_run_pixels_are_not_overwritten_by_later_calls():
    bundle = Bundle.open(REPO / "models" / "expression" / "expression.flb")
    pixels = bundle.golden_inputs()
    engine = Engine(bundle, "int8", "cpu", 1)
    first = engine.run_pixels(pixels[:1])[0]
    kept = first.copy()
    engine.run_pixels(pixels[1:2])
    engine.run_pixels(pixels[:3])
    np.testing.assert_array_equal(first, kept)


def test_run_pixels_refuses_float_input_and_a_model_without_a_spec():
    bundle = Bundle.open(REPO / "models" / "expression" / "expression.flb")
    engine = Engine(bundle, "int8", "cpu", 1)
    with pytest.raises(UserError, match="uint8 pixels"):
        engine.run_pixels(np.zeros(engine.input_shape, np.float32))
    bare = Engine.from_bytes(bundle.variant_bytes("int8"), 1)
    with pytest.raises(UserError, match="InputSpec"):
        bare.run_pixels(np.zeros(engine.input_shape[1:], np.uint8))
    np.testing.assert_array_equal(bare.run_pixels(bundle.golden_inputs()[:1], bundle.input_spec)[0],
                                  engine.run_pixels(bundle.golden_inputs()[:1])[0])


@pytest.mark.parametrize("color", ["rgb", "bgr", "gray", "gray_as_rgb"])
@pytest.mark.parametrize("crop", ["none", "face", "letterbox"])
def test_prepare_pixels_converts_colour_where_cheapest_with_the_same_result(color, crop):
    """Colour after resizing (rgb/bgr, grey sources) or on the tapped pixels only (luma)
    equals converting the whole image first, then cropping and resizing it unchanged."""
    rng = np.random.default_rng(1)
    channels = 1 if color == "gray" else 3
    spec = InputSpec((1, 24, 20, channels), color, "area", (0.0,) * channels, (1.0,) * channels, crop, 0.1)
    as_is = dataclasses.replace(spec, color="gray" if channels == 1 else "bgr")
    box = (10.0, 5.0, 30.0, 40.0)
    for source in (rng.integers(0, 256, (57, 83, 3), dtype=np.uint8), rng.integers(0, 256, (40, 30), dtype=np.uint8)):
        got, where = prepare_pixels(source, spec, box)
        reference, same_where = prepare_pixels(to_color(source, color), as_is, box)
        np.testing.assert_array_equal(got, reference)
        assert where == same_where
