"""Test-time flip (`output.test_time_flip`): a classifier's scores are the float32 mean of
the scores of its prepared pixels and of their left-right mirror, in the runtime classifier
and in `facelite evaluate` alike; a bundle without the field runs once, as before."""

import numpy as np
import pytest

from facelite import BaseOptions, ExpressionClassifier, ExpressionClassifierOptions
from facelite.errors import BundleError
from facelite.evaluate import evaluate
from facelite.preprocess import normalize, prepare_pixels
from facelite.tasks import get_task
from facelite_build.package import rewrite_manifest
from facelite_build.recipe import RecipeError, load_recipe

TASK = get_task("classification")


@pytest.fixture(scope="module")
def flipped(tmp_path_factory, expression_bundle):
    """The fixture expression bundle with `output.test_time_flip: true` (re-signed)."""
    out = tmp_path_factory.mktemp("flip") / "expression.flb"
    return rewrite_manifest(expression_bundle, lambda m: m["output"].update(test_time_flip=True), out=out)


def _classifier(path):
    return ExpressionClassifier.create_from_options(ExpressionClassifierOptions(
        base_options=BaseOptions(bundle_path=str(path), accelerator="cpu", num_threads=1)))


def _asymmetric_crops(n=6, side=40):
    """Images whose mirror looks different to a classifier: a bright band off-centre."""
    rng = np.random.default_rng(3)
    images = rng.integers(0, 60, (n, side, side, 3), dtype=np.uint8)
    for i, img in enumerate(images):
        img[:, (i % 3) * 8:(i % 3) * 8 + 10] += 150
    return list(images)


def test_run_scores_averages_the_mirror_only_when_the_bundle_says_so():
    x = np.arange(2 * 2 * 3 * 1, dtype=np.float32).reshape(2, 2, 3, 1)
    calls = []

    def run(batch):  # "probabilities": the first and last column of each row
        calls.append(batch.copy())
        return np.stack([batch[:, 0, 0, 0], batch[:, 0, -1, 0]], 1)

    once = TASK.run_scores(run, x, {"kind": "probabilities"})
    assert len(calls) == 1 and np.array_equal(once, run(x))
    calls.clear()
    both = TASK.run_scores(run, x, {"kind": "probabilities", "test_time_flip": True})
    assert len(calls) == 2 and np.array_equal(calls[1], x[:, :, ::-1])
    assert both.dtype == np.float32
    assert np.array_equal(both, (run(x) + run(x[:, :, ::-1])) / np.float32(2))


def test_flip_classifier_scores_are_the_mean_of_the_crop_and_its_mirror(expression_bundle, flipped):
    images = _asymmetric_crops()
    with _classifier(expression_bundle) as plain, _classifier(flipped) as flip:
        spec = plain.spec
        pixels = np.stack([prepare_pixels(im, spec)[0] for im in images])
        x = normalize(pixels, spec)
        a = np.array([[r.scores[l] for l in plain.labels] for r in plain.classify_tensor(x)], np.float32)
        b = np.array([[r.scores[l] for l in plain.labels] for r in plain.classify_tensor(x[:, :, ::-1])], np.float32)
        want = (a + b) / np.float32(2)
        assert not np.array_equal(a, b)  # the mirror changes the answer, so averaging is visible
        for got in (flip.classify_batch(images), flip.classify_tensor(x)):
            scores = np.array([[r.scores[l] for l in flip.labels] for r in got], np.float32)
            np.testing.assert_allclose(scores, want, rtol=0, atol=1e-6)
            assert [r.label for r in got] == [flip.labels[i] for i in want.argmax(1)]


def test_evaluate_scores_a_flip_bundle_as_the_classifier_does(image_folder, tmp_path, flipped):
    folder = tmp_path / "val"
    folder.mkdir()
    for name, src in zip(("angry", "disgust", "fear"), ("left", "middle", "right")):  # bundle labels as folders
        (folder / name).symlink_to(image_folder / "val" / src, target_is_directory=True)
    files = sorted(folder.glob("*/*.jpg"))
    with _classifier(flipped) as clf:
        predicted = [clf.labels.index(r.label) for r in clf.classify_batch([str(f) for f in files])]
    truth = [clf.labels.index(f.parent.name) for f in files]
    result = evaluate(flipped, folder, variant="all", num_threads=1)
    confusion = np.zeros((len(clf.labels),) * 2, int)
    np.add.at(confusion, (truth, predicted), 1)
    assert result["variants"]["fp32"]["confusion"] == confusion.tolist()
    assert result["variants"]["int8"]["n"] == len(files)


def test_schema_refuses_a_flag_that_is_not_a_boolean(expression_bundle, tmp_path):
    with pytest.raises(BundleError, match="test_time_flip"):
        rewrite_manifest(expression_bundle, lambda m: m["output"].update(test_time_flip="yes"),
                         out=tmp_path / "bad.flb")


def test_recipe_allows_test_time_flip_on_classifiers_only(tmp_path):
    recipe = tmp_path / "r.toml"
    base = ('name = "r"\nversion = "1"\ntask = "{task}"\n[data]\npath = "x"\nval_fraction = 0.1\n{layout}'
            '[input]\ncrop = "{crop}"\n[head]\ntype = "{head}"\ntest_time_flip = true\n')
    recipe.write_text(base.format(task="classification", head="classifier", layout="", crop="none"))
    assert load_recipe(recipe).head.test_time_flip is True
    recipe.write_text(base.format(task="landmarks", head="points", layout='layout = "pts300w"\n', crop="face"))
    with pytest.raises(RecipeError, match="test_time_flip"):
        load_recipe(recipe)
