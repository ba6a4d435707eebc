"""The C core's NMS drops contained boxes as `facelite.detection.nms` does (`output.containment_threshold`).

`fl_nms` (mobile_bindings/c/src/detection.c) repeats the Python rule: a box goes when its
IoU with a better kept box is above `output.iou_threshold` or, when the manifest gives
`output.containment_threshold`, when at least that share of the smaller of the two lies
inside the other. Driven through the session's build (`c_build`) with `tool_analyze`, on
the shipped bundles (skin off), against `FaceAnalyzer` on the same files:

- the shipped detector (containment 0.5) on the two ACNE04 photos whose ear box 1.1.0
  kept, the HELEN photos whose extra box is an unannotated person, and the parity photos;
- the same detector rewritten to score threshold 0.03 and containment 0.1, or without the
  field, so that many weak peaks compete and the rule decides photo after photo.

Both sides must give the same boxes (scores within `SCORES_MAX_ABS`, IoU ≥ 0.99).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from facelite import BaseOptions, FaceAnalyzer, FaceAnalyzerOptions
from facelite.detection import Box
from facelite.metrics import iou
from facelite.paths import shipped_bundles_dir
from pipeline_compare import SCORES_MAX_ABS, bundles_with_edited_detector

ACNE_TWO_BOXES = ("level1/level1_637.jpg", "level2/level2_46.jpg")
HELEN_OTHER_PEOPLE = ("105300174_1.jpg", "1271089376_2.jpg", "2098713580_1.jpg", "2204495618_2.jpg")


@pytest.fixture(scope="module")
def photos(parity_photos, shared_data) -> list[Path]:
    chosen = [shared_data / "acne04" / n for n in ACNE_TWO_BOXES]
    chosen += [shared_data / "landmarks300w" / "helen_train" / n for n in HELEN_OTHER_PEOPLE]
    if not all(p.is_file() for p in chosen):
        pytest.skip("ACNE04 / HELEN photos not found")
    return chosen + parity_photos["acne04"][:8] + parity_photos["helen"][:8]


def _c_boxes(c_build, bundles: Path, variant: str, files: list[Path]) -> dict[str, list[dict]]:
    p = subprocess.run([str(c_build.tool("tool_analyze")), str(bundles), variant, "cpu", "2", "--no-skin",
                        *map(str, files)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return {line["path"]: [f["box"] for f in line["result"]["faces"]] for line in map(json.loads, p.stdout.splitlines())}


def _python_boxes(bundles: Path, variant: str, files: list[Path]) -> dict[str, list[Box]]:
    options = FaceAnalyzerOptions(base_options=BaseOptions(accelerator="cpu", variant=variant, num_threads=2),
                                  bundles_dir=bundles, skin=False)
    with FaceAnalyzer.create_from_options(options) as analyzer:
        return {str(f): [face.box for face in analyzer.analyze(f).faces] for f in files}


def _assert_same(c: dict, py: dict) -> None:
    for path, boxes in py.items():
        assert len(c[path]) == len(boxes), f"{path}: {len(c[path])} faces in C, {len(boxes)} in Python"
        for cb, pb in zip(c[path], boxes):
            assert cb["score"] == pytest.approx(pb.score, abs=SCORES_MAX_ABS), path
            assert iou(Box(cb["x"], cb["y"], cb["w"], cb["h"]), pb) >= 0.99, path


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_c_drops_the_contained_boxes_python_drops_with_the_shipped_detector(c_build, photos, variant):
    c = _c_boxes(c_build, shipped_bundles_dir(), variant, photos)
    py = _python_boxes(shipped_bundles_dir(), variant, photos)
    _assert_same(c, py)
    for name in ACNE_TWO_BOXES:
        assert len(py[str(next(p for p in photos if str(p).endswith(name)))]) == 1, name


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_c_and_python_agree_when_containment_decides_many_weak_peaks(c_build, photos, tmp_path, variant):
    def aggressive(m):
        m["output"].update(containment_threshold=0.1, score_threshold_by_variant={variant: 0.03})

    def iou_only(m):
        m["output"].pop("containment_threshold")
        m["output"].update(score_threshold_by_variant={variant: 0.03})

    counts = {}
    for name, edit in (("containment 0.1", aggressive), ("IoU only", iou_only)):
        bundles = bundles_with_edited_detector(tmp_path / name.replace(" ", "_"), edit)
        py = _python_boxes(bundles, variant, photos)
        _assert_same(_c_boxes(c_build, bundles, variant, photos), py)
        counts[name] = [len(py[str(p)]) for p in photos]
    changed = sum(a != b for a, b in zip(counts["containment 0.1"], counts["IoU only"]))
    assert changed >= 3, f"containment decided only {changed} photos: the comparison proves little ({counts})"
