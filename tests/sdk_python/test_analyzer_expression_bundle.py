"""Which expression model the analyzer runs: `FaceAnalyzerOptions.expression_bundle` (CLI
`--expression-model`) picks `expression` (FER2013) or `expression_ferplus` (FER+) from the
bundles folder; the labels are the chosen bundle's."""

import json
import shutil

import pytest

from facelite import BaseOptions, Bundle, BundleError, FaceAnalyzer, FaceAnalyzerOptions, UserError, cli

CPU = BaseOptions(accelerator="cpu")


@pytest.fixture(scope="module")
def ferplus_only(tmp_path_factory, expression_bundle):
    """A bundles folder holding only `expression_ferplus/expression_ferplus.flb` (the tiny
    fixture classifier under that name); detector and landmarks are stand-ins."""
    root = tmp_path_factory.mktemp("models_ferplus")
    (root / "expression_ferplus").mkdir()
    shutil.copy(expression_bundle, root / "expression_ferplus" / "expression_ferplus.flb")
    return root


def _analyzer(root, **kw):
    return FaceAnalyzer.create_from_options(FaceAnalyzerOptions(base_options=CPU, bundles_dir=root,
                                                                stand_in="if_missing", **kw))


def test_expression_ferplus_option_runs_that_bundle_with_its_labels(ferplus_only, acne_photo, expression_bundle):
    result = _analyzer(ferplus_only, expression_bundle="expression_ferplus").analyze(acne_photo)
    assert result.stages["expression"].startswith("bundle:")
    with Bundle.open(expression_bundle) as b:
        labels = b.labels
    assert result.faces and set(result.faces[0].expression.scores) == set(labels)


def test_default_expression_bundle_is_the_fer2013_one(ferplus_only):
    assert _analyzer(ferplus_only).stages["expression"] == "skipped (no bundle)"


def test_asked_for_expression_bundle_that_is_missing_is_an_error_naming_the_path(tmp_path):
    with pytest.raises(BundleError, match="expression_ferplus.flb"):
        _analyzer(tmp_path, expression_bundle="expression_ferplus")
    with pytest.raises(UserError, match="one of expression, expression_ferplus"):
        FaceAnalyzerOptions(base_options=CPU, expression_bundle="emotion")


def test_cli_expression_model_flag_picks_the_bundle(capsys, ferplus_only, acne_photo):
    code = cli.main(["analyze", str(acne_photo), "--bundles", str(ferplus_only), "--stand-ins", "--json",
                     "--accelerator", "cpu", "--expression-model", "expression_ferplus"])
    out, _ = capsys.readouterr()
    assert code == 0 and json.loads(out)["stages"]["expression"].startswith("bundle:")
    assert cli.main(["analyze", str(acne_photo), "--bundles", str(ferplus_only), "--stand-ins",
                     "--expression-model", "emotion"]) == 2
