"""Goldens stored as uint8 pixels, and each variant checked against its own recorded outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from facelite.bundle import GOLDEN_INPUTS, Bundle, golden_variant_outputs, write_bundle
from facelite.engine import Engine
from facelite.errors import BundleError
from facelite.verify import INT8_PARITY_STEPS, inspect_bundle, verify_bundle
from fixture_bundles import signed_with_development_key


def _rebuild(src, dst, *, pixels: bool = True, shift_int8_steps: float = 0.0):
    """`src`'s variants re-written with pixel goldens and per-variant reference outputs."""
    with Bundle.open(src) as b:
        manifest = json.loads(json.dumps(b.manifest))
        variants = {name: bytes(b.variant_bytes(name)) for name in b.variants}
        x, fp32 = b.golden()
        spec = b.input_spec
    pix = np.round(x * np.asarray(spec.std, np.float32) + np.asarray(spec.mean, np.float32)).astype(np.uint8)
    normalized = (pix.astype(np.float32) - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    own = {}
    with Bundle.open(src) as b:
        for name in variants:
            engine = Engine(b, name, "cpu", 1)
            out = engine.run(normalized)[0].reshape(fp32.shape)
            if name == "int8" and shift_int8_steps:
                scale = engine.tensor_details()["outputs"][0]["quantization"]["scale"]
                out = out + shift_int8_steps * scale
            own[name] = out
    manifest.pop("golden", None)
    return signed_with_development_key(write_bundle(dst, manifest, variants, pix if pixels else normalized, fp32,
                                                    variant_outputs=own))


def test_pixel_goldens_take_a_quarter_of_the_bytes_and_normalise_to_the_same_tensors(expression_bundle, tmp_path):
    pixel_path = _rebuild(expression_bundle, tmp_path / "pixels.flb", pixels=True)
    float_path = _rebuild(expression_bundle, tmp_path / "float.flb", pixels=False)
    with Bundle.open(pixel_path) as p, Bundle.open(float_path) as f:
        assert p.manifest["golden"]["input_domain"] == "pixels"
        assert f.manifest["golden"]["input_domain"] == "normalized"
        assert p.golden_inputs().dtype == np.uint8
        np.testing.assert_array_equal(p.golden()[0], f.golden()[0])
        pixel_bytes = len(p.member_view(GOLDEN_INPUTS))
        float_bytes = len(f.member_view(GOLDEN_INPUTS))
    assert pixel_bytes < float_bytes / 3.9


def test_verify_checks_each_variant_against_its_own_recorded_outputs(expression_bundle, tmp_path):
    path = _rebuild(expression_bundle, tmp_path / "own.flb")
    report = verify_bundle(path)
    assert report["ok"], report["problems"]
    int8 = report["variants"]["int8"]
    assert int8["against"] == "int8"
    assert int8["max_abs_err"] == 0.0                     # same LiteRT, same bytes: bit-exact
    assert int8["tolerance"]["max_abs_err"] == pytest.approx(INT8_PARITY_STEPS / 256)
    assert set(int8["vs_fp32"]) >= {"max_abs_err", "top1_agreement"}
    assert report["variants"]["fp32"]["against"] == "fp32"
    with Bundle.open(path) as b:
        assert golden_variant_outputs("int8") in b.manifest["golden"]["variant_outputs"].values()
    summary = inspect_bundle(path)
    assert summary["golden_input_domain"] == "pixels"
    assert summary["golden_variant_outputs"] == ["int8"]


def test_verify_fails_an_int8_variant_four_steps_off_its_recorded_outputs(expression_bundle, tmp_path):
    path = _rebuild(expression_bundle, tmp_path / "off.flb", shift_int8_steps=INT8_PARITY_STEPS + 1)
    report = verify_bundle(path)
    assert not report["ok"]
    assert report["variants"]["int8"]["ok"] is False
    assert report["variants"]["fp32"]["ok"] is True
    assert any("variant 'int8' does not reproduce its goldens (int8 outputs)" in p for p in report["problems"])


def test_a_bundle_without_per_variant_goldens_is_judged_against_fp32(expression_bundle):
    report = verify_bundle(expression_bundle)
    assert report["variants"]["int8"]["against"] == "fp32"
    assert "vs_fp32" not in report["variants"]["int8"]


def test_goldens_for_a_variant_the_bundle_lacks_are_refused(expression_bundle, tmp_path):
    with Bundle.open(expression_bundle) as b:
        manifest = json.loads(json.dumps(b.manifest))
        variants = {"fp32": bytes(b.variant_bytes("fp32"))}
        x, y = b.golden()
    manifest["variants"] = {"fp32": manifest["variants"]["fp32"]}
    manifest.pop("golden")
    with pytest.raises(BundleError, match="golden outputs for 'int8', which the bundle does not hold"):
        write_bundle(tmp_path / "bad.flb", manifest, variants, x, y, variant_outputs={"int8": y})
    assert not (tmp_path / "bad.flb").exists()
