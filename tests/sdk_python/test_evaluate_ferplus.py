"""evaluate --labels: FER+ crowd votes as ground truth, scored by the FER+ majority rule.

A tiny `val/` folder of real FER2013 faces and a hand-made vote file whose rows cover
every case: a clear majority that agrees with the folder, one that relabels the image,
no majority, unknown, not a face, contempt (no label in a 7-class bundle), a row whose
image is missing, a row of another split, and an image without a row.
"""

import json
import shutil

import numpy as np
import pytest

from facelite import cli
from facelite.datasets import (
    FERPLUS_EMOTIONS,
    FERPLUS_VOTES,
    NO_MAJORITY,
    ferplus_majority,
    read_ferplus_votes,
)
from facelite.errors import DataError, UserError
from facelite.evaluate import evaluate, ferplus_items

HEADER = "split,file," + ",".join(FERPLUS_VOTES)

#            neutral happiness surprise sadness anger disgust fear contempt unknown NF
ROWS = {
    "happy/0": ("val", [0, 8, 1, 0, 1, 0, 0, 0, 0, 0]),   # happiness, as the folder says
    "happy/1": ("val", [0, 7, 3, 0, 0, 0, 0, 0, 0, 0]),   # happiness
    "happy/2": ("val", [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),   # every vote single: no majority
    "happy/3": ("val", [0, 0, 0, 0, 0, 0, 0, 0, 6, 4]),   # unknown
    "sad/0": ("val", [2, 0, 0, 7, 1, 0, 0, 0, 0, 0]),     # sadness
    "sad/1": ("val", [6, 0, 0, 4, 0, 0, 0, 0, 0, 0]),     # neutral: FER+ relabels the folder's "sad"
    "sad/2": ("val", [0, 0, 0, 0, 0, 0, 0, 0, 2, 8]),     # not a face
    "sad/3": ("val", [0, 0, 0, 1, 0, 0, 0, 9, 0, 0]),     # contempt: no such label in a 7-class bundle
    "sad/4": ("val", [0, 0, 0, 5, 0, 0, 0, 0, 5, 0]),     # 5 of 10 is not more than half: no majority
}
MISSING = ("val", "happy/not_there.jpg", [0, 10, 0, 0, 0, 0, 0, 0, 0, 0])
OTHER_SPLIT = ("train", "happy/Training_1.jpg", [0, 10, 0, 0, 0, 0, 0, 0, 0, 0])


@pytest.fixture(scope="module")
def ferplus_case(tmp_path_factory, data):
    """(val folder, votes CSV, {row key: file path under val}) on real FER2013 faces."""
    root = tmp_path_factory.mktemp("ferplus")
    val = root / "val"
    files = {}
    for label in ("happy", "sad"):
        (val / label).mkdir(parents=True)
        sources = sorted((data / "fer2013" / "val" / label).glob("*.jpg"))[:6]
        for i, src in enumerate(sources):
            shutil.copy(src, val / label / src.name)
            files[f"{label}/{i}"] = f"{label}/{src.name}"
    lines = [HEADER]
    for key, (split, votes) in ROWS.items():
        lines.append(f"{split},{files[key]}," + ",".join(map(str, votes)))
    for split, file, votes in (MISSING, OTHER_SPLIT):
        lines.append(f"{split},{file}," + ",".join(map(str, votes)))
    csv_path = root / "votes.csv"
    csv_path.write_text("\n".join(lines) + "\n")
    return val, csv_path, files


def test_majority_drops_single_votes_and_needs_more_than_half_of_the_rest():
    votes = np.array([v for _, v in ROWS.values()])
    names = [FERPLUS_VOTES[i] if i != NO_MAJORITY else None for i in ferplus_majority(votes)]
    assert names == ["happiness", "happiness", None, "unknown", "sadness", "neutral", "NF", "contempt", None]


def test_a_7_class_bundle_is_scored_on_the_shared_classes_with_contempt_left_out(expression_bundle, ferplus_case):
    val, votes, _ = ferplus_case
    r = evaluate(expression_bundle, val, "int8", labels_file=votes)
    truth = r["ground_truth"]
    assert truth["rule"] == "ferplus_majority" and truth["split"] == "val"
    assert truth["rows"] == len(ROWS) + 1          # the val rows; the train row is not one of them
    assert truth["scored"] == r["n"] == 4          # happy/0, happy/1, sad/0, sad/1
    assert truth["excluded"] == {"no_majority": 2, "unknown": 1, "not_face": 1, "missing_file": 1,
                                 "not_in_bundle": {"contempt": 1}}
    assert truth["unlabelled_images"] == 12 - len(ROWS)
    assert "contempt" in truth["note"] and "7 classes" in truth["note"]
    conf = np.array(r["confusion"])
    labels = r["labels"]
    assert conf[labels.index("happy")].sum() == 2 and conf[labels.index("sad")].sum() == 1
    assert conf[labels.index("neutral")].sum() == 1   # the folder says sad; the crowd says neutral


def test_ferplus_scores_equal_a_folder_relabelled_by_the_majority_rule(expression_bundle, ferplus_case, tmp_path):
    val, votes, files = ferplus_case
    relabelled = {"happy/0": "happy", "happy/1": "happy", "sad/0": "sad", "sad/1": "neutral"}
    for key, label in relabelled.items():
        (tmp_path / label).mkdir(exist_ok=True)
        shutil.copy(val / files[key], tmp_path / label / files[key].split("/")[1])
    with_votes = evaluate(expression_bundle, val, "all", labels_file=votes)["variants"]
    by_folder = evaluate(expression_bundle, tmp_path, "all")["variants"]
    for variant in ("fp32", "int8"):
        for key in ("n", "accuracy", "confusion", "per_class_recall", "agreement_vs_fp32"):
            assert with_votes[variant][key] == by_folder[variant][key], (variant, key)


def test_an_8_class_bundle_scores_contempt_too(ferplus_case):
    val, votes, files = ferplus_case
    items, truth = ferplus_items(val, read_ferplus_votes(votes), list(FERPLUS_EMOTIONS))
    assert truth["excluded"]["not_in_bundle"] == {} and "note" not in truth
    assert truth["classes"] == list(FERPLUS_EMOTIONS)
    got = {str(path.relative_to(val)): FERPLUS_EMOTIONS[i] for path, i in items}
    assert got == {files["happy/0"]: "happiness", files["happy/1"]: "happiness", files["sad/0"]: "sadness",
                   files["sad/1"]: "neutral", files["sad/3"]: "contempt"}


def test_the_cli_takes_labels_and_reports_what_was_left_out(expression_bundle, ferplus_case, capsys):
    val, votes, _ = ferplus_case
    code = cli.main(["evaluate", str(expression_bundle), "--data", str(val), "--labels", str(votes), "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ground_truth"]["scored"] == doc["n"] == 4
    code = cli.main(["evaluate", str(expression_bundle), "--data", str(val), "--labels", str(votes)])
    text = capsys.readouterr().out
    assert code == 0 and "FER+ majority labels" in text and "contempt 1" in text and "4 of 10 rows" in text


def test_a_folder_named_after_no_split_of_the_file_is_a_data_error(expression_bundle, ferplus_case, tmp_path):
    _, votes, _ = ferplus_case
    (tmp_path / "test" / "happy").mkdir(parents=True)
    with pytest.raises(DataError, match=r"no rows for split 'test' \(the file has train, val\)"):
        evaluate(expression_bundle, tmp_path / "test", "fp32", labels_file=votes)


def test_labels_that_are_not_expressions_are_a_data_error(ferplus_case):
    val, votes, _ = ferplus_case
    with pytest.raises(DataError, match="are none of them"):
        ferplus_items(val, read_ferplus_votes(votes), ["level0", "level1", "level2"])


def test_labels_with_classes_is_a_user_error(expression_bundle, ferplus_case):
    val, votes, _ = ferplus_case
    with pytest.raises(UserError, match="leave out --classes"):
        evaluate(expression_bundle, val, "fp32", labels_file=votes, classes=["happy", "sad"])


@pytest.mark.parametrize("text, problem", [
    ("split,file,neutral\n", "no column(s) happiness"),
    (HEADER + "\nval,a.jpg,0,9,1,0,0,0,0,0,0,x\n", ":2: column NF is 'x'"),
    (HEADER + "\nval,a.jpg,0,9,1\n", ":2: 5 values, the header has 12"),
    (HEADER + "\n", "a header and no rows"),
    ("", "empty"),
])
def test_a_malformed_vote_file_names_the_line_and_column(tmp_path, text, problem):
    path = tmp_path / "votes.csv"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        read_ferplus_votes(path)
    assert problem in str(info.value) and str(path) in str(info.value)
