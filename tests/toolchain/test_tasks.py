"""The toolchain's task registry: one entry per runtime task, and everything task-specific in it."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

import facelite.tasks as runtime_tasks
from facelite.bundle import Bundle
from facelite.preprocess import InputSpec, prepare_pixels
from facelite_build.errors import RecipeError
from facelite_build.paths import CHECKOUT, data_root
from facelite_build.recipe import load_recipe
from facelite_build.tasks import TASKS, get_task
from facelite_build.tasks.landmarks import IBUG_MIRROR, face_crops

SHIPPED = ("expression", "acne", "landmarks", "face_detector")
PACKAGE = Path(__file__).resolve().parents[2] / "toolchain" / "facelite_build"


def test_every_runtime_task_has_a_build_entry_built_on_it():
    assert set(TASKS) == set(runtime_tasks.TASKS)
    for name, task in TASKS.items():
        assert task.runtime is runtime_tasks.get_task(name)
    with pytest.raises(RecipeError, match="cannot be built; choose one of classification, detection, image_to_image, landmarks, skin_metrics"):
        get_task("segmentation")


@pytest.mark.parametrize("name", SHIPPED)
def test_output_block_is_the_shipped_manifests_and_passes_the_runtime_checks(name):
    recipe = load_recipe(CHECKOUT / "models" / name / "recipe.toml")
    task = get_task(recipe.task)
    with Bundle.open(CHECKOUT / "models" / name / f"{name}.flb") as b:
        manifest = b.manifest
    out = task.output(recipe)
    chosen_on_data = {k: v for k, v in manifest["output"].items() if k in task.operating_point_fields}
    assert {"shape": manifest["output"]["shape"], **out, **chosen_on_data} == manifest["output"]
    assert task.runtime.check_manifest({**manifest, "output": out}) == []
    assert task.n_outputs(manifest["labels"]) == manifest["output"]["shape"][-1]


def test_no_task_name_branches_or_point_counts_outside_the_registry():
    pattern = re.compile(r"task\s*[!=]=|\.task in|\b136\b|\b68\b")
    found = [f"{p.relative_to(PACKAGE)}:{i}: {line.strip()}"
             for p in sorted(PACKAGE.rglob("*.py")) if p.parent.name != "tasks"
             for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert found == []


@pytest.mark.parametrize("change, message", [
    ('type = "points"', "task 'landmarks' needs head.type = 'points'"),
    ('layout = "image_folder"', "task 'landmarks' reads data.layout = 'pts300w'"),
    ('crop = "letterbox"', 'a landmarks recipe needs input.crop = "face"'),
])
def test_recipe_that_does_not_fit_its_task_names_the_key(tmp_path, change, message):
    base = {"type": 'type = "points"', "layout": 'layout = "pts300w"', "crop": 'crop = "face"'}
    key = change.split(" ")[0]
    base[key] = change if key != "type" else 'type = "classifier"'
    p = tmp_path / "r.toml"
    p.write_text('name = "t"\nversion = "0"\ntask = "landmarks"\n'
                 f'[data]\n{base["layout"]}\nval_fraction = 0.2\n[head]\n{base["type"]}\n[input]\n{base["crop"]}\n')
    with pytest.raises(RecipeError, match=re.escape(message)):
        load_recipe(p)


def test_class_weights_favour_rare_classes():
    from facelite_build.data import Examples, Splits

    recipe = load_recipe(CHECKOUT / "models" / "acne" / "recipe.toml")
    y = np.array([0] * 90 + [1] * 10)
    splits = Splits(Examples(np.zeros((100, 1, 1, 3), np.uint8), y, [""] * 100), None, ["a", "b"])
    w = get_task("classification").class_weights(recipe, splits)
    assert w[1] / w[0] == pytest.approx(9.0)
    recipe.training.class_weights = "none"
    assert get_task("classification").class_weights(recipe, splits) is None


def test_classification_metrics_against_truth_and_fp32():
    from facelite_build.data import Examples

    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], np.float32)
    val = Examples(np.zeros((3, 1, 1, 3), np.uint8), np.array([0, 1, 1]), ["a", "b", "c"])
    m = get_task("classification").metrics(probs, val, None, reference=probs[[0, 1, 1]])
    assert m == {"n": 3, "accuracy": 0.6667, "agreement_vs_fp32": 0.6667, "psnr_db": m["psnr_db"]}
    assert m["psnr_db"] > 0


def _face_photo(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    """A 300W-style pair: a textured photo and 68 points spread over a face-sized region."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    points = np.stack([rng.uniform(50, 110, 68), rng.uniform(30, 95, 68)], axis=1).astype(np.float32)
    img_path, pts_path = tmp_path / "face.png", tmp_path / "face.pts"
    cv2.imwrite(str(img_path), image)
    pts_path.write_text("version: 1\nn_points: 68\n{\n" + "".join(f"{x} {y}\n" for x, y in points) + "}\n")
    return img_path, pts_path, points


