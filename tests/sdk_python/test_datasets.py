"""facelite.datasets: the one reader of image folders, labelled folders and 300W annotations."""

import numpy as np
import pytest

from facelite import datasets
from facelite.errors import DataError


def _touch(root, *names):
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


def _pts_text(points):
    return "version: 1\nn_points: 68\n{\n" + "".join(" ".join(map(str, p)) + "\n" for p in points) + "}\n"


def test_list_images_recurses_sorts_and_skips_hidden_files_and_folders(tmp_path):
    _touch(tmp_path, "b.JPG", "a.png", "notes.txt", ".hidden.jpg", "sub/c.webp", ".cache/d.jpg", "sub/.e.jpg")
    assert [p.relative_to(tmp_path).as_posix() for p in datasets.list_images(tmp_path)] == \
        ["a.png", "b.JPG", "sub/c.webp"]
    assert [p.name for p in datasets.list_images(tmp_path, recursive=False)] == ["a.png", "b.JPG"]


def test_list_images_of_a_missing_folder_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        datasets.list_images(tmp_path / "nope")


def test_labelled_images_index_into_the_given_labels_and_recurse(tmp_path):
    _touch(tmp_path, "sad/1.jpg", "happy/2.jpg", "happy/deeper/3.jpg")
    labels, items = datasets.labelled_images(tmp_path, ["angry", "happy", "sad"])
    assert labels == ["angry", "happy", "sad"]
    assert [(p.relative_to(tmp_path).as_posix(), i) for p, i in items] == \
        [("happy/2.jpg", 1), ("happy/deeper/3.jpg", 1), ("sad/1.jpg", 2)]


def test_labelled_images_without_labels_uses_the_sorted_folder_names(tmp_path):
    _touch(tmp_path, "b/1.jpg", "a/2.jpg", ".git/x.jpg")
    labels, items = datasets.labelled_images(tmp_path)
    assert labels == ["a", "b"] and [i for _, i in items] == [0, 1]


def test_labelled_images_names_folders_that_are_not_labels_and_missing_labels(tmp_path):
    _touch(tmp_path, "happy/1.jpg", "joy/2.jpg")
    with pytest.raises(DataError) as info:
        datasets.labelled_images(tmp_path, ["happy", "sad"])
    assert "joy" in str(info.value) and "sad" in str(info.value)
    (tmp_path / "joy" / "2.jpg").unlink()
    (tmp_path / "joy").rmdir()
    with pytest.raises(DataError, match="no folder for label"):
        datasets.labelled_images(tmp_path, ["happy", "sad"], require_all=True)


def test_labelled_images_needs_label_folders_with_images(tmp_path):
    with pytest.raises(DataError, match="no label folders"):
        datasets.labelled_images(tmp_path, ["happy"])
    (tmp_path / "happy").mkdir()
    with pytest.raises(DataError, match="hold no images"):
        datasets.labelled_images(tmp_path, ["happy"])


def test_read_pts_returns_68_float32_points(tmp_path):
    points = np.arange(136, dtype=np.float32).reshape(68, 2) + 0.5
    path = tmp_path / "face.pts"
    path.write_text(_pts_text(points))
    got = datasets.read_pts(path)
    assert got.dtype == np.float32 and got.shape == (68, 2) and np.array_equal(got, points)


@pytest.mark.parametrize("text, message", [
    ("version: 1\n1 2\n", "between a '{' line and a '}' line"),
    (_pts_text([(1, 2)] * 67), "has 67 points, expected 68"),
    (_pts_text([(1, 2)] * 67 + [(1, 2, 3)]), r":71: expected two numbers 'x y'"),
    (_pts_text([(1, 2)] * 67 + [("a", 2)]), r":71: expected two numbers"),
])
def test_read_pts_errors_name_the_file_and_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "bad.pts"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as info:
        datasets.read_pts(path)
    assert str(path) in str(info.value)


def test_read_pts_of_a_binary_file_is_a_data_error(tmp_path):
    path = tmp_path / "binary.pts"
    path.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(DataError, match="cannot be read"):
        datasets.read_pts(path)


def test_pts_pairs_find_the_image_beside_each_pts_recursively(tmp_path):
    _touch(tmp_path, "a/1.pts", "a/1.jpg", "a/sub/2.pts", "a/sub/2.PNG", "b/3.pts", "b/3.jpeg")
    pairs = datasets.pts_pairs(tmp_path / "a")
    assert [(i.relative_to(tmp_path).as_posix(), p.name) for i, p in pairs] == \
        [("a/1.jpg", "1.pts"), ("a/sub/2.PNG", "2.pts")]
    assert len(datasets.pts_pairs(tmp_path / "a", recursive=False)) == 1
    both = datasets.pts_pairs([tmp_path / "b", tmp_path / "a"])            # folder order kept
    assert [p.name for _, p in both] == ["3.pts", "1.pts", "2.pts"]


def test_pts_pairs_name_a_pts_without_its_image_and_an_empty_folder(tmp_path):
    _touch(tmp_path, "a/1.pts")
    with pytest.raises(DataError, match=r"1\.pts: no image beside it"):
        datasets.pts_pairs(tmp_path / "a")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .pts files"):
        datasets.pts_pairs(tmp_path / "empty")
    with pytest.raises(DataError, match="no such 300W folder"):
        datasets.pts_pairs(tmp_path / "nope")


def test_extent_box_is_the_min_max_of_the_points_grown_by_margin_per_side():
    points = np.array([[10, 20], [30, 60], [20, 40]], np.float32)
    assert datasets.extent_box(points) == (10.0, 20.0, 20.0, 40.0)
    assert datasets.extent_box(points, margin=0.25) == (5.0, 10.0, 30.0, 60.0)


def test_the_real_300w_annotations_all_read(shared_data):
    folders = [shared_data / "landmarks300w" / s for s in ("afw", "helen_train")]
    if not all(f.is_dir() for f in folders):
        pytest.skip("no 300W data")
    pairs = datasets.pts_pairs(folders)
    assert len(pairs) > 1000 and all(datasets.read_pts(p).shape == (68, 2) for _, p in pairs[:50])


def test_dataset_docstring_examples_run():
    import doctest

    assert doctest.testmod(datasets, optionflags=doctest.ELLIPSIS).failed == 0
