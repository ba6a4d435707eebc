"""FER+ crowd votes as classification targets: the paper's three modes, its drop rule, and a
recipe with `data.votes` read from a tiny image folder and vote file."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from facelite.datasets import FERPLUS_EMOTIONS, FERPLUS_VOTES
from facelite_build.errors import RecipeError
from facelite_build.recipe import load_recipe
from facelite_build.tasks import get_task
from facelite_build.vote_targets import training_targets, vote_distribution

NEUTRAL_WITH_UNKNOWN = [6, 0, 0, 0, 1, 0, 0, 0, 3, 0]  # single anger vote dropped; neutral 6 of 9
SPLIT_HAPPY_SURPRISE = [0, 4, 4, 0, 0, 0, 0, 0, 2, 0]  # no majority; two emotions hold 80% of the votes
NOT_A_FACE = [0, 0, 0, 0, 0, 0, 0, 0, 0, 10]
SPREAD_OVER_FIVE = [2, 2, 2, 2, 2, 0, 0, 0, 0, 0]       # five tied labels: more than three, discarded
CONTEMPT = [3, 0, 0, 0, 0, 0, 0, 7, 0, 0]       # 7 of 10 is under 75%: neutral comes in
VOTES = np.array([NEUTRAL_WITH_UNKNOWN, SPLIT_HAPPY_SURPRISE, NOT_A_FACE, SPREAD_OVER_FIVE, CONTEMPT])


def test_majority_targets_are_one_hot_and_drop_images_without_an_emotion_majority():
    targets, keep = training_targets(VOTES, "majority")
    assert keep.tolist() == [True, False, False, False, True]
    assert targets[0].tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    assert targets[4].argmax() == FERPLUS_EMOTIONS.index("contempt") and targets[4].sum() == 1


@pytest.mark.parametrize("mode", ["probability", "cross_entropy"])
def test_distribution_targets_follow_the_ferplus_rule(mode):
    targets, keep = training_targets(VOTES, mode)
    assert keep.tolist() == [True, True, False, False, True]
    # neutral 6 and unknown 3: the walk stops at unknown, which is dropped; neutral is the whole target
    assert targets[0].tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    assert targets[1][1:3].tolist() == [0.5, 0.5]
    assert targets[4][[0, 7]].tolist() == pytest.approx([0.3, 0.7])
    assert np.allclose(targets[keep].sum(1), 1.0) and not targets[~keep].any()


def test_unknown_leading_or_too_many_labels_leaves_an_empty_distribution():
    d = vote_distribution(np.array([NOT_A_FACE, SPREAD_OVER_FIVE, [0, 0, 0, 0, 0, 0, 0, 0, 7, 3]]))
    assert d[0, FERPLUS_VOTES.index("NF")] == 1.0
    assert not d[1].any()
    assert d[2].argmax() == FERPLUS_VOTES.index("unknown")


def _votes_recipe(tmp_path: Path, folder: Path, targets: str, rows: list[str]) -> Path:
    (tmp_path / "votes.csv").write_text("split,file," + ",".join(FERPLUS_VOTES) + "\n" + "\n".join(rows) + "\n")
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'name = "t"\nversion = "0"\ntask = "classification"\n'
                      f'[data]\npath = "{folder}"\nval = ["val"]\nvotes = "{tmp_path / "votes.csv"}"\n'
                      f'targets = "{targets}"\n[input]\nsize = 32\ncolor = "gray_as_rgb"\n')
    return recipe


def _rows(folder: Path) -> list[str]:
    """Votes for every image but one: train/left/0.jpg has none; train/left/* is neutral,
    middle* split happiness/surprise (no majority), right/0..3 not faces, the rest contempt."""
    rows = []
    for path in sorted(folder.glob("*/*/*.jpg")):
        split, label, name = path.relative_to(folder).parts
        if (split, label, name) == ("train", "left", "0.jpg"):
            continue
        votes = {"left": NEUTRAL_WITH_UNKNOWN, "middle": SPLIT_HAPPY_SURPRISE,
                 "right": NOT_A_FACE if int(path.stem) < 4 else CONTEMPT}[label]
        rows.append(f"{split},{label}/{name}," + ",".join(map(str, votes)))
    return rows


def test_recipe_with_votes_trains_on_vote_targets_and_validates_on_majority_labels(tmp_path, image_folder):
    recipe = load_recipe(_votes_recipe(tmp_path, image_folder, "cross_entropy", _rows(image_folder)))
    splits = get_task("classification").load_splits(recipe, recipe.data_dir())
    assert splits.labels == list(FERPLUS_EMOTIONS)
    # train: 72 images, 1 without votes, 4 not faces; middle (24) is kept by its distribution
    assert len(splits.train) == 67 and splits.train.y.shape == (67, 8)
    # val: 24 images, middle (8, no majority) and right/0..3 (not faces) dropped
    assert len(splits.val) == 12 and splits.val.y.dtype == np.int32
    assert sorted(set(splits.val.y.tolist())) == [0, 7]
    votes = splits.info["votes"]
    assert (votes["images_without_votes"], votes["train_dropped"], votes["val_dropped"]) == (1, 4, 12)


def test_probability_targets_draw_one_hot_labels_from_each_images_votes(tmp_path, image_folder):
    recipe = load_recipe(_votes_recipe(tmp_path, image_folder, "probability", _rows(image_folder)))
    splits = get_task("classification").load_splits(recipe, recipe.data_dir())
    train, val = get_task("classification").datasets(recipe, splits)
    drawn = np.concatenate([t.numpy() for _ in range(3) for _, t in train])
    assert set(drawn.sum(1).tolist()) == {1.0}
    assert set(drawn.argmax(1).tolist()) == {0, 1, 2, 7}  # every label drawn lies in some image's votes
    _, v = next(iter(val))
    assert v.shape[1] == 8 and set(v.numpy().sum(1).tolist()) == {1.0}


@pytest.mark.parametrize("change, message", [
    ('targets = "soft"', "'data.targets' is 'soft'"),
    ('labels = ["happy", "sad"]', "with data.votes the labels are the FER+ emotions"),
])
def test_recipe_with_votes_rejects_unknown_modes_and_other_labels(tmp_path, image_folder, change, message):
    p = _votes_recipe(tmp_path, image_folder, "majority", [])
    p.write_text(p.read_text().replace('targets = "majority"', change))
    with pytest.raises(RecipeError, match=re.escape(message)):
        load_recipe(p)
