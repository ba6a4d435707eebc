"""Recipe validation: typos and bad values fail fast with file, key and fix."""

from pathlib import Path

import pytest

import facelite_build  # noqa: F401  (sets TF_USE_LEGACY_KERAS before anything imports TF)
from facelite_build.errors import RecipeError
from facelite_build.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]
BASE = """
name = "t"
version = "0.1"
task = "classification"
[data]
path = "x"
val = ["val"]
[training]
epochs = 1
"""


def write(tmp_path, text):
    p = tmp_path / "recipe.toml"
    p.write_text(text)
    return p


def test_shipped_expression_recipe_loads_with_imagenet_init():
    r = load_recipe(REPO / "models/expression/recipe.toml")
    assert r.task == "classification" and r.backbone.arch == "mobilenet_v1"
    assert r.input_spec.shape == (1, 96, 96, 3)
    assert len(r.data.labels) == 7 and r.weights_path().name.endswith("no_top.h5")
    assert len(r.sha256) == 64


def test_misspelled_key_names_key_table_suggestion_and_valid_keys(tmp_path):
    p = write(tmp_path, BASE.replace("epochs = 1", "epoch = 1"))
    with pytest.raises(RecipeError) as e:
        load_recipe(p)
    msg = str(e.value)
    assert "unknown key 'epoch' under [training]" in msg
    assert "did you mean 'epochs'?" in msg and "valid keys:" in msg and str(p) in msg


def test_unknown_top_level_key_is_reported(tmp_path):
    with pytest.raises(RecipeError, match="unknown key 'nmae' at the top level; did you mean 'name'"):
        load_recipe(write(tmp_path, "nmae = 'x'\n" + BASE))


def test_bad_choice_suggests_the_closest_valid_value(tmp_path):
    text = BASE + "[backbone]\narch = 'mobilenet_v3_smal'\n"
    with pytest.raises(RecipeError, match="did you mean 'mobilenet_v3_small'"):
        load_recipe(write(tmp_path, text))


def test_wrong_type_is_reported_with_its_path(tmp_path):
    with pytest.raises(RecipeError, match="'training.epochs' must be int"):
        load_recipe(write(tmp_path, BASE.replace("epochs = 1", "epochs = 'ten'")))


def test_missing_file_and_invalid_toml_are_user_errors(tmp_path):
    with pytest.raises(RecipeError, match="no such recipe file"):
        load_recipe(tmp_path / "nope.toml")
    with pytest.raises(RecipeError, match="not valid TOML"):
        load_recipe(write(tmp_path, "name = \n"))


def test_sparsity_out_of_range_and_channel_mismatch_are_rejected(tmp_path):
    with pytest.raises(RecipeError, match="target_sparsity"):
        load_recipe(write(tmp_path, BASE + "[pruning]\ntarget_sparsity = 1.5\n"))
    with pytest.raises(RecipeError, match="channels"):
        load_recipe(write(tmp_path, BASE + "[input]\ncolor = 'gray'\nchannels = 3\n"))


def test_validation_split_is_required(tmp_path):
    with pytest.raises(RecipeError, match="validation"):
        load_recipe(write(tmp_path, BASE.replace('val = ["val"]', "")))


def test_overrides_are_typed_validated_and_change_the_hash():
    base = load_recipe(REPO / "models/expression/recipe.toml")
    r = load_recipe(REPO / "models/expression/recipe.toml", ["backbone.arch=mobilenet_v2", "input.size=64"])
    assert r.backbone.arch == "mobilenet_v2" and r.input.size == 64 and r.sha256 != base.sha256
    with pytest.raises(RecipeError, match="unknown key 'epoch'"):
        load_recipe(REPO / "models/expression/recipe.toml", ["training.epoch=3"])


def test_backbone_output_layer_cuts_parameters_and_keeps_the_imagenet_init():
    from facelite_build.model import build_model

    full = build_model(load_recipe(REPO / "models/expression/recipe.toml", ["input.size=64"]), 7)
    cut = build_model(load_recipe(REPO / "models/expression/recipe.toml",
                                  ["input.size=64", "backbone.output_layer='conv_pw_11_relu'"]), 7)
    assert cut.count_params() < 0.6 * full.count_params()
    assert cut.output_shape == (None, 7)
    kernel = "conv_pw_11"
    assert (cut.get_layer(kernel).get_weights()[0] == full.get_layer(kernel).get_weights()[0]).all()


def test_unknown_backbone_output_layer_names_the_choices():
    from facelite_build.model import build_model

    r = load_recipe(REPO / "models/expression/recipe.toml", ["input.size=64", "backbone.output_layer='conv_pw_99'"])
    with pytest.raises(RecipeError, match="'conv_pw_99' is not a layer of this backbone; pick one of .*conv_pw_13_relu"):
        build_model(r, 7)


def test_grade_decision_is_argmax_or_median_on_classifiers_only(tmp_path):
    assert load_recipe(write(tmp_path, BASE)).head.grade_decision == "argmax"
    assert load_recipe(write(tmp_path, BASE + "[head]\ngrade_decision = 'median'\n")).head.grade_decision == "median"
    with pytest.raises(RecipeError, match=r"'head.grade_decision' is 'mode' \(one of: argmax, median\)"):
        load_recipe(write(tmp_path, BASE + "[head]\ngrade_decision = 'mode'\n"))
    landmarks = ('name = "t"\nversion = "0"\ntask = "landmarks"\n[data]\nlayout = "pts300w"\nval_fraction = 0.2\n'
                 '[input]\ncrop = "face"\n[head]\ntype = "points"\ngrade_decision = "median"\n')
    with pytest.raises(RecipeError, match="head.grade_decision .* a 'landmarks' bundle has no labels to pick: remove it"):
        load_recipe(write(tmp_path, landmarks))
