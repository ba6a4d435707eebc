"""Train/validation splits: seeded, deterministic, disjoint by file, shared by landmarks and detection."""

from __future__ import annotations

import pytest

from facelite_build.paths import CHECKOUT, data_root
from facelite_build.splits import seeded_subset, split_indices, split_pairs

ROOT = data_root() / "landmarks300w"
needs_data = pytest.mark.skipif(not (ROOT / "helen_train").is_dir(), reason=f"300W data not found at {ROOT}")


def _recipe(name: str, overrides: tuple[str, ...] = ()):
    from facelite_build.recipe import load_recipe

    return load_recipe(CHECKOUT / "models" / name / "recipe.toml", overrides)


def test_index_split_is_deterministic_disjoint_and_complete():
    tr, va = split_indices(100, 0.15, seed=7)
    tr2, va2 = split_indices(100, 0.15, seed=7)
    assert (tr == tr2).all() and (va == va2).all()
    assert len(va) == 15 and not set(tr) & set(va) and len(tr) + len(va) == 100


def test_seeded_subset_keeps_order_and_is_reproducible():
    items = list(range(50))
    a, b = seeded_subset(items, 10, seed=3), seeded_subset(items, 10, seed=3)
    assert a == b == sorted(a) and len(a) == 10
    assert seeded_subset(items, None, seed=3) == items and seeded_subset(items, 99, seed=3) == items


@needs_data
def test_300w_split_is_deterministic_disjoint_and_shared_by_both_tasks():
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
    assert len(val) <= round(0.15 * n_helen) == len(split_pairs(lm, lm.data_dir(), near=None)[1])
    assert len(train) + len(val) == n_helen + n_afw
    det = _recipe("face_detector", (f'data.duplicates="{lm.data.duplicates}"',))
    assert split_pairs(det, det.data_dir())[1] == val  # under one duplicate rule, the detector holds out the same photos


def test_300w_split_changes_with_seed(tmp_path):
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
        train, val = split_pairs(r, r.data_dir(), near=None)  # empty stand-in files: no duplicate search
        assert len(val) == 5 and len(train) == 15
        vals.append([p[0].name for p in val])
    assert vals[0] != vals[1]


def test_shipped_recipes_load():
    for name in ("expression", "landmarks", "face_detector", "acne"):
        r = _recipe(name)
        assert r.name == name and r.quantization.variants == ["fp32", "fp16", "dynamic", "int8"]
