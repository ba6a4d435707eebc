"""The image_to_image task: synthetic degradations, the restoration model, and a tiny build
that packages, verifies and restores (synthetic 300W-style photos, a few seconds)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from facelite.errors import UserError
from facelite.mean_shape import fit_to_box
from facelite.restoration import FaceRestorer
from facelite.tasks import OutputImageSpec
from facelite.verify import verify_bundle
from facelite_build.builder import BuildOptions, run
from facelite_build.degrade import KINDS, degrade
from facelite_build.paths import CHECKOUT
from facelite_build.recipe import load_recipe
from facelite_build.tasks import get_task
from facelite_build.tasks.image_to_image import FEATURE_LAYERS, SCALE, clean_faces, context, restoration_model

RECIPE = CHECKOUT / "models" / "restoration" / "recipe.toml"


def textured(shape, seed: int) -> np.ndarray:
    """Smooth random colour texture: detail at several scales, like skin and hair."""
    rng = np.random.default_rng(seed)
    img = sum(cv2.resize(rng.normal(0, 40, (shape[0] // k, shape[1] // k, 3)), shape[1::-1],
                         interpolation=cv2.INTER_CUBIC) for k in (2, 8, 32))
    return np.clip(img + 128, 0, 255).astype(np.uint8)


def write_photo(folder, name: str, seed: int, face_width: float) -> None:
    """A 400×400 photo and the .pts of a mean-shape face `face_width` pixels wide in it."""
    cv2.imwrite(str(folder / f"{name}.jpg"), textured((400, 400), seed), [cv2.IMWRITE_JPEG_QUALITY, 95])
    points = fit_to_box((70, 60, face_width, face_width * 1.1))
    lines = [f"{x:.3f} {y:.3f}" for x, y in points]
    (folder / f"{name}.pts").write_text("version: 1\nn_points: 68\n{\n" + "\n".join(lines) + "\n}\n")


@pytest.mark.parametrize("kind", KINDS)
def test_every_degradation_halves_the_image_and_is_fixed_by_its_seed(kind):
    clean = textured((64, 96), 1)
    first = degrade(clean, kind, np.random.default_rng(7))
    assert first.shape == (32, 48, 3) and first.dtype == np.uint8
    assert np.array_equal(first, degrade(clean, kind, np.random.default_rng(7)))


def test_noise_blur_and_jpeg_change_the_downscaled_pixels_and_low_light_keeps_the_exposure():
    clean = textured((128, 128), 2)
    plain = degrade(clean, "downscale", np.random.default_rng(0)).astype(float)
    for kind in ("noise", "blur", "jpeg", "low_light"):
        out = degrade(clean, kind, np.random.default_rng(0)).astype(float)
        assert np.abs(out - plain).mean() > 1.0, kind
    dark = degrade(clean, "low_light", np.random.default_rng(0)).astype(float)
    assert abs(dark.mean() - plain.mean()) < 3.0        # brightened back: noise and banding, not darkness


def test_an_unknown_degradation_or_an_odd_size_is_refused_with_the_choices():
    with pytest.raises(UserError, match="unknown; use one of downscale, blur, noise, low_light, jpeg, mixed"):
        degrade(np.zeros((8, 8, 3), np.uint8), "haze", np.random.default_rng(0))
    with pytest.raises(UserError, match="multiples of it"):
        degrade(np.zeros((9, 8, 3), np.uint8), "noise", np.random.default_rng(0))


def test_the_untrained_model_is_opencv_bicubic_away_from_the_borders():
    recipe = load_recipe(RECIPE)
    model = restoration_model(recipe)
    img = textured((64, 64), 3)
    out = model.predict(((img.astype(np.float32) - 128) / 128)[None], verbose=0)[0] * 128 + 128
    ref = cv2.resize(img, (128, 128), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    assert np.abs(np.clip(out, 0, 255) - ref)[8:-8, 8:-8].max() <= 0.51    # OpenCV rounds and saturates


def test_the_manifest_context_covers_the_receptive_field():
    recipe = load_recipe(RECIPE)
    model = restoration_model(recipe)
    rng = np.random.default_rng(0)
    for layer in model.layers:  # a trained-looking residual branch: random, not zero
        if layer.trainable and layer.weights:
            layer.set_weights([rng.normal(0, 0.2, w.shape).astype(np.float32) for w in layer.get_weights()])
    x = rng.normal(0, 0.5, (1, 64, 64, 3)).astype(np.float32)
    y = x.copy()
    y[0, 32, 32] += 1.0
    changed = np.argwhere(np.abs(model.predict(y, verbose=0) - model.predict(x, verbose=0))[0].max(-1) > 1e-6)
    c = context(recipe)
    assert c == FEATURE_LAYERS + 1
    assert changed.min() >= SCALE * (32 - c) and changed.max() < SCALE * (32 + c + 1)
    assert changed.min() < SCALE * (32 - c + 1)           # and no wider than needed


def test_faces_smaller_than_the_skin_crop_are_left_out(tmp_path):
    write_photo(tmp_path, "big", 1, 200.0)
    write_photo(tmp_path, "small", 2, 120.0)
    pairs = [(tmp_path / f"{n}.jpg", tmp_path / f"{n}.pts") for n in ("big", "small")]
    faces, names, left_out = clean_faces(pairs, "rgb")
    assert faces.shape == (1, 256, 256, 3) and names == [str(pairs[0][0])] and left_out == 1


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("restoration_data")
    (root / "faces").mkdir()
    for i in range(6):
        write_photo(root / "faces", f"p{i}", 10 + i, 190.0 + 10 * i)
    recipe_file = root / "recipe.toml"
    text = RECIPE.read_text().replace('train = ["afw", "helen_train"]', 'train = ["faces"]')
    text = text.replace('val = ["helen_train"]', 'val = ["faces"]').replace("val_fraction = 0.15", "val_fraction = 0.34")
    recipe_file.write_text(text)
    recipe = load_recipe(recipe_file, ["head.channels=8", "training.batch=4", "quantization.calibration_samples=4"])
    out = tmp_path_factory.mktemp("restoration_build")
    result = run("build", recipe, BuildOptions(out=out, data=root, epochs=1, verbose=0))
    return recipe, out / "restoration.flb", result


def test_a_tiny_build_packages_an_image_bundle_that_verifies(tiny_bundle):
    recipe, path, result = tiny_bundle
    report = verify_bundle(path)
    assert report["ok"], report["problems"]
    assert set(report["variants"]) == {"fp32", "fp16", "dynamic", "int8"}
    from facelite.bundle import Bundle

    with Bundle.open(path) as b:
        manifest = b.manifest
    assert manifest["task"] == "image_to_image"
    assert OutputImageSpec.from_manifest(manifest["output"]) == get_task("image_to_image").output_spec(recipe)
    assert manifest["output"]["shape"] == [1, 128, 128, 3] and manifest["golden"]["count"] == 2
    int8 = manifest["metrics"]["int8"]
    assert {"target_psnr_db", "target_ssim", "bicubic_psnr_db", "psnr_gain_db", "psnr_db_vs_fp32"} <= set(int8)
    assert int8["n"] == 8                               # 2 held-out faces × 4 tiles of 64
    assert json.loads(json.dumps(result["package"]["metrics"])) == manifest["metrics"]


def test_the_tiny_bundle_restores_any_crop_to_twice_its_size(tiny_bundle):
    _, path, _ = tiny_bundle
    with FaceRestorer.create_from_bundle(path) as restorer:
        for shape in ((64, 64, 3), (37, 150, 3), (130, 70, 3)):
            out = restorer.restore(textured(shape[:2], 5))
            assert out.shape == (2 * shape[0], 2 * shape[1], 3) and out.dtype == np.uint8
