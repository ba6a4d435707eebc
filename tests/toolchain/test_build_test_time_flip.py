"""`head.test_time_flip` in a recipe: the package stage writes `output.test_time_flip` and
scores its recorded val metrics the way the runtime reads the bundle (crop + mirror)."""

import json

import pytest

from facelite.bundle import Bundle
from facelite.evaluate import evaluate
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
[quantization]
variants = ["fp32", "int8"]
calibration_samples = 32
"""


@pytest.mark.slow
def test_package_stage_writes_the_flag_and_scores_val_with_the_mirror(image_folder, tmp_path, capsys):
    recipe, work = tmp_path / "recipe.toml", tmp_path / "work"
    recipe.write_text(RECIPE.format(data=image_folder))
    assert main(["build", str(recipe), "--out", str(work), "--quiet", "--json"]) == 0
    with Bundle.open(work / "tiny.flb") as plain:
        assert "test_time_flip" not in plain.manifest["output"]
    capsys.readouterr()
    assert main(["package", str(recipe), "--out", str(work), "--quiet", "--json",
                 "--set", "head.test_time_flip=true"]) == 0
    recorded = json.loads(capsys.readouterr().out)["package"]["metrics"]
    with Bundle.open(work / "tiny.flb") as flipped:
        assert flipped.manifest["output"]["test_time_flip"] is True
    measured = evaluate(work / "tiny.flb", image_folder / "val", variant="all", num_threads=1)["variants"]
    for variant in ("fp32", "int8"):  # the toolchain's and the runtime's decoders may differ by a pixel level
        assert abs(recorded[variant]["accuracy"] - measured[variant]["accuracy"]) <= 1 / measured[variant]["n"] + 1e-4
