"""Near-duplicate grouping: a photo and its re-encoded, resized, brightened copies land in
one group (so on one side of a split), different faces are not merged, and the split
reports what it moved or dropped."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facelite_build.paths import data_root
from facelite_build.splits import (
    NEAR_DUPLICATE_BITS,
    duplicate_groups,
    duplicates_across,
    near_pairs,
    perceptual_hash,
    write_split_lists,
)

HELEN = data_root() / "landmarks300w" / "helen_train"
needs_helen = pytest.mark.skipif(not HELEN.is_dir(), reason=f"300W data not found at {HELEN}")


def _photos(n: int) -> list:
    return sorted(HELEN.glob("*.jpg"))[:n]


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """Two different HELEN faces, and four altered copies of the first."""
    folder = tmp_path_factory.mktemp("dups")
    first, other = _photos(40)[0], _photos(40)[-1]
    image = cv2.imread(str(first))
    variants = {
        "original.jpg": image,
        "reencoded.jpg": image,
        "half_size.png": cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA),
        "brighter.jpg": cv2.convertScaleAbs(image, alpha=1.1, beta=15),
        "shifted.jpg": image[3:, 3:],
    }
    paths = []
    for name, pixels in variants.items():
        path = folder / name
        params = [cv2.IMWRITE_JPEG_QUALITY, 60 if name == "reencoded.jpg" else 95]
        cv2.imwrite(str(path), pixels, params)
        paths.append(path)
    other_path = folder / "other_face.jpg"
    cv2.imwrite(str(other_path), cv2.imread(str(other)))
    return paths, other_path


@needs_helen
def test_a_photo_and_its_altered_copies_form_one_group_and_another_face_stays_apart(copies):
    paths, other = copies
    groups = duplicate_groups(paths + [other])
    assert groups == [list(range(len(paths)))]


@needs_helen
def test_only_identical_bytes_count_without_near(copies, tmp_path):
    paths, other = copies
    twin = tmp_path / "twin.jpg"
    twin.write_bytes(paths[0].read_bytes())
    assert duplicate_groups(paths + [twin], near=False) == [[0, len(paths)]]


@needs_helen
def test_validation_copies_of_training_files_are_found_and_counted(copies):
    paths, other = copies
    train, val = paths[:2] + [other], paths[2:]
    found, report = duplicates_across(train, val)
    assert found == [0, 1, 2]
    assert report.groups == 1 and report.files == 5 and report.straddling == 1
    found, report = duplicates_across([other], paths)
    assert found == [] and report.straddling == 0


@needs_helen
def test_distinct_helen_faces_are_not_merged():
    photos = [p for p in _photos(60) if not p.stem.endswith(("_2", "_3", "_4"))]  # one face per photo
    groups = duplicate_groups(photos)
    assert sum(len(g) for g in groups) <= 2, [[photos[i].name for i in g] for g in groups]


def test_candidate_pairs_match_a_brute_force_search():
    rng = np.random.default_rng(0)
    h = rng.integers(0, 2**63, 3000, dtype=np.int64).astype(np.uint64)
    for i in range(0, 300, 3):  # plant near copies: flip up to 10 bits
        flips = rng.choice(64, rng.integers(0, 11), replace=False)
        h[i + 1] = h[i] ^ np.uint64(sum(1 << int(b) for b in flips))
    fast = {tuple(p) for p in near_pairs(h).tolist()}
    d = np.bitwise_count(h[:, None] ^ h[None, :]) if hasattr(np, "bitwise_count") else None
    if d is None:
        pytest.skip("numpy < 2")
    i, j = np.nonzero(np.triu(d <= NEAR_DUPLICATE_BITS, 1))
    assert fast == set(zip(i.tolist(), j.tolist())) and len(fast) > 50


def test_brightness_and_contrast_keep_the_hash_close():
    rng = np.random.default_rng(1)
    face = cv2.GaussianBlur(rng.integers(0, 256, (120, 100), dtype=np.uint8), (0, 0), 4)
    base = perceptual_hash(face)
    for alpha, beta in ((1.0, 25), (1.2, 0), (0.8, 10)):
        changed = cv2.convertScaleAbs(face, alpha=alpha, beta=beta)
        assert bin(base ^ perceptual_hash(changed)).count("1") <= NEAR_DUPLICATE_BITS


def test_split_lists_name_what_was_removed(tmp_path, copies):
    from facelite_build.recipe import load_recipe

    paths, other = copies
    root = tmp_path / "data"
    for i, src in enumerate(paths + [other] + _photos(12)[1:]):
        (root / "faces" / "a").mkdir(parents=True, exist_ok=True)
        (root / "faces" / "a" / f"{i:02d}{src.suffix}").write_bytes(src.read_bytes())
    recipe_path = tmp_path / "r.toml"
    recipe_path.write_text(
        'name = "t"\nversion = "0"\ntask = "classification"\n'
        f'[data]\nlayout = "image_folder"\npath = "{root}"\ntrain = ["faces"]\nval_fraction = 0.5\nseed = 3\n'
        'labels = ["a"]\n[head]\ntype = "classifier"\n')
    recipe = load_recipe(recipe_path)
    report = write_split_lists(recipe, recipe.data_dir(), tmp_path / "lists")
    lists = {n: [ln for ln in (tmp_path / "lists" / f"{n}.txt").read_text().splitlines() if not ln.startswith("#")]
             for n in ("val", "val_all", "removed")}
    assert report["val"] == len(lists["val"]) and report["removed"] == len(lists["removed"]) > 0
    assert sorted(lists["val"] + lists["removed"]) == sorted(lists["val_all"])
    copy_names = {f"a/{i:02d}{p.suffix}" for i, p in enumerate(paths)}
    val_copies = copy_names & set(lists["val"])
    assert not val_copies or val_copies == copy_names  # a group is never on both sides
