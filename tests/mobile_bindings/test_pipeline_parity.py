"""The C face pipeline (`fl_analyze`) gives `facelite.FaceAnalyzer`'s answers on real photos.

`mobile_bindings/c/src/analyzer.c` and its stages (detection, landmarks, alignment,
regions, classification, skin) repeat the Python pipeline's arithmetic. A phone runs
that code, so on the same file and the same bundles it must find the same faces. The
session's CMake build (`c_build`) provides `tool_analyze`, which runs one analyzer over
many files and prints each result unrounded (`fl_result_json(FL_JSON_EXACT)`).

On 50 photos (25 ACNE04, 25 HELEN: every k-th of the sorted files) with the shipped
bundles, CPU, 2 threads on both sides, for the fp32 variant (the issue's check) and the
fp16, dynamic and int8 ones: the same number of faces, boxes IoU >= 0.99, landmarks
within 0.5 px, region polygons within 0.5 px, the same expression and acne labels, every
score within 1e-3, skin redness (docs/skin.md, overall and per region) within 1e-6. The
worst figures are printed (`pytest -s`); on the reference machine every one is 0 (the two
pipelines agree bit for bit).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from facelite import BaseOptions, FaceAnalyzer, FaceAnalyzerOptions
from facelite.metrics import iou
from facelite.paths import shipped_bundles_dir

BOX_IOU_MIN = 0.99
LANDMARKS_MAX_PX = 0.5
SCORES_MAX_ABS = 1e-3
REDNESS_MAX_ABS = 1e-6
"""a* units; the same machine gives the same bits, other libms may differ in `pow`'s last bit."""