def test_landmark_targets_map_back_to_the_annotated_points_with_the_runtime_decoder(tmp_path):
    img_path, pts_path, points = _face_photo(tmp_path)
    spec = InputSpec((1, 56, 56, 3), "rgb", "bilinear", (127.5,) * 3, (127.5,) * 3, "face", 0.15)
    ex = face_crops([(img_path, pts_path)], spec)
    from facelite.datasets import extent_box

    pixels, placement = prepare_pixels(img_path, spec, extent_box(points))
    assert np.array_equal(ex.x[0], pixels)
    back = runtime_tasks.get_task("landmarks").to_image(ex.y[0], placement, spec)
    np.testing.assert_allclose(back, points, atol=1e-3)


def test_detection_box_is_the_margin_grown_extent_in_the_letterboxed_input(tmp_path):
    from facelite.datasets import extent_box
    from facelite_build.tasks.detection import letterboxed_photos

    img_path, pts_path, points = _face_photo(tmp_path)
    spec = InputSpec((1, 64, 64, 3), "rgb", "bilinear", (127.5,) * 3, (127.5,) * 3, "letterbox")
    ex = letterboxed_photos([(img_path, pts_path)], spec, box_margin=0.1)
    pixels, placement = prepare_pixels(img_path, spec)
    assert np.array_equal(ex.x[0], pixels)
    np.testing.assert_allclose(placement.to_image_box(ex.y[0] * 64), extent_box(points, 0.1), atol=1e-3)


def test_ibug_mirror_is_an_involution_that_swaps_eye_and_mouth_corners():
    assert (IBUG_MIRROR[IBUG_MIRROR] == np.arange(len(IBUG_MIRROR))).all()
    assert IBUG_MIRROR[36] == 45 and IBUG_MIRROR[48] == 54 and IBUG_MIRROR[30] == 30


@pytest.mark.skipif(not (data_root() / "landmarks300w" / "helen_train").is_dir(),
                    reason=f"300W data not found at {data_root() / 'landmarks300w'} (set FACELITE_DATA)")
def test_flipped_landmark_crops_keep_left_right():
    import tensorflow as tf

    from facelite_build.augment import augment_batch
    from facelite_build.recipe import AugmentationConfig
    from facelite_build.splits import split_pairs

    r = load_recipe(CHECKOUT / "models" / "landmarks" / "recipe.toml")
    _, val = split_pairs(r, r.data_dir())
    ex = face_crops(val[:4], r.input_spec)
    # The subject's right outer eye corner (36) is on the image left in these frontal faces.
    assert (ex.y[:, 36, 0] < ex.y[:, 45, 0]).all()
    images = np.repeat(ex.x.astype(np.float32), 8, axis=0)
    points = np.repeat(ex.y, 8, axis=0)
    out_img, out_pts = augment_batch(tf.constant(images), AugmentationConfig(flip=True), tf.constant(points),
                                     IBUG_MIRROR)
    out_img, out_pts = out_img.numpy(), out_pts.numpy()
    flipped_any = False
    for img, src, pts, orig in zip(out_img, images, out_pts, points):
        was_flipped = np.abs(img - src[:, ::-1]).mean() < np.abs(img - src).mean()
        flipped_any |= was_flipped
        expected = orig.copy()
        if was_flipped:
            expected = expected[IBUG_MIRROR]
            expected[:, 0] = 1.0 - expected[:, 0]
        np.testing.assert_allclose(pts, expected, atol=1e-4)
        assert pts[36, 0] < pts[45, 0]  # still the subject's right eye on the image left
        assert pts[48, 0] < pts[54, 0]  # mouth corners likewise
    assert flipped_any
