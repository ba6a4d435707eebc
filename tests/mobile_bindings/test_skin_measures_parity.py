"""The C core's skin measures (src/skin_measures.c, driven through tool_skin_measures) are
the Python runtime's (facelite.skin_measures): the same crop matrix, landmarks in the crop,
crop bytes and mask bytes, and the same outputs of the skin_metrics graph, on real photos:
HELEN faces with their annotated points and ACNE04 faces with the shipped landmarker's
(every output the bundle has: the region table, capture measures, tone, lighting and the
crop gains)."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from facelite import FaceAnalyzer, FaceAnalyzerOptions
from facelite.datasets import read_pts
from facelite.image import load_image
from facelite.paths import shipped_bundle
from facelite.skin_measures import (
    CAPTURE_MEASURES,
    LIGHTING_MEASURES,
    MASK_CHANNELS,
    SKIN_CROP_SIZE,
    SkinMeasurer,
    SkinMeasurerOptions,
    crop_masks,
    face_crop,
)

PER_SET = 10
REL_TOL = 1e-5


@pytest.fixture(scope="module")
def faces(parity_photos) -> list[tuple[str, np.ndarray]]:
    """(photo, 68 float32 points): HELEN with its .pts, ACNE04 with the shipped pipeline's largest face."""
    out = [(str(p), read_pts(p.with_suffix(".pts"))) for p in parity_photos["helen"][:PER_SET]]
    with FaceAnalyzer.create_from_options(FaceAnalyzerOptions()) as analyzer:
        for p in parity_photos["acne04"]:
            faces = analyzer.analyze(load_image(p)).faces
            if faces and len(out) < 2 * PER_SET:
                face = max(faces, key=lambda f: f.box.w * f.box.h)
                out.append((str(p), np.asarray(face.landmarks, np.float32)))
    return out


@pytest.fixture(scope="module")
def native(c_build, faces, tmp_path_factory) -> list[dict]:
    dump = tmp_path_factory.mktemp("skin_measures")
    lines = [json.dumps({"image": path, "points": points.astype(float).tolist(), "dump": str(dump / f"face{i}")})
             for i, (path, points) in enumerate(faces)]
    p = subprocess.run([str(c_build.tool("tool_skin_measures")), str(shipped_bundle("skin_metrics"))],
                       input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    docs = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(docs) == len(faces) and not [d["error"] for d in docs if "error" in d]
    for i, d in enumerate(docs):
        d["crop"] = (dump / f"face{i}.crop").read_bytes()
        d["masks"] = (dump / f"face{i}.masks").read_bytes()
    return docs


@pytest.fixture(scope="module")
def python(faces) -> list[tuple]:
    with SkinMeasurer.create_from_options(SkinMeasurerOptions()) as measurer:
        crops = [face_crop(load_image(path), points) for path, points in faces]
        return list(zip(crops, measurer.measure_crops(crops)))


def test_parity_covers_helen_and_acne04_faces(faces):
    assert len(faces) >= 2 * PER_SET - 2 and sum("acne04" in p for p, _ in faces) >= PER_SET - 2


def test_the_crop_matrix_and_the_landmarks_in_the_crop_agree_to_rounding(native, python):
    """Within an ulp or so: numpy's own sin, cos and hypot (SIMD) may differ from libm's by
    one ulp; the warp rounds sample positions to 1/1024 px, so the bytes still agree."""
    for doc, (crop, _) in zip(native, python):
        assert np.allclose(np.array(doc["matrix"]).reshape(2, 3), crop.matrix, rtol=1e-14, atol=1e-12)
        assert np.allclose(np.array(doc["crop_points"], np.float32).reshape(68, 2), crop.points, rtol=0, atol=1e-4)


def test_the_crop_and_its_masks_are_the_same_bytes(native, python):
    for doc, (crop, _) in zip(native, python):
        assert doc["crop"] == crop.image.tobytes()
        masks = crop_masks(crop)
        assert masks.shape == (SKIN_CROP_SIZE, SKIN_CROP_SIZE, len(MASK_CHANNELS))
        assert doc["masks"] == masks.tobytes()


def close(a: float, b: float) -> bool:
    return abs(a - b) <= REL_TOL * max(1.0, abs(b))


def test_the_measures_are_the_same_numbers(native, python):
    for doc, (_, raw) in zip(native, python):
        for row, values in raw.regions.items():
            for name, v in values.items():
                assert close(doc["regions"][row][name], v), (row, name, doc["regions"][row][name], v)
        for name in CAPTURE_MEASURES:
            assert close(doc["capture"][name], raw.capture[name]), name
        for name in LIGHTING_MEASURES:
            assert close(doc["lighting"][name], raw.lighting[name]), name
        assert close(doc["tone_ita"], raw.tone_ita)
        assert len(doc["crop_gains"]) == len(raw.crop_gains) == 3
        for got, want in zip(doc["crop_gains"], raw.crop_gains):
            assert close(got, want), ("crop_gains", doc["crop_gains"], raw.crop_gains)
