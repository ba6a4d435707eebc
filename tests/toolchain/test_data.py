"""Dataset loading, splits and point-consistent augmentation."""

import numpy as np
import pytest

from facelite.bundle import InputSpec
from facelite.errors import DataError
from facelite_build import data

SPEC = InputSpec((1, 32, 32, 3), "gray_as_rgb", "bilinear", (127.5,) * 3, (127.5,) * 3)


def test_image_folder_loads_every_class_at_model_resolution(image_folder):
    labels = data.class_folders(image_folder, "train")
    ex = data.load_image_folder(image_folder, "train", labels, SPEC, progress=False)
    assert labels == ["left", "middle", "right"]
    assert ex.x.shape == (72, 32, 32, 3) and ex.x.dtype == np.uint8
    assert np.bincount(ex.y).tolist() == [24, 24, 24]


def test_limit_takes_a_seeded_subset_that_still_covers_classes(image_folder):
    a = data.load_image_folder(image_folder, "train", ["left", "middle", "right"], SPEC, limit=30, seed=3)
    b = data.load_image_folder(image_folder, "train", ["left", "middle", "right"], SPEC, limit=30, seed=3)
    assert len(a) == 30 and a.names == b.names and len(set(a.y.tolist())) == 3


def test_missing_folder_empty_class_and_unreadable_image_name_the_path(tmp_path, image_folder):
    with pytest.raises(DataError, match="data folder not found"):
        data.class_folders(tmp_path / "nope", "train")
    (tmp_path / "train" / "empty").mkdir(parents=True)
    with pytest.raises(DataError, match=r"empty.*class folder is empty"):
        data.load_image_folder(tmp_path, "train", ["empty"], SPEC)
    bad = tmp_path / "train" / "bad"
    bad.mkdir()
    (bad / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="broken.jpg: unreadable image"):
        data.load_image_folder(tmp_path, "train", ["bad"], SPEC)


def test_pts_files_of_300w_parse_to_68_points(shared_data):
    pairs = data.list_pts_pairs(shared_data / "landmarks300w", ["afw"])
    pts = data.read_pts(pairs[0][1])
    assert len(pairs) == 337 and pts.shape == (68, 2)
    x, y, w, h = data.extent_box(pts, 0.1)
    assert w > 0 and h > 0 and x < pts[:, 0].min()


def test_malformed_pts_is_a_data_error(tmp_path):
    p = tmp_path / "a.pts"
    p.write_text("version: 1\nn_points: 2\n{\n1 2\n3 4\n}\n")
    with pytest.raises(DataError, match="expected 68 points"):
        data.read_pts(p)


def test_split_is_deterministic_disjoint_and_complete():
    tr, va = data.split_indices(100, 0.15, seed=7)
    tr2, va2 = data.split_indices(100, 0.15, seed=7)
    assert (tr == tr2).all() and (va == va2).all()
    assert len(va) == 15 and not set(tr) & set(va) and len(tr) + len(va) == 100


def test_flip_permutation_is_an_involution_that_swaps_eye_corners():
    assert (data.FLIP_68[data.FLIP_68] == np.arange(68)).all()
    assert data.FLIP_68[36] == 45 and data.FLIP_68[48] == 54 and data.FLIP_68[30] == 30


def test_class_weights_favour_rare_classes():
    w = data.class_weights(np.array([0] * 90 + [1] * 10), 2, "balanced")
    assert w[1] / w[0] == pytest.approx(9.0)
    assert data.class_weights(np.array([0, 1]), 2, "none") is None
