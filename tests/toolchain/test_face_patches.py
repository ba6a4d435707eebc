"""The face_patches layout: each photo's face found once (cached), cut into the runtime's
skin crop and acne views, split by photo with exact duplicates on one side."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from facelite.acne import acne_views
from facelite.image import load_image
from facelite.mean_shape import fit_to_box
from facelite.preprocess import prepare_pixels
from facelite.skin_measures import face_crop
from facelite_build import face_patches
from facelite_build.errors import RecipeError
from facelite_build.face_patches import FaceGeometry, face_geometry
from facelite_build.paths import CHECKOUT, data_root
from facelite_build.recipe import load_recipe
from facelite_build.splits import exact_duplicate_groups, keep_duplicates_together
from facelite_build.tasks import get_task

ACNE = data_root() / "acne04"
needs_acne04 = pytest.mark.skipif(not (ACNE / "level0").is_dir(), reason=f"ACNE04 not found at {ACNE}")
RECIPE = CHECKOUT / "models" / "acne" / "recipe.toml"


def test_identical_files_are_grouped_and_a_group_is_held_out_only_whole(tmp_path):
    for name, content in (("a", b"same"), ("b", b"other"), ("c", b"same"), ("d", b"x"), ("e", b"x")):
        (tmp_path / name).write_bytes(content)
    groups = exact_duplicate_groups([tmp_path / n for n in "abcde"])
    assert sorted(groups) == [[0, 2], [3, 4]]
    train, val, moved = keep_duplicates_together(np.array([0, 1]), np.array([2, 3, 4]), groups)
    assert train.tolist() == [0, 1, 2] and val.tolist() == [3, 4] and moved == 1


class CountingFinder:
    key = "test"

    def __init__(self):
        self.calls = 0

    def find(self, image):
        self.calls += 1
        return None if image.mean() == 0 else FaceGeometry((1.0, 2.0, 30.0, 40.0), 0.9, fit_to_box((1, 2, 30, 40)))


def test_faces_are_found_once_per_distinct_photo_and_then_read_from_the_cache(tmp_path):
    import cv2

    paths = []
    for name, value in (("a", 120), ("b", 0), ("c", 120)):  # a and c: the same bytes
        cv2.imwrite(str(tmp_path / f"{name}.png"), np.full((8, 8, 3), value, np.uint8))
        paths.append(tmp_path / f"{name}.png")
    finder = CountingFinder()
    first = face_geometry(paths, tmp_path / "cache", finder, progress=False)
    assert finder.calls == 2 and first[paths[1]] is None
    assert np.array_equal(first[paths[2]].points, first[paths[0]].points)
    again = face_geometry(paths, tmp_path / "cache", finder, progress=False)
    assert finder.calls == 2 and again[paths[0]].box == (1.0, 2.0, 30.0, 40.0)
    cached = json.loads((tmp_path / "cache" / "faces-test.json").read_text())
    assert len(cached) == 2 and None in cached.values()


def test_classification_reads_the_face_patches_layout_and_landmarks_does_not(tmp_path):
    recipe = load_recipe(RECIPE)
    assert recipe.data.layout == "face_patches" and recipe.input.crop == "face" and recipe.input.margin == 0.0
    assert get_task("classification").layouts == ("image_folder", "face_patches")
    bad = tmp_path / "r.toml"
    bad.write_text(RECIPE.read_text().replace('task = "classification"', 'task = "landmarks"')
                   .replace('type = "classifier"', 'type = "points"').replace("test_time_flip = true", ""))
    with pytest.raises(RecipeError, match="task 'landmarks' reads data.layout = 'pts300w'"):
        load_recipe(bad)


@needs_acne04
def test_samples_are_the_runtime_views_of_each_face_split_by_photo(tmp_path, monkeypatch):
    monkeypatch.setenv("FACELITE_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "data" / "acne04"
    for level, names in (("level0", ["level0_1.jpg", "level0_2.jpg"]), ("level1", ["level1_0.jpg", "level1_8.jpg"]),
                         ("level2", ["level2_2.jpg"])):
        (root / level).mkdir(parents=True)
        for name in names:
            shutil.copy(ACNE / level / name, root / level / name)
    shutil.copy(ACNE / "level0" / "level0_1.jpg", root / "level2" / "copy_of_level0_1.jpg")
    import cv2

    cv2.imwrite(str(root / "level1" / "wall.png"), np.full((64, 64, 3), 128, np.uint8))  # no face
    recipe = load_recipe(RECIPE, [f"data.path='{tmp_path / 'data'}'", "data.val_fraction=0.5"])
    splits = get_task("classification").load_splits(recipe, recipe.data_dir())
    info = splits.info
    assert info["photos"]["train"] + info["photos"]["val"] == 7
    assert info["duplicates"] == {"groups": 1, "files": 2, "groups_with_different_labels": 1,
                                  "moved_to_train": info["duplicates"]["moved_to_train"]}
    assert sum(info["no_face"]["train"].values()) + sum(info["no_face"]["val"].values()) == 1
    photos = lambda ex: {n.split("#")[0] for n in ex.names}
    assert not photos(splits.train) & photos(splits.val)
    copies = {str(root / "level0" / "level0_1.jpg"), str(root / "level2" / "copy_of_level0_1.jpg")}
    assert copies <= photos(splits.train) or copies <= photos(splits.val)
    name = splits.val.names[0]
    path, view = name.split("#")
    faces = face_geometry([path])
    crop = face_crop(load_image(path), next(iter(faces.values())).points)
    box = dict(acne_views(crop.points, crop.size))[view]
    assert np.array_equal(splits.val.x[0], prepare_pixels(crop.image, recipe.input_spec, box)[0])
    assert splits.val.x.shape[1:] == recipe.input_spec.shape[1:] and view == "face"
    assert face_patches.LAYOUT in info["layout"]
