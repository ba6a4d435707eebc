"""The preprocessing spec (docs/preprocessing.md) is reproduced bit for bit from its test vectors.

The same files are replayed by the C core's tests, so a failure here means the Python
reference moved away from the spec every binding implements.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from facelite import preprocess as pp
from facelite.image import load_image

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "preprocess"
INDEX = json.loads((VECTORS / "index.json").read_text())["vectors"]


def _load(name: str) -> np.ndarray:
    return np.load(VECTORS / name, allow_pickle=False)


def _run(entry: dict) -> dict[str, np.ndarray]:
    k, p = entry["kernel"], entry["params"]
    if k in ("prepare", "decode"):
        data = (VECTORS / entry["input"]).read_bytes()
        if k == "decode":
            return {"output": load_image(data)}
        spec = pp.InputSpec.from_manifest(p["input_spec"])
        pixels, placement = pp.prepare_pixels(data, spec, p["box"])
        assert list(placement.origin) == p["placement"]["origin"]
        assert list(placement.step) == p["placement"]["step"]
        return {"pixels": pixels, "tensor": pp.prepare(data, spec, p["box"])}
    x = _load(entry["input"])
    if k == "to_color":
        return {"output": pp.to_color(x, p["color"])}
    if k == "resize":
        return {"output": pp.resize(x, p["height"], p["width"], p["method"])}
    if k == "letterbox":
        canvas, params = pp.letterbox(x, p["height"], p["width"], p["method"])
        assert list(params) == [p["scale"], p["pad_x"], p["pad_y"]]
        return {"output": canvas}
    if k == "crop_square":
        crop, origin = pp.crop_square(x, tuple(p["box"]), p["margin"])
        assert origin.tolist() == p["origin"]
        return {"output": crop}
    if k == "warp_affine":
        return {"output": pp.warp_affine(x, np.array(p["matrix"]), p["width"], p["height"])}
    spec = pp.InputSpec((1, *x.shape), "rgb", "bilinear", tuple(p.get("mean", (0,))), tuple(p.get("std", (1,))))
    if k == "normalize":
        return {"output": pp.normalize(x, spec)}
    if k == "quantize":
        return {"output": pp.quantize(x, p["scale"], p["zero_point"], np.dtype(p["dtype"]))}
    raise AssertionError(f"unknown kernel {k}")


@pytest.mark.parametrize("entry", INDEX, ids=[e["name"] for e in INDEX])
def test_vector_reproduces_bit_for_bit(entry):
    got = _run(entry)
    for key, member in entry["expected"].items():
        want = _load(member)
        assert got[key].dtype == want.dtype and got[key].shape == want.shape, key
        assert np.array_equal(got[key], want), f"{entry['name']}.{key}: {np.abs(got[key].astype(float) - want).max()}"


def test_every_kernel_of_the_spec_has_a_vector():
    kernels = {e["kernel"] for e in INDEX}
    assert kernels == {"to_color", "resize", "letterbox", "crop_square", "warp_affine", "normalize",
                       "quantize", "prepare", "decode"}
    assert {e["params"]["method"] for e in INDEX if e["kernel"] == "resize"} == set(pp.RESIZES)
    assert {e["name"] for e in INDEX if e["kernel"] == "prepare"} == {
        "prepare_expression", "prepare_face_detector", "prepare_landmarks", "prepare_acne"}
