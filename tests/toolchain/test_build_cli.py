"""`facelite-build` end to end on a tiny dataset: stages, resume, exit codes, atomic bundles."""

import json
import shutil
import zipfile

import numpy as np
import pytest

from facelite.bundle import Bundle, write_bundle
from facelite.evaluate import evaluate
from facelite.options import DEFAULT_THREADS
from facelite.verify import verify_bundle
from facelite_build.cli import main

RECIPE = """
name = "tiny"
version = "0.0.1"
task = "classification"
[data]
path = "{data}"
train = ["train"]
val = ["val"]
[input]
size = 32
color = "gray_as_rgb"
[backbone]
arch = "mobilenet_v1"
alpha = 0.25
[training]
epochs = 1
batch = 16
learning_rate = 0.005
[training.augmentation]
flip = true
rotation = 10
[pruning]
target_sparsity = 0.5
epochs = 1
[quantization]
calibration_samples = 32
qat = true
qat_epochs = 1
"""


@pytest.fixture(scope="module")
def built(image_folder, tmp_path_factory):
    """One full `facelite-build build --json` run; returns (exit code, stdout JSON, out dir)."""
    out = tmp_path_factory.mktemp("build")
    recipe = out / "recipe.toml"
    recipe.write_text(RECIPE.format(data=image_folder))
    capture = out / "stdout.json"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["build", str(recipe), "--out", str(out / "work"), "--json", "--quiet"])
    capture.write_text(buf.getvalue())
    return code, json.loads(buf.getvalue()), out


def test_build_writes_a_verified_bundle_with_all_four_variants(built):
    code, result, out = built
    assert code == 0
    path = out / "work" / "tiny.flb"
    with Bundle.open(path) as b:
        assert sorted(b.variants) == ["dynamic", "fp16", "fp32", "int8"]
        assert b.verify_checksums() == []
        assert all(off % 4 == 0 for off in b.member_offsets().values())
        m = b.manifest
        assert b.report()["data"]["duplicate_rule"] == "near"  # data.duplicates, the default
    assert m["variants"]["int8"]["input_dtype"] == "int8"
    assert m["metrics"]["split"] == "val" and m["metrics"]["duplicate_rule"] == "near"
    assert {"fp32", "int8", "fp32_keras"} <= set(m["metrics"])
    assert 0.0 <= m["metrics"]["int8"]["agreement_vs_fp32"] <= 1.0
    assert m["build"]["recipe_sha256"] and result["package"]["bundle"] == str(path)


def test_built_bundle_stores_pixel_goldens_and_each_variant_matches_its_own_outputs(built):
    _, _, out = built
    path = out / "work" / "tiny.flb"
    with Bundle.open(path) as b:
        assert b.golden_inputs().dtype == np.uint8
        assert sorted(b.manifest["golden"]["variant_outputs"]) == ["dynamic", "fp16", "int8"]
    report = verify_bundle(path)
    assert report["ok"], report["problems"]
    for name in ("fp16", "dynamic", "int8"):
        assert report["variants"][name]["against"] == name
        assert report["variants"][name]["max_abs_err"] == 0.0   # same LiteRT, same bytes


def test_built_bundle_records_each_variants_latency_and_agreement_for_variant_auto(built):
    from facelite.engine import choose_variant

    _, _, out = built
    with Bundle.open(out / "work" / "tiny.flb") as b:
        m = b.manifest
        measured = {name: v.measured for name, v in b.variants.items()}
        chosen = choose_variant(b, "cpu")
    assert all(r.accelerator == "cpu" and r.latency_ms > 0 and r.threads == DEFAULT_THREADS for r in measured.values())
    assert len({r.repeats for r in measured.values()}) == 1 and measured["fp32"].host["cores"] >= 1
    assert measured["fp32"].agreement == 1.0
    assert measured["int8"].agreement == m["metrics"]["int8"]["agreement_vs_fp32"]  # the build's own figure
    assert chosen in b.variants


def test_reported_sparsity_matches_the_recipe_target_within_two_points(built):
    _, result, out = built
    with Bundle.open(out / "work" / "tiny.flb") as b:
        assert abs(b.variants["int8"].sparsity - 0.5) <= 0.02
    assert abs(result["prune"]["sparsity"] - 0.5) <= 0.02


def test_quantization_aware_fine_tuning_runs_when_the_recipe_asks(built):
    _, result, _ = built
    assert result["convert"]["qat"]["epochs"] == 1 and "loss" in result["convert"]["qat"]


def test_training_resumes_from_the_last_finished_epoch(built, capsys):
    _, _, out = built
    code = main(["train", str(out / "recipe.toml"), "--out", str(out / "work"), "--epochs", "2", "--json", "--quiet"])
    captured = capsys.readouterr()
    history = json.loads(captured.out)["train"]["history"]
    assert code == 0 and [h["epoch"] for h in history] == [1, 2]
    assert "resuming training at epoch 2/2" in captured.err


