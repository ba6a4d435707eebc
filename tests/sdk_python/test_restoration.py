"""FaceRestorer and the image_to_image task: tiles that stitch exactly, ×2 BGR crops, a real
gain over bicubic on a held-out HELEN face, and the output spec of the manifest."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from facelite import metrics
from facelite.datasets import pts_pairs, read_pts
from facelite.errors import BundleError
from facelite.evaluate import evaluate
from facelite.image import load_image
from facelite.options import BaseOptions
from facelite.paths import shipped_bundle
from facelite.preprocess import resize
from facelite.restoration import FaceRestorer, FaceRestorerOptions, kept_span, native_crop_side, tile_starts
from facelite.skin_measures import SKIN_CROP_SIZE, crop_matrix, face_crop
from facelite.tasks import OutputImageSpec, bicubic_upscale, get_task

TASK = get_task("image_to_image")


@pytest.fixture(scope="module")
def restorer():
    path = shipped_bundle("restoration")
    assert path is not None, "the shipped restoration bundle is missing (models/restoration/restoration.flb)"
    options = FaceRestorerOptions(base_options=BaseOptions(bundle_path=path, accelerator="cpu", variant="fp32"))
    with FaceRestorer.create_from_options(options) as r:
        yield r


@pytest.fixture(scope="module")
def held_out_face(shared_data):
    """A HELEN face of the restoration bundle's validation split (never trained on), as the
    build makes its targets: the skin crop cut at the photo's resolution, area-averaged to 256."""
    pairs = pts_pairs(shared_data / "landmarks300w" / "helen_train", recursive=False)
    if not pairs:
        pytest.skip("no HELEN photos in the shared data")
    order = np.random.default_rng(1234).permutation(len(pairs))  # the recipe's split: seed 1234, 15% held out
    for index in np.sort(order[: round(len(pairs) * 0.15)]):
        image, pts = pairs[int(index)]
        points = read_pts(pts)
        m = crop_matrix(points, SKIN_CROP_SIZE)
        scale = math.hypot(m[0, 0], m[0, 1])
        if scale <= 1.0:
            native = face_crop(load_image(image), points, math.ceil(SKIN_CROP_SIZE / scale)).image
            return resize(native, SKIN_CROP_SIZE, SKIN_CROP_SIZE, "area")
    pytest.skip("no held-out HELEN face as large as the skin crop")


