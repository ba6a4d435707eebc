"""The C core's `fl_restore` gives the Python runtime's `FaceRestorer.restore` bytes: the
shipped restoration bundle, every variant, on face crops of real photos (the skin crop at
half size, what the skin stages restore) and on crops of odd sizes (tiles that overlap
unevenly, crops smaller than a tile)."""

from __future__ import annotations

import json
import subprocess

import cv2
import numpy as np
import pytest

from facelite.datasets import read_pts
from facelite.image import load_image
from facelite.options import BaseOptions
from facelite.paths import shipped_bundle
from facelite.restoration import FaceRestorer, FaceRestorerOptions
from facelite.skin_measures import SKIN_CROP_SIZE, face_crop


@pytest.fixture(scope="module")
def crops(parity_photos, tmp_path_factory):
    """PNG crops: four HELEN skin crops at half size, and odd sizes cut from them."""
    folder = tmp_path_factory.mktemp("restoration_crops")
    paths = []
    for photo in parity_photos["helen"][:4]:
        crop = face_crop(load_image(photo), read_pts(photo.with_suffix(".pts")), SKIN_CROP_SIZE // 2).image
        paths.append(folder / f"{photo.stem}.png")
        cv2.imwrite(str(paths[-1]), crop)
    for i, (y, x, h, w) in enumerate(((10, 3, 50, 90), (0, 0, 128, 77), (31, 17, 97, 64))):
        paths.append(folder / f"odd{i}.png")
        cv2.imwrite(str(paths[-1]), cv2.imread(str(paths[i]))[y:y + h, x:x + w])
    return paths


@pytest.mark.parametrize("variant", ["fp32", "fp16", "int8"])
def test_c_restoration_gives_the_python_bytes(c_build, crops, variant, tmp_path):
    bundle = shipped_bundle("restoration")
    run = subprocess.run([str(c_build.tool("tool_restore")), str(bundle), variant, str(tmp_path / "out_"),
                          *map(str, crops)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    options = FaceRestorerOptions(base_options=BaseOptions(bundle_path=bundle, variant=variant, accelerator="cpu",
                                                           num_threads=1))
    with FaceRestorer.create_from_options(options) as restorer:
        for k, (crop, line) in enumerate(zip(crops, lines)):
            assert "error" not in line, line
            expected = restorer.restore(cv2.imread(str(crop)))
            got = np.fromfile(tmp_path / f"out_{k}.bgr", np.uint8).reshape(line["height"], line["width"], 3)
            assert got.shape == expected.shape and np.array_equal(got, expected), (
                f"{crop.name}: {int((got != expected).sum())} bytes differ")
