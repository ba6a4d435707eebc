"""Image folders → in-memory examples at model resolution, with the runtime's pixels."""

import numpy as np
import pytest

from facelite.errors import DataError, ImageError
from facelite.preprocess import InputSpec, prepare_pixels
from facelite_build import data

SPEC = InputSpec((1, 32, 32, 3), "gray_as_rgb", "bilinear", (127.5,) * 3, (127.5,) * 3)


def test_image_folder_loads_every_class_at_model_resolution(image_folder):
    labels, ex = data.load_image_folder(image_folder / "train", None, SPEC, progress=False)
    assert labels == ["left", "middle", "right"]
    assert ex.x.shape == (72, 32, 32, 3) and ex.x.dtype == np.uint8
    assert np.bincount(ex.y).tolist() == [24, 24, 24]


def test_image_folder_pixels_are_the_runtime_prepare_pixels_of_each_file(image_folder):
    _, ex = data.load_image_folder(image_folder / "train", None, SPEC, limit=5, progress=False)
    for pixels, name in zip(ex.x, ex.names):
        assert np.array_equal(pixels, prepare_pixels(name, SPEC)[0])


def test_limit_takes_a_seeded_subset_that_still_covers_classes(image_folder):
    labels = ["left", "middle", "right"]
    _, a = data.load_image_folder(image_folder / "train", labels, SPEC, limit=30, seed=3)
    _, b = data.load_image_folder(image_folder / "train", labels, SPEC, limit=30, seed=3)
    assert len(a) == 30 and a.names == b.names and len(set(a.y.tolist())) == 3


def test_missing_folder_missing_label_and_unreadable_image_name_the_path(tmp_path, image_folder):
    with pytest.raises(DataError, match="nope: no such data folder"):
        data.load_image_folder(tmp_path / "nope", None, SPEC)
    with pytest.raises(DataError, match="no folder for label.*absent"):
        data.load_image_folder(image_folder / "train", ["left", "middle", "right", "absent"], SPEC)
    bad = tmp_path / "train" / "bad"
    bad.mkdir(parents=True)
    (bad / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ImageError, match="broken.jpg"):
        data.load_image_folder(tmp_path / "train", ["bad"], SPEC)


def test_examples_take_and_concat_keep_pixels_targets_and_names_together():
    a = data.Examples(np.zeros((2, 1, 1, 1), np.uint8), np.array([0, 1]), ["a0", "a1"])
    b = data.Examples(np.ones((1, 1, 1, 1), np.uint8), np.array([2]), ["b0"])
    both = data.Examples.concat([a, b])
    assert len(both) == 3 and both.names == ["a0", "a1", "b0"] and both.y.tolist() == [0, 1, 2]
    picked = both.take(np.array([2, 0]))
    assert picked.names == ["b0", "a0"] and picked.x[0, 0, 0, 0] == 1