def run_c_pipeline(c_build, files: list[Path], *extra: str, variant: str = "fp32") -> dict[str, dict]:
    """{path: result document (or {"error", "status"})} of tool_analyze over `files`."""
    cmd = [str(c_build.tool("tool_analyze")), str(shipped_bundles_dir()), variant, "cpu", "2", *extra,
           *map(str, files)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    assert [line["path"] for line in lines] == [str(f) for f in files]
    return {line["path"]: line.get("result", line) for line in lines}


@pytest.fixture(scope="module")
def photos(parity_photos) -> list[Path]:
    """The 25 ACNE04 then the 25 HELEN photos of `parity_photos` (conftest.py)."""
    return parity_photos["acne04"] + parity_photos["helen"]


def python_results(photos: list[Path], variant: str) -> dict:
    options = FaceAnalyzerOptions(base_options=BaseOptions(accelerator="cpu", variant=variant, num_threads=2),
                                  bundles_dir=shipped_bundles_dir())
    with FaceAnalyzer.create_from_options(options) as analyzer:
        return {str(p): analyzer.analyze(p) for p in photos}


class Worst:
    """The largest differences seen, for the report."""

    def __init__(self):
        self.iou, self.landmarks, self.regions, self.scores, self.faces = 1.0, 0.0, 0.0, 0.0, 0
        self.redness = 0.0

    def measure(self, py: float, c: float | None, what: str, where: str) -> None:
        """A redness value: both NaN (C writes null), or within REDNESS_MAX_ABS."""
        if np.isnan(py) or c is None:
            assert np.isnan(py) and c is None, f"{where}: {what} is {c} in C, {py} in Python"
            return
        self.redness = max(self.redness, abs(c - py))
        assert abs(c - py) <= REDNESS_MAX_ABS, f"{where}: {what} {c!r} in C, {py!r} in Python"

    def classification(self, py, c: dict | None, what: str, where: str) -> None:
        assert (py is None) == (c is None), f"{where}: {what} ran on one side only"
        if py is None:
            return
        assert c["top"][0] == py.top[0], f"{where}: {what} {c['top'][0]} in C, {py.top[0]} in Python"
        assert list(c["scores"]) == list(py.scores), f"{where}: {what} labels differ"
        diff = max(abs(c["scores"][k] - v) for k, v in py.scores.items())
        self.scores = max(self.scores, diff, abs(c["top"][1] - py.top[1]))
        assert diff <= SCORES_MAX_ABS, f"{where}: {what} scores differ by {diff:.3g}"


def compare_face(py_face, c_face: dict, where: str, worst: Worst) -> None:
    b = c_face["box"]
    box = type(py_face.box)(b["x"], b["y"], b["w"], b["h"], b["score"])
    overlap = iou(py_face.box, box)
    worst.iou = min(worst.iou, overlap)
    worst.scores = max(worst.scores, abs(box.score - py_face.box.score))
    assert overlap >= BOX_IOU_MIN, f"{where}: box {box} in C, {py_face.box} in Python (IoU {overlap:.4f})"
    assert abs(box.score - py_face.box.score) <= SCORES_MAX_ABS, f"{where}: box scores differ"

    landmarks = np.abs(np.array(c_face["landmarks"], np.float64) - py_face.landmarks).max()
    worst.landmarks = max(worst.landmarks, landmarks)
    assert landmarks <= LANDMARKS_MAX_PX, f"{where}: landmarks differ by up to {landmarks:.3f} px"
    assert c_face["landmarks_source"] == py_face.landmarks_source

    assert list(c_face["regions"]) == list(py_face.regions), f"{where}: region names or order differ"
    for name, poly in py_face.regions.items():
        c_poly = np.array(c_face["regions"][name], np.float64)
        assert c_poly.shape == poly.shape, f"{where}: {name} has {len(c_poly)} points in C, {len(poly)} in Python"
        regions = np.abs(c_poly - poly).max()
        worst.regions = max(worst.regions, regions)
        assert regions <= LANDMARKS_MAX_PX, f"{where}: region {name} differs by up to {regions:.3f} px"

    worst.classification(py_face.expression, c_face["expression"], "expression", where)
    c_skin, py_skin = c_face["skin"], py_face.skin
    worst.classification(py_skin.acne, c_skin["acne"], "acne", where)
    worst.measure(py_skin.scores["redness"], c_skin["scores"]["redness"], "redness", where)
    assert list(c_skin["region_redness"]) == list(py_skin.region_redness), f"{where}: region_redness names"
    for name, value in py_skin.region_redness.items():
        worst.measure(value, c_skin["region_redness"][name], f"{name} redness", where)
    if py_skin.acne is not None:
        severity = abs(c_skin["scores"]["acne_severity"] - py_skin.scores["acne_severity"])
        worst.scores = max(worst.scores, severity)
        assert severity <= SCORES_MAX_ABS, f"{where}: acne_severity differs by {severity:.3g}"


@pytest.mark.parametrize("variant", ["fp32", "fp16", "dynamic", "int8"])
def test_c_pipeline_finds_the_python_faces_on_50_real_photos(c_build, photos, variant):
    c_results = run_c_pipeline(c_build, photos, variant=variant)
    worst = Worst()
    for path, py in python_results(photos, variant).items():
        c = c_results[path]
        assert "error" not in c, f"{path}: {c.get('error')}"
        assert c["image_size"] == list(py.image_size)
        assert c["detector"] == py.detector and c["stages"] == py.stages
        assert len(c["faces"]) == len(py.faces), f"{path}: {len(c['faces'])} faces in C, {len(py.faces)} in Python"
        for i, (py_face, c_face) in enumerate(zip(py.faces, c["faces"])):
            compare_face(py_face, c_face, f"{Path(path).name} face {i}", worst)
        worst.faces += len(py.faces)
    assert worst.faces >= 45, f"only {worst.faces} faces found on 50 face photos: the comparison proves little"
    print(f"\nC vs Python pipeline ({variant}) on {len(photos)} photos, {worst.faces} faces: min box IoU {worst.iou:.6f}, "
          f"max landmark diff {worst.landmarks:.3g} px, max region diff {worst.regions:.3g} px, "
          f"max score diff {worst.scores:.3g}, max redness diff {worst.redness:.3g}")


def test_rgba_pixels_with_a_padded_stride_give_the_same_result(c_build, parity_photos):
    """What an Android Bitmap hands over (RGBA, rows padded) is analysed as the decoded BGR file."""
    chosen = parity_photos["acne04"][:3] + parity_photos["helen"][:3]
    from_files = run_c_pipeline(c_build, chosen)
    from_rgba = run_c_pipeline(c_build, chosen, "--rgba")
    for path in map(str, chosen):
        a, b = from_files[path], from_rgba[path]
        assert a["faces"] and a["faces"] == b["faces"], path


def test_a_missing_bundles_folder_is_a_user_error_naming_it(c_build, tmp_path):
    p = subprocess.run([str(c_build.tool("tool_analyze")), str(tmp_path / "nowhere"), "fp32", "cpu", "2"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert f"{tmp_path / 'nowhere'}: no such bundles folder" in p.stderr


def _without_timings(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "timings_ms"}


def test_runner_analyze_prints_the_python_cli_document_for_a_folder(c_build, photos, tmp_path):
    """`facelite-run DIR --analyze --input FOLDER --json` = `facelite analyze FOLDER --json`: the same
    rounded numbers, keys and order of images (engines and timings aside, which differ by nature)."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for i, p in enumerate(photos):  # names that sort differently as strings and as paths
        (folder / ("sub" if i % 2 else "") / f"{i:02d}_{p.name}").symlink_to(p)
    (folder / "notes.txt").write_text("not an image")
    (folder / ".hidden.jpg").write_bytes(b"")
    p = subprocess.run([str(c_build.runner), str(shipped_bundles_dir()), "--analyze", "--input", str(folder),
                        "--variant", "fp32", "--threads", "2", "--json"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    doc = json.loads(p.stdout)
    options = FaceAnalyzerOptions(base_options=BaseOptions(accelerator="cpu", variant="fp32", num_threads=2),
                                  bundles_dir=shipped_bundles_dir())
    with FaceAnalyzer.create_from_options(options) as analyzer:
        expected = [{"image": str(path), **result.to_json()} for path, result in analyzer.analyze_folder(folder)]
        engines = {stage: info.to_json() for stage, info in analyzer.info.items()}
    assert (doc["dir"], doc["n_images"], doc["n_failed"]) == (str(folder), 50, 0)
    assert doc["stages"] == analyzer.stages
    assert [e["image"] for e in doc["images"]] == [e["image"] for e in expected]
    for got, want in zip(doc["images"], expected):
        assert _without_timings(got) == _without_timings(want), got["image"]
        assert list(got["timings_ms"]) == list(want["timings_ms"])
    assert {k: set(v) for k, v in doc["engines"].items()} == {k: set(v) for k, v in engines.items()}
    assert {v["variant"] for v in doc["engines"].values()} == {"fp32"}
    assert doc["pipeline"]["first_ms"] > 0 and doc["pipeline"]["cold_start_ms"] >= doc["pipeline"]["first_ms"]


def test_runner_analyze_times_the_pipeline_and_reports_errors(c_build, photos, tmp_path):
    p = subprocess.run([str(c_build.runner), str(shipped_bundles_dir()), "--analyze", "--input", str(photos[0]),
                        "--runs", "3", "--warmup", "1", "--json"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    doc = json.loads(p.stdout)
    assert doc["image"] == str(photos[0]) and doc["faces"]
    assert doc["pipeline"]["runs"] == 3 and doc["pipeline"]["avg_ms"] > 0 and doc["pipeline"]["peak_rss_mb"] > 0
    p = subprocess.run([str(c_build.runner), str(shipped_bundles_dir()), "--analyze", "--input", str(photos[1]),
                        "--input", str(photos[0]), "--input", str(photos[1]), "--json"],
                       capture_output=True, text=True, timeout=300)
    several = json.loads(p.stdout)
    assert p.returncode == 0 and several["inputs"] == [str(photos[1]), str(photos[0]), str(photos[1])]
    assert [e["image"] for e in several["images"]] == several["inputs"] and several["n_images"] == 3
    assert several["images"][1]["faces"] == doc["faces"]
    p = subprocess.run([str(c_build.runner), str(shipped_bundles_dir()), "--analyze", "--input", str(photos[0])],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and p.stdout.startswith(f"{photos[0]}: {len(doc['faces'])} face(s) [bundle:face_detector]")
    assert "expression " in p.stdout and "redness n/a" not in p.stdout and "  redness " in p.stdout
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    for args, message in (([str(bad)], "bad.jpg"), ([str(tmp_path / "none.jpg")], "no such file or folder")):
        p = subprocess.run([str(c_build.runner), str(shipped_bundles_dir()), "--analyze", "--input", *args, "--json"],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 2 and message in json.loads(p.stdout)["error"], p.stdout
    p = subprocess.run([str(c_build.runner), str(tmp_path), "--analyze", "--input", str(photos[0]), "--json"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "no face_detector or landmarks bundle" in json.loads(p.stdout)["error"]
