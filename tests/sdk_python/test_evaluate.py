"""evaluate: DESIGN.md keys, numbers that agree with classify, skipped files, folder errors,
restricted classes, and detection parity with fp32."""

import json
import shutil

import numpy as np
import pytest

from facelite import BaseOptions, cli
from facelite.classifier import ExpressionClassifier, ExpressionClassifierOptions
from facelite.errors import DataError
from facelite.evaluate import evaluate

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
    clf = ExpressionClassifier.create_from_options(ExpressionClassifierOptions(
        base_options=BaseOptions(bundle_path=expression_bundle, variant="fp32", accelerator="cpu")))
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


def test_detection_reports_psnr_and_verdict_agreement_against_fp32(shipped, tiny_pts):
    r = evaluate(shipped["face_detector"], tiny_pts, "all")
    fp32, int8 = r["variants"]["fp32"], r["variants"]["int8"]
    assert fp32["psnr_db"] is None and fp32["agreement_vs_fp32"] == 1.0
    assert int8["psnr_db"] > 20 and 0 <= int8["agreement_vs_fp32"] <= 1
    assert fp32["n"] == int8["n"] == 5 and fp32["iou_threshold"] == 0.5


def test_landmarks_parity_is_psnr_and_max_error_without_agreement(shipped, tiny_pts):
    r = evaluate(shipped["landmarks"], tiny_pts, "int8")
    assert r["agreement_vs_fp32"] is None and r["psnr_db"] > 20 and r["max_abs_err_vs_fp32"] > 0


@pytest.fixture(scope="module")
def acne_two_levels(tmp_path_factory, data):
    """level0/ and level1/ with 4 ACNE04 photos each (the shipped acne bundle has level0-2)."""
    root = tmp_path_factory.mktemp("acne_two")
    for label in ("level0", "level1"):
        (root / label).mkdir()
        for f in sorted((data / "acne04" / label).glob("*.jpg"))[:4]:
            shutil.copy(f, root / label / f.name)
    return root


def test_classes_restrict_the_arg_max_and_the_result_says_so(shipped, acne_two_levels):
    full = evaluate(shipped["acne"], acne_two_levels, "all")
    sub = evaluate(shipped["acne"], acne_two_levels, "all", classes=["level0", "level1"])
    assert "classes" not in full["variants"]["fp32"] and "restricted_argmax" not in full["variants"]["fp32"]
    for name, r in sub["variants"].items():
        assert r["classes"] == ["level0", "level1"] and r["restricted_argmax"] is True
        assert r["labels"] == ["level0", "level1", "level2"]              # the bundle's labels
        assert set(r["per_class_recall"]) == {"level0", "level1"}
        conf = np.array(r["confusion"])
        assert conf.shape == (2, 2) and conf.sum() == r["n"] == 8
        assert r["accuracy"] == pytest.approx(np.trace(conf) / 8, abs=5e-6)
        assert r["accuracy"] >= full["variants"][name]["accuracy"]     # level2 can no longer be predicted
        assert r["psnr_db"] == full["variants"][name]["psnr_db"]         # raw outputs are unchanged


def test_unknown_classes_are_a_data_error_listing_the_bundle_labels(shipped, acne_two_levels):
    with pytest.raises(DataError, match="classes level9: not labels of this bundle; choose among level0, level1, level2"):
        evaluate(shipped["acne"], acne_two_levels, "fp32", classes=["level0", "level9"])


def test_a_folder_outside_the_classes_is_a_data_error(shipped, acne_two_levels):
    with pytest.raises(DataError, match="holds images of level1, outside the classes level0"):
        evaluate(shipped["acne"], acne_two_levels, "fp32", classes=["level0"])


def test_classes_are_for_classifiers_only(shipped, tiny_pts):
    with pytest.raises(DataError, match="a 'landmarks' bundle has none"):
        evaluate(shipped["landmarks"], tiny_pts, "fp32", classes=["a"])


def test_cli_evaluate_passes_classes_through(capsys, shipped, acne_two_levels):
    code = cli.main(["evaluate", str(shipped["acne"]), "--data", str(acne_two_levels), "--classes",
                     "level0, level1", "--json"])
    out, _ = capsys.readouterr()
    doc = json.loads(out)
    assert code == 0 and doc["classes"] == ["level0", "level1"] and doc["restricted_argmax"] is True


def test_a_folder_of_only_unreadable_images_is_a_data_error(shipped, tmp_path):
    (tmp_path / "level0").mkdir()
    (tmp_path / "level0" / "broken.jpg").write_bytes(b"not an image")
    with pytest.raises(DataError, match="none of the 1 samples could be read"):
        evaluate(shipped["acne"], tmp_path, "fp32")


def test_evaluate_refuses_a_tampered_bundle_under_the_signature_policy(expression_bundle, tiny_fer, tmp_path):
    import fixture_bundles as fb
    from facelite.errors import BundleError

    bad = fb.tamper(expression_bundle, tmp_path / "bad.flb", member="int8.tflite")
    with pytest.raises(BundleError, match="int8.tflite"):
        evaluate(bad, tiny_fer, "fp32")
    assert evaluate(expression_bundle, tiny_fer, "fp32")["signature"]["ok"] is True
