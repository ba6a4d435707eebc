"""evaluate: DESIGN.md keys, numbers that agree with classify, skipped files, folder errors."""

import shutil

import numpy as np
import pytest

from facelite.classifier import ExpressionClassifier, ExpressionClassifierOptions
from facelite.errors import DataError
from facelite.evaluate import evaluate, psnr_db

CLASSIFICATION_KEYS = {"n", "accuracy", "per_class_recall", "confusion", "agreement_vs_fp32", "psnr_db",
                       "labels", "skipped"}


@pytest.fixture(scope="module")
def tiny_fer(tmp_path_factory, data):
    """happy/ and sad/ with 6 real FER2013 val faces each, plus one broken file in sad/."""
    root = tmp_path_factory.mktemp("fer_tiny")
    for label in ("happy", "sad"):
        (root / label).mkdir()
        for f in sorted((data / "fer2013" / "val" / label).glob("*.jpg"))[:6]:
            shutil.copy(f, root / label / f.name)
    (root / "sad" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    return root


def test_classification_keys_and_counts_on_a_tiny_folder(expression_bundle, tiny_fer):
    r = evaluate(expression_bundle, tiny_fer, "int8")
    assert CLASSIFICATION_KEYS <= set(r)
    assert r["n"] == 12
    assert [s["file"].endswith("broken.jpg") for s in r["skipped"]] == [True]
    assert "truncated" in r["skipped"][0]["reason"] or "not an image" in r["skipped"][0]["reason"]
    conf = np.array(r["confusion"])
    assert conf.shape == (7, 7) and conf.sum() == 12
    # evaluate reports ratios rounded to 5 decimals (4/12 → 0.33333): compare within that rounding
    assert r["accuracy"] == pytest.approx(np.trace(conf) / 12, abs=5e-6)
    happy, sad = r["labels"].index("happy"), r["labels"].index("sad")
    assert conf[happy].sum() == 6 and conf[sad].sum() == 6
    assert r["per_class_recall"]["angry"] is None        # no angry folder: no recall
    assert 0 <= r["agreement_vs_fp32"] <= 1 and r["psnr_db"] > 20


def test_evaluate_and_classify_see_identical_inputs(expression_bundle, tiny_fer):
    r = evaluate(expression_bundle, tiny_fer, "fp32")
    clf = ExpressionClassifier.create_from_options(
        ExpressionClassifierOptions(bundle_path=expression_bundle, variant="fp32", accelerator="cpu"))
    conf = np.zeros((7, 7), int)
    for label in ("happy", "sad"):
        for f in sorted((tiny_fer / label).glob("PublicTest_*.jpg")):
            pred = clf.classify(f).top[0]
            conf[clf.labels.index(label), clf.labels.index(pred)] += 1
    assert conf.tolist() == r["confusion"]


def test_variant_all_nests_per_variant_and_fp32_parity_is_exact(expression_bundle, tiny_fer):
    r = evaluate(expression_bundle, tiny_fer, "all")
    assert set(r["variants"]) == {"fp32", "int8"}
    fp32 = r["variants"]["fp32"]
    assert fp32["agreement_vs_fp32"] == 1.0 and fp32["psnr_db"] is None   # infinite PSNR → null
    assert CLASSIFICATION_KEYS <= set(r["variants"]["int8"])


def test_unknown_label_folders_are_named_with_the_bundle_labels(expression_bundle, tmp_path):
    (tmp_path / "happy").mkdir()
    (tmp_path / "joy").mkdir()
    with pytest.raises(DataError) as info:
        evaluate(expression_bundle, tmp_path, "fp32")
    assert "joy" in str(info.value) and "surprise" in str(info.value)


def test_missing_data_folder_is_a_data_error(expression_bundle, tmp_path):
    with pytest.raises(DataError, match="no such data folder"):
        evaluate(expression_bundle, tmp_path / "nope", "fp32")


@pytest.fixture(scope="module")
def tiny_pts(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("pts_tiny")
    for pts in sorted((data / "landmarks300w" / "afw").glob("*.pts"))[:5]:
        shutil.copy(pts, root / pts.name)
        shutil.copy(pts.with_suffix(".jpg"), root / pts.with_suffix(".jpg").name)
    return root


def test_landmarks_evaluation_reports_nme(bundles, tiny_pts):
    r = evaluate(bundles["landmarks"], tiny_pts, "fp32")
    assert r["task"] == "landmarks" and r["n"] == 5
    assert r["nme"] > 0 and r["skipped"] == []


def test_detection_evaluation_reports_recall_precision_false_boxes(bundles, tiny_pts):
    r = evaluate(bundles["detector"], tiny_pts, "fp32")
    assert {"n", "recall", "precision", "false_boxes_per_image"} <= set(r)
    assert r["n"] == 5 and 0 <= r["recall"] <= 1 and r["false_boxes_per_image"] >= 0


def test_psnr_is_null_for_identical_outputs_and_finite_otherwise():
    a = np.array([[0.2, 0.8]])
    assert psnr_db(a, a) is None
    assert psnr_db(a + 0.01, a, peak=1.0) == pytest.approx(40.0)
