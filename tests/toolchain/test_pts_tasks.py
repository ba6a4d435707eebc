"""300W splits and landmark crops: deterministic disjoint splits, flip keeps left/right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facelite.paths import MODELS_DIR, data_root

ROOT = data_root() / "landmarks300w"
needs_data = pytest.mark.skipif(not (ROOT / "helen_train").is_dir(), reason="300W data not available")


def _recipe(name: str):
    from facelite_build.recipe import load_recipe

    return load_recipe(MODELS_DIR / name / "recipe.toml")


@pytest.mark.parametrize("name", ["landmarks", "face_detector", "acne"])
def test_shipped_recipe_loads(name):
    r = _recipe(name)
    assert r.name == name
    assert r.quantization.variants == ["fp32", "fp16", "dynamic", "int8"]


@needs_data
def test_split_is_deterministic_disjoint_and_shared():
    from facelite_build.pts_tasks import split_pairs

    lm = _recipe("landmarks")
    train, val = split_pairs(lm, lm.data_dir())
    train2, val2 = split_pairs(lm, lm.data_dir())
    assert train == train2 and val == val2
    names_train = {p[0].name for p in train}
    names_val = {p[0].name for p in val}
    assert not names_train & names_val
    assert all(p[0].parent.name == "helen_train" for p in val)
    n_helen = len(list((ROOT / "helen_train").glob("*.pts")))
    n_afw = len(list((ROOT / "afw").glob("*.pts")))
    assert len(val) == round(0.15 * n_helen)
    assert len(train) + len(val) == n_helen + n_afw
    det = _recipe("face_detector")
    assert split_pairs(det, det.data_dir())[1] == val  # the detector holds out the same photos


def test_split_changes_with_seed(tmp_path):
    from facelite_build.pts_tasks import split_pairs
    from facelite_build.recipe import load_recipe

    folder = tmp_path / "data" / "a"
    folder.mkdir(parents=True)
    for i in range(20):
        (folder / f"{i:02d}.jpg").write_bytes(b"")
        (folder / f"{i:02d}.pts").write_text("")
    vals = []
    for seed in (1, 2):
        recipe_path = tmp_path / f"r{seed}.toml"
        recipe_path.write_text(
            'name = "t"\nversion = "0"\ntask = "landmarks"\n'
            f'[data]\nlayout = "pts300w"\npath = "{tmp_path / "data"}"\ntrain = ["a"]\nval = ["a"]\n'
            f"val_fraction = 0.25\nseed = {seed}\n[head]\ntype = \"points\"\n[input]\ncrop = \"face\"\n"
        )
        r = load_recipe(recipe_path)
        train, val = split_pairs(r, r.data_dir())
        assert len(val) == 5 and len(train) == 15
        vals.append([p[0].name for p in val])
    assert vals[0] != vals[1]


@needs_data
def test_flipped_landmark_crops_keep_left_right():
    import tensorflow as tf

    from facelite_build.augment import augment_batch
    from facelite_build.data import FLIP_68, load_landmark_crops
    from facelite_build.pts_tasks import split_pairs
    from facelite_build.recipe import AugmentationConfig

    r = _recipe("landmarks")
    _, val = split_pairs(r, r.data_dir())
    ex = load_landmark_crops(val[:4], r.input_spec)
    # The subject's right outer eye corner (36) is on the image left in these frontal faces.
    assert (ex.y[:, 36, 0] < ex.y[:, 45, 0]).all()
    images = np.repeat(ex.x.astype(np.float32), 8, axis=0)
    points = np.repeat(ex.y, 8, axis=0)
    out_img, out_pts = augment_batch(tf.constant(images), AugmentationConfig(flip=True), tf.constant(points))
    out_img, out_pts = out_img.numpy(), out_pts.numpy()
    flipped_any = False
    for img, src, pts, orig in zip(out_img, images, out_pts, points):
        was_flipped = np.abs(img - src[:, ::-1]).mean() < np.abs(img - src).mean()
        flipped_any |= was_flipped
        expected = orig.copy()
        if was_flipped:
            expected = expected[FLIP_68]
            expected[:, 0] = 1.0 - expected[:, 0]
        np.testing.assert_allclose(pts, expected, atol=1e-4)
        assert pts[36, 0] < pts[45, 0]  # still the subject's right eye on the image left
        assert pts[48, 0] < pts[54, 0]  # mouth corners likewise
    assert flipped_any