def noisy_half(clean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """`clean` area-averaged to half its size, with Gaussian noise of `sigma` levels."""
    small = resize(clean, clean.shape[0] // 2, clean.shape[1] // 2, "area").astype(np.float64)
    return np.clip(np.round(small + np.random.default_rng(seed).normal(0, sigma, small.shape)), 0, 255).astype(np.uint8)


def textured(shape, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 256, (*shape, 3)).astype(np.uint8), (0, 0), 1.5)


@pytest.mark.parametrize("context", [0, 3, 5, 20])
def test_tiles_cover_every_pixel_and_keep_context_from_inner_edges(context):
    tile = 64
    for length in range(tile, 400, 7):
        starts = tile_starts(length, tile, context)
        owner = np.full(length, -1)
        for k, start in enumerate(starts):
            lo, hi = kept_span(starts, k, length, tile, context)
            assert start <= lo < hi <= start + tile
            assert lo == 0 or lo - start >= context
            assert hi == length or start + tile - hi >= context
            owner[lo:hi] = k
        assert (owner >= 0).all() and starts[-1] + tile == length


def test_restore_gives_a_bgr_crop_twice_as_large_for_any_size(restorer):
    assert restorer.scale == 2
    for shape in ((64, 64), (50, 90), (100, 77), (257, 130)):
        out = restorer.restore(textured(shape, 1))
        assert out.shape == (2 * shape[0], 2 * shape[1], 3) and out.dtype == np.uint8


def test_stitched_tiles_equal_one_run_wherever_a_tile_sees_its_context(restorer):
    image = textured((150, 140), 2)
    whole = restorer.restore(image)
    c, s = restorer.output.context, restorer.scale
    for y, x in ((20, 30), (43, 71)):
        alone = restorer.restore(image[y:y + 64, x:x + 64])
        inner = slice(s * c, s * (64 - c))
        assert np.array_equal(whole[s * y:s * (y + 64), s * x:s * (x + 64)][inner, inner], alone[inner, inner])


def test_restoration_beats_bicubic_on_a_noisy_low_resolution_held_out_face(restorer, held_out_face):
    noisy = noisy_half(held_out_face, 8.0, 0)
    restored, bicubic = restorer.restore(noisy), bicubic_upscale(noisy, 2)
    gain = metrics.psnr_db(restored, held_out_face, 255.0) - metrics.psnr_db(bicubic, held_out_face, 255.0)
    assert gain > 1.0
    assert metrics.ssim(restored, held_out_face) > metrics.ssim(bicubic, held_out_face)


def test_restore_face_is_the_skin_crop_at_full_size_cut_at_the_photos_resolution(restorer, shared_data):
    image, pts = pts_pairs(shared_data / "landmarks300w" / "helen_train", recursive=False)[0]
    photo, points = load_image(image), read_pts(pts)
    for shrink in (1, 3, 8):                       # the face as the photo has it, smaller, tiny
        small = cv2.resize(photo, (photo.shape[1] // shrink, photo.shape[0] // shrink), interpolation=cv2.INTER_AREA)
        pts_small = points * np.array([small.shape[1] / photo.shape[1], small.shape[0] / photo.shape[0]], np.float32)
        side = native_crop_side(pts_small, 2)
        assert SKIN_CROP_SIZE // 2 <= side <= SKIN_CROP_SIZE
        restored, reference = restorer.restore_face(small, pts_small), face_crop(small, pts_small)
        assert restored.image.shape == (SKIN_CROP_SIZE, SKIN_CROP_SIZE, 3) == reference.image.shape
        np.testing.assert_allclose(restored.points, reference.points, atol=1e-3)
        np.testing.assert_allclose(restored.to_image(restored.points), pts_small, atol=1e-2)
    assert native_crop_side(points, 2) == SKIN_CROP_SIZE and native_crop_side(points / 8, 2) == SKIN_CROP_SIZE // 2


def test_a_bundle_of_another_task_is_refused_by_name(shipped):
    with pytest.raises(BundleError, match="is a 'landmarks' bundle; FaceRestorer needs 'image_to_image'"):
        FaceRestorer.create_from_bundle(shipped["landmarks"])


def test_evaluate_scores_pairs_against_bicubic_and_fp32(restorer, held_out_face, tmp_path):
    (tmp_path / "input").mkdir()
    (tmp_path / "target").mkdir()
    for i, (y, x) in enumerate(((0, 0), (0, 128), (128, 64))):
        target = held_out_face[y:y + 128, x:x + 128]
        cv2.imwrite(str(tmp_path / "input" / f"{i}.png"), noisy_half(target, 8.0, i))
        cv2.imwrite(str(tmp_path / "target" / f"{i}.png"), target)
    cv2.imwrite(str(tmp_path / "input" / "wrong_size.png"), np.zeros((32, 32, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "target" / "wrong_size.png"), np.zeros((64, 64, 3), np.uint8))
    report = evaluate(restorer.bundle.path, tmp_path, variant="all")
    json.dumps(report)
    fp32, int8 = report["variants"]["fp32"], report["variants"]["int8"]
    assert fp32["n"] == 3 and fp32["psnr_gain_db"] > 0 and fp32["target_psnr_db"] > fp32["bicubic_psnr_db"]
    assert fp32["psnr_db"] is None and int8["psnr_db"] > 30          # pixels vs fp32's (None: identical)
    assert [s["file"] for s in fp32["skipped"]] == [str(tmp_path / "input" / "wrong_size.png")]
    assert "model-size inputs of 64×64" in fp32["skipped"][0]["reason"]


def test_output_pixels_round_half_up_clamp_and_refuse_nan():
    spec = OutputImageSpec(2, "rgb", (128.0,) * 3, (128.0,) * 3, 5)
    v = np.array([-2.0, -1.0, 0.5 / 128, 0.49 / 128, 1.0, 3.0], np.float32)
    assert spec.to_pixels(v[:, None].repeat(3, 1))[:, 0].tolist() == [0, 0, 129, 128, 255, 255]
    with pytest.raises(BundleError, match="NaN or infinite"):
        spec.to_pixels(np.array([[np.nan, 0, 0]], np.float32))


@pytest.mark.parametrize("output, problem", [
    ({"kind": "points"}, "needs output kind 'image'"),
    ({"kind": "image", "scale": 2}, "needs color, mean, std, context"),
    ({"kind": "image", "scale": 2, "color": "gray", "mean": [0] * 3, "std": [1] * 3, "context": 5}, "use one of rgb, bgr"),
    ({"kind": "image", "scale": 2, "color": "rgb", "mean": [0], "std": [1], "context": 5}, "need 3 values each"),
    ({"kind": "image", "scale": 2, "color": "rgb", "mean": [0] * 3, "std": [1] * 3, "context": 32}, "under half"),
])
def test_an_image_output_block_that_cannot_be_decoded_is_named(output, problem):
    manifest = {"input": {"shape": [1, 64, 64, 3]}, "output": output}
    assert any(problem in p for p in TASK.check_manifest(manifest))


def test_the_shipped_manifest_output_block_passes_and_matches_the_model(restorer):
    manifest = restorer.bundle.manifest
    assert TASK.check_manifest(manifest) == []
    assert TASK.check_engine(manifest, restorer.engine) == []
    assert manifest["output"]["shape"] == [1, 128, 128, 3]
