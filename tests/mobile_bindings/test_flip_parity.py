"""Test-time flip (`output.test_time_flip`) in the C core gives the Python runtime's scores.

A classification bundle with the flag is scored on the crop and on its left-right mirror,
the mean of the two score vectors being the answer (docs/bundle.md). Python does it in
`ClassificationTask.run_scores` (the expression stage mirrors the prepared uint8 pixels,
the acne grader its float tensors); the C core in `classification.c`
(`fl_classification_flip_pixels` for the analyzer's expression stage,
`fl_classification_flip_tensor` for each acne view). On 10 real photos (5 ACNE04, 5
HELEN), with the shipped `expression_ferplus` and `acne` bundles re-signed with the flag
as the folder's `expression` and `acne`: the same faces, expression labels and scores,
and skin reports (acne grades included) as `FaceAnalyzer`, within the pipeline parity
test's tolerances, for fp32 and int8; and the flag changes the C answer (it is read).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from facelite import BaseOptions, FaceAnalyzer, FaceAnalyzerOptions
from facelite.paths import bundle_in, shipped_bundles_dir
from facelite_build.package import rewrite_manifest

from pipeline_compare import SCORES_MAX_ABS, Worst, compare_face

FLIPPED = {"expression": "expression_ferplus", "acne": "acne"}
"""The folder's stage bundle → the shipped bundle it is a flagged copy of."""


def bundles_folder(root: Path, flip: bool) -> Path:
    """A bundles folder: the shipped detector, landmarks and skin_metrics, and FLIPPED's
    bundles with `output.test_time_flip` set to `flip`."""
    shipped = shipped_bundles_dir()
    for name in ("face_detector", "landmarks", "skin_metrics"):
        (root / name).symlink_to(shipped / name, target_is_directory=True)
    for stage, source in FLIPPED.items():
        path = bundle_in(shipped, source)
        if path is None:
            pytest.skip(f"no shipped {source} bundle under {shipped}")
        (root / stage).mkdir()
        rewrite_manifest(path, lambda m: m["output"].update(test_time_flip=flip), out=root / stage / f"{stage}.flb")
    return root


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[bool, Path]:
    return {flip: bundles_folder(tmp_path_factory.mktemp(f"flip_{flip}"), flip) for flip in (True, False)}


@pytest.fixture(scope="module")
def photos(parity_photos) -> list[Path]:
    return parity_photos["acne04"][::5] + parity_photos["helen"][::5]


def c_results(c_build, root: Path, files: list[Path], variant: str) -> dict[str, dict]:
    p = subprocess.run([str(c_build.tool("tool_analyze")), str(root), variant, "cpu", "2", *map(str, files)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return {line["path"]: line["result"] for line in map(json.loads, p.stdout.splitlines())}


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_c_flip_scores_equal_python_on_real_photos(c_build, folders, photos, variant):
    options = FaceAnalyzerOptions(base_options=BaseOptions(accelerator="cpu", variant=variant, num_threads=2),
                                  bundles_dir=folders[True], skin=True)
    with FaceAnalyzer.create_from_options(options) as analyzer:
        py = {str(p): analyzer.analyze(p) for p in photos}
    c = c_results(c_build, folders[True], photos, variant)
    worst, faces = Worst(), 0
    for path, result in py.items():
        assert len(c[path]["faces"]) == len(result.faces), f"{path}: face counts differ"
        for i, (py_face, c_face) in enumerate(zip(result.faces, c[path]["faces"])):
            compare_face(py_face, c_face, f"{path} face {i}", worst)
            faces += 1
    assert faces >= len(photos) - 1 and worst.skin_faces > 0
    print(f"\n{variant}: {faces} faces, {worst.skin_faces} skin reports; worst score diff {worst.scores:.2e}, "
          f"skin scores {worst.skin_scores:.2e}")


def test_the_flag_changes_the_c_answer(c_build, folders, photos):
    flip, plain = (c_results(c_build, folders[f], photos, "fp32") for f in (True, False))
    expression = acne = 0.0
    for path in flip:
        for a, b in zip(flip[path]["faces"], plain[path]["faces"]):
            expression = max(expression, *(abs(a["expression"]["scores"][k] - v)
                                           for k, v in b["expression"]["scores"].items()))
            if a["skin"] and b["skin"]:  # the face's acne concern: its raw value is the expected grade
                acne = max(acne, abs(a["skin"]["face"]["acne"]["raw"] - b["skin"]["face"]["acne"]["raw"]))
    assert expression > SCORES_MAX_ABS, "the expression scores do not move with test_time_flip"
    assert acne > 0, "the acne grade does not move with test_time_flip"