def test_packaging_with_test_time_flip_writes_the_flag_and_scores_val_with_the_mirror(built, image_folder,
                                                                                      tmp_path, capsys):
    """`head.test_time_flip`: the package stage writes `output.test_time_flip` and records val
    metrics the way the runtime reads the bundle (mean of the crop's and its mirror's scores)."""
    _, _, out = built
    work = tmp_path / "work"
    shutil.copytree(out / "work", work)  # the other tests keep reading the unflagged bundle
    with Bundle.open(work / "tiny.flb") as plain:
        assert "test_time_flip" not in plain.manifest["output"]
    capsys.readouterr()
    assert main(["package", str(out / "recipe.toml"), "--out", str(work), "--quiet", "--json",
                 "--set", "head.test_time_flip=true"]) == 0
    recorded = json.loads(capsys.readouterr().out)["package"]["metrics"]
    with Bundle.open(work / "tiny.flb") as flipped:
        assert flipped.manifest["output"]["test_time_flip"] is True
    measured = evaluate(work / "tiny.flb", image_folder / "val", variant="all", num_threads=1)["variants"]
    for variant in ("fp32", "int8"):  # the toolchain's and the runtime's decoders may differ by a pixel level
        assert abs(recorded[variant]["accuracy"] - measured[variant]["accuracy"]) <= 1 / measured[variant]["n"] + 1e-4


def test_packaging_with_grade_decision_median_writes_the_field_and_argmax_writes_none(built, tmp_path, capsys):
    """`head.grade_decision`: "median" is written as `output.grade_decision`; the default
    (argmax) writes nothing, so bundles built before the key keep their bytes."""
    _, _, out = built
    work = tmp_path / "work"
    shutil.copytree(out / "work", work)
    with Bundle.open(work / "tiny.flb") as plain:
        assert "grade_decision" not in plain.manifest["output"]
    assert main(["package", str(out / "recipe.toml"), "--out", str(work), "--quiet", "--json",
                 "--set", "head.grade_decision=median"]) == 0
    capsys.readouterr()
    with Bundle.open(work / "tiny.flb") as median:
        assert median.manifest["output"]["grade_decision"] == "median"


def test_bad_recipe_exits_2_with_a_message_and_no_traceback(tmp_path, capsys):
    p = tmp_path / "r.toml"
    p.write_text(RECIPE.format(data=tmp_path).replace("epochs = 1\nbatch", "epoch = 1\nbatch"))
    assert main(["build", str(p), "--out", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'epoch' under [training]; did you mean 'epochs'?" in err
    assert "Traceback" not in err


def test_missing_data_folder_exits_2_naming_it(tmp_path, capsys):
    p = tmp_path / "r.toml"
    p.write_text(RECIPE.format(data=tmp_path / "nowhere"))
    assert main(["train", str(p), "--out", str(tmp_path / "w")]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_an_interrupted_bundle_write_leaves_no_bundle_and_no_temp_file(tmp_path, monkeypatch):
    manifest = {
        "name": "t", "version": "1", "task": "classification", "labels": ["a"],
        "input": {"shape": [1, 8, 8, 3], "color": "rgb", "resize": "bilinear",
                  "mean": [0, 0, 0], "std": [1, 1, 1]},
        "output": {"kind": "probabilities"},
        "variants": {"fp32": {"target": "cpu", "input_dtype": "float32"}},
    }
    calls = {"n": 0}
    real = zipfile.ZipFile.writestr

    def dying_writestr(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the user pressed Ctrl-C mid-write
        return real(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", dying_writestr)
    with pytest.raises(KeyboardInterrupt):
        write_bundle(tmp_path / "t.flb", manifest, {"fp32": b"x" * 100}, np.zeros((1, 8, 8, 3)), np.zeros((1, 1)))
    assert list(tmp_path.iterdir()) == []


def test_errors_with_json_still_print_one_json_document(tmp_path, capsys):
    p = tmp_path / "r.toml"
    p.write_text(RECIPE.format(data=tmp_path).replace("epochs = 1\nbatch", "epoch = 1\nbatch"))
    assert main(["build", str(p), "--out", str(tmp_path / "w"), "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["exit_code"] == 2 and "did you mean 'epochs'?" in doc["error"]
    assert main(["verify", str(tmp_path / "missing.flb"), "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and "no such bundle file" in doc["problems"][0]


@pytest.mark.parametrize("raised, code", [(KeyboardInterrupt, 130), (RuntimeError("boom"), 1)])
def test_ctrl_c_exits_130_with_the_resume_hint_and_a_crash_exits_1(tmp_path, capsys, monkeypatch, raised, code):
    import facelite_build.recipe

    def load_recipe(*args, **kwargs):
        raise raised

    monkeypatch.setattr(facelite_build.recipe, "load_recipe", load_recipe)
    assert main(["train", str(tmp_path / "r.toml"), "--json"]) == code
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["exit_code"] == code and "Traceback" not in captured.err
    if code == 130:
        assert doc["error"] == "interrupted; re-run the same command to resume from the last checkpoint"
