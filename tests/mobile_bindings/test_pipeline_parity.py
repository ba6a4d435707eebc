"""The C face pipeline (`fl_analyze`) gives `facelite.FaceAnalyzer`'s answers on real photos.

`mobile_bindings/c/src/analyzer.c` and its stages (detection, landmarks, alignment,
regions, classification, skin) repeat the Python pipeline's arithmetic. A phone runs
that code, so on the same file and the same bundles it must find the same faces and give
each the same skin report. The session's CMake build (`c_build`) provides `tool_analyze`,
which runs one analyzer over many files and prints each result unrounded
(`fl_result_json(FL_JSON_EXACT)`).

On 50 photos (25 ACNE04, 25 HELEN: every k-th of the sorted files) with the shipped
bundles, CPU, 2 threads on both sides, for the fp32 variant (the issue's check) and the
fp16, dynamic and int8 ones: the same number of faces, boxes IoU >= 0.99, landmarks
within 0.5 px, region polygons within 0.5 px, the same expression labels, every score
within 1e-3. Each face's skin report (`SkinReport`: skin_metrics measures, quality gate,
acne on the face crop and its patches, scores; issue #11) is compared for every variant:
skin_metrics (image arithmetic, shipped in fp32 only) runs its own choice on both sides
when it lacks the requested variant (`SkinAnalyzer._base(..., own_variant_if_missing=True)`,
analyzer.c's `stage_variant`), while the other bundles run the variant: the same reliability, quality
checks (codes, verdicts, values within 1e-9 relative), tone category (ITA° within 1e-4),
regions and concerns measured, bands, models, scores within 1e-4 and raw measures and
lighting within 1e-4 relative. The worst figures are printed (`pytest -s`); on the
reference machine every one is 0 (the two pipelines agree bit for bit).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from facelite import BaseOptions, FaceAnalyzer, FaceAnalyzerOptions
from facelite.acne import grade_index
from facelite.bundle import Bundle
from facelite.paths import bundle_in, shipped_bundles_dir

from fixture_bundles import with_unchecked_manifest
from pipeline_compare import SCORES_MAX_ABS, Worst, bundles_with_edited, bundles_with_edited_detector, compare_face


def skin_runs(variant: str) -> bool:
    """Whether FaceAnalyzer can run skin with `variant`: there is a skin_metrics bundle
    (which runs its own choice when it lacks the variant) and the acne bundle for face
    crops, if shipped, has the variant (a v1 acne bundle is not loaded)."""
    if bundle_in(shipped_bundles_dir(), "skin_metrics") is None:
        return False
    path = bundle_in(shipped_bundles_dir(), "acne")
    if path is None:
        return True
    with Bundle.open(path) as bundle:
        return bundle.input_spec.crop != "face" or variant in bundle.manifest["variants"]


def run_c_pipeline(c_build, files: list[Path], *extra: str, variant: str = "fp32") -> dict[str, dict]:
    """{path: result document (or {"error", "status"})} of tool_analyze over `files` (skin
    off for a variant the skin bundles lack, as `python_results` does)."""
    skin = () if skin_runs(variant) else ("--no-skin",)
    cmd = [str(c_build.tool("tool_analyze")), str(shipped_bundles_dir()), variant, "cpu", "2", *extra, *skin,
           *map(str, files)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    assert [line["path"] for line in lines] == [str(f) for f in files]
    return {line["path"]: line.get("result", line) for line in lines}


def runner_analyze(c_build, *args: str | Path, bundles: Path | None = None,
                   timeout: float = 300) -> subprocess.CompletedProcess:
    """`facelite-run BUNDLES --analyze ARGS...` (the shipped bundles by default)."""
    return subprocess.run([str(c_build.runner), str(bundles or shipped_bundles_dir()), "--analyze", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def photos(parity_photos) -> list[Path]:
    """The 25 ACNE04 then the 25 HELEN photos of `parity_photos` (conftest.py)."""
    return parity_photos["acne04"] + parity_photos["helen"]


def python_results(photos: list[Path], variant: str) -> dict:
    options = FaceAnalyzerOptions(base_options=BaseOptions(accelerator="cpu", variant=variant, num_threads=2),
                                  bundles_dir=shipped_bundles_dir(), skin=skin_runs(variant))
    with FaceAnalyzer.create_from_options(options) as analyzer:
        return {str(p): analyzer.analyze(p) for p in photos}


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
    assert skin_runs(variant), f"skin does not run with the {variant} variant: the skin comparison is lost"
    assert worst.skin_faces == worst.faces
    print(f"\nC vs Python pipeline ({variant}) on {len(photos)} photos, {worst.faces} faces: min box IoU {worst.iou:.6f}, "
          f"max landmark diff {worst.landmarks:.3g} px, max region diff {worst.regions:.3g} px, "
          f"max score diff {worst.scores:.3g}; skin reports {worst.skin_faces}: max skin score diff "
          f"{worst.skin_scores:.3g}, max raw/lighting/ITA relative diff {worst.skin_raw:.3g}")


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_c_and_python_run_the_detector_at_the_operating_point_of_its_variant(c_build, photos, tmp_path, variant):
    """A detector whose manifest gives fp32 and int8 far-apart operating points
    (`output.score_threshold_by_variant`; `analyzer.c` through `fl_detection_decoder_init`):
    C takes the variant's threshold as Python does — the same faces on every photo, none
    with int8, whose 0.999 no face clears, at least one a photo with fp32's 0.2."""
    bundles = bundles_with_edited_detector(
        tmp_path, lambda m: m["output"].update(score_threshold_by_variant={"fp32": 0.2, "int8": 0.999}))
    files = photos[:6] + photos[-6:]
    p = subprocess.run([str(c_build.tool("tool_analyze")), str(bundles), variant, "cpu", "2", "--no-skin",
                        *map(str, files)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    c = {line["path"]: line["result"] for line in map(json.loads, p.stdout.splitlines())}
    options = FaceAnalyzerOptions(base_options=BaseOptions(accelerator="cpu", variant=variant, num_threads=2),
                                  bundles_dir=bundles, skin=False)
    with FaceAnalyzer.create_from_options(options) as analyzer:
        py = {str(f): analyzer.analyze(f) for f in files}
    for path, result in py.items():
        c_scores = [f["box"]["score"] for f in c[path]["faces"]]
        assert c_scores == pytest.approx([f.box.score for f in result.faces], abs=SCORES_MAX_ABS), path
    counts = [len(r.faces) for r in py.values()]
    assert (max(counts) == 0) if variant == "int8" else (min(counts) >= 1)


@pytest.mark.parametrize("variant, decision", [("fp32", "argmax"), ("fp32", "median"), ("int8", "median")])
def test_c_grades_acne_by_the_bundle_s_decision_as_python_does(c_build, parity_photos, tmp_path, variant, decision):
    """The shipped acne bundle re-signed with `output.grade_decision` = `decision`: C's acne
    label (`fl_result_acne`, analyzer.c from `fl_acne_combine`'s `top`) is Python's
    `AcneGrade.grade` on every face of the 25 ACNE04 photos; with the median, at least
    one face's grade is not its arg-max (the field is read, not just carried)."""
    if not skin_runs(variant) or bundle_in(shipped_bundles_dir(), "acne") is None:
        pytest.skip(f"no acne grading with the {variant} variant")
    bundles = bundles_with_edited(tmp_path, "acne", lambda m: m["output"].update(grade_decision=decision))
    files = parity_photos["acne04"]
    p = subprocess.run([str(c_build.tool("tool_analyze")), str(bundles), variant, "cpu", "2", *map(str, files)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    c = {line["path"]: line["acne"] for line in map(json.loads, p.stdout.splitlines())}
    options = FaceAnalyzerOptions(base_options=BaseOptions(accelerator="cpu", variant=variant, num_threads=2),
                                  bundles_dir=bundles, skin=True)
    with FaceAnalyzer.create_from_options(options) as analyzer:
        py = {str(f): [face.skin.acne for face in analyzer.analyze(f).faces] for f in files}
    moved = 0
    for path, grades in py.items():
        assert c[path] == [g.grade for g in grades], f"{path}: acne {c[path]} in C, {[g.grade for g in grades]} in Python"
        moved += sum(g.grade != list(g.probabilities)[grade_index(list(g.probabilities.values()))] for g in grades)
    assert sum(map(len, py.values())) >= len(files) - 2
    assert (moved > 0) if decision == "median" else (moved == 0)


def test_an_unknown_grade_decision_is_refused_naming_the_bundle_the_field_and_its_values(c_build, tmp_path):
    """C refuses the bundle as Python's schema check does (`AcneGrader`: test_acne.py)."""
    bundles = bundles_with_edited(tmp_path, "acne", lambda m: None)
    bad = bundles / "acne" / "acne.flb"
    with_unchecked_manifest(bad, bad, lambda m: m["output"].update(grade_decision="mode"))
    p = subprocess.run([str(c_build.tool("tool_analyze")), str(bundles), "fp32", "cpu", "1"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert f'{bad}:manifest.json: output.grade_decision: "mode" is not one of argmax, median' in p.stderr


def test_a_quantised_pipeline_measures_skin_with_the_skin_metrics_bundle_s_own_variant(c_build, photos):
    """`--variant int8`: every bundle that has int8 runs it, skin_metrics (fp32 only) runs its
    own choice, on both sides (facelite-run's engines = `FaceAnalyzer.info`)."""
    p = runner_analyze(c_build, "--input", photos[0], "--skin", "--variant", "int8", "--threads", "2", "--json")
    assert p.returncode == 0, p.stderr[-3000:]
    doc = json.loads(p.stdout)
    options = FaceAnalyzerOptions(base_options=BaseOptions(accelerator="cpu", variant="int8", num_threads=2),
                                  bundles_dir=shipped_bundles_dir())
    with FaceAnalyzer.create_from_options(options) as analyzer:
        want = {stage: info.to_json()["variant"] for stage, info in analyzer.info.items()}
    assert {stage: engine["variant"] for stage, engine in doc["engines"].items()} == want
    assert want["skin_metrics"] == "fp32" and want["landmarks"] == "int8"
    assert doc["faces"] and all(face["skin"] is not None for face in doc["faces"])


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
    """`facelite-run DIR --analyze --input FOLDER --skin --json` = `facelite analyze FOLDER --skin --json`:
    the same rounded numbers (skin reports included), keys and order of images (engines and
    timings aside, which differ by nature)."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for i, p in enumerate(photos):  # names that sort differently as strings and as paths
        (folder / ("sub" if i % 2 else "") / f"{i:02d}_{p.name}").symlink_to(p)
    (folder / "notes.txt").write_text("not an image")
    (folder / ".hidden.jpg").write_bytes(b"")
    p = runner_analyze(c_build, "--input", folder, "--skin", "--variant", "fp32", "--threads", "2", "--json",
                       timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    doc = json.loads(p.stdout)
    options = FaceAnalyzerOptions(base_options=BaseOptions(accelerator="cpu", variant="fp32", num_threads=2),
                                  bundles_dir=shipped_bundles_dir())
    with FaceAnalyzer.create_from_options(options) as analyzer:
        expected = [{"image": str(path), **result.to_json()} for path, result in analyzer.analyze_folder(folder)]
        engines = {stage: info.to_json() for stage, info in analyzer.info.items()}
    assert (doc["dir"], doc["n_images"], doc["n_failed"]) == (str(folder), 50, 0)
    assert list(doc["stages"].items()) == list(analyzer.stages.items())
    assert [e["image"] for e in doc["images"]] == [e["image"] for e in expected]
    for got, want in zip(doc["images"], expected):
        assert _without_timings(got) == _without_timings(want), got["image"]
        assert list(got["timings_ms"]) == list(want["timings_ms"])
    assert {k: set(v) for k, v in doc["engines"].items()} == {k: set(v) for k, v in engines.items()}
    assert {v["variant"] for v in doc["engines"].values()} == {"fp32"}
    assert doc["pipeline"]["first_ms"] > 0 and doc["pipeline"]["cold_start_ms"] >= doc["pipeline"]["first_ms"]


def test_runner_analyze_times_the_pipeline_and_reports_errors(c_build, photos, tmp_path):
    p = runner_analyze(c_build, "--input", photos[0], "--runs", "3", "--warmup", "1", "--json")
    assert p.returncode == 0, p.stderr[-3000:]
    doc = json.loads(p.stdout)
    assert doc["image"] == str(photos[0]) and doc["faces"]
    assert doc["pipeline"]["runs"] == 3 and doc["pipeline"]["avg_ms"] > 0 and doc["pipeline"]["peak_rss_mb"] > 0
    p = runner_analyze(c_build, "--input", photos[1], "--input", photos[0], "--input", photos[1], "--json")
    several = json.loads(p.stdout)
    assert p.returncode == 0 and several["inputs"] == [str(photos[1]), str(photos[0]), str(photos[1])]
    assert [e["image"] for e in several["images"]] == several["inputs"] and several["n_images"] == 3
    assert several["images"][1]["faces"] == doc["faces"]
    assert doc["stages"]["skin_metrics"] == "off" and all(face["skin"] is None for face in doc["faces"])
    p = runner_analyze(c_build, "--input", photos[0], "--skin")
    assert p.returncode == 0 and p.stdout.startswith(f"{photos[0]}: {len(doc['faces'])} face(s) [bundle:face_detector]")
    assert "expression " in p.stdout and "    skin: " in p.stdout and "  redness " in p.stdout
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    for args, message in (([str(bad)], "bad.jpg"), ([str(tmp_path / "none.jpg")], "no such file or folder")):
        p = runner_analyze(c_build, "--input", *args, "--json")
        assert p.returncode == 2 and message in json.loads(p.stdout)["error"], p.stdout
    p = runner_analyze(c_build, "--input", photos[0], "--json", bundles=tmp_path)
    assert p.returncode == 2 and "no face_detector or landmarks bundle" in json.loads(p.stdout)["error"]


@pytest.fixture(scope="module")
def two_faces(parity_photos, tmp_path_factory) -> Path:
    """Two ACNE04 close-ups side by side (the second scaled to the first's height): two faces
    of different detector scores in one photo."""
    import cv2

    a, b = (cv2.imread(str(p)) for p in parity_photos["acne04"][:2])
    b = cv2.resize(b, (round(b.shape[1] * a.shape[0] / b.shape[0]), a.shape[0]), interpolation=cv2.INTER_AREA)
    path = tmp_path_factory.mktemp("two_faces") / "two_faces.png"
    cv2.imwrite(str(path), np.hstack([a, b]))
    return path


def _facelite_analyze(capsys, *args) -> tuple[int, dict]:
    """`facelite analyze ARGS... --json` with the shipped bundles: (exit code, document)."""
    from facelite import cli

    code = cli.main([str(a) for a in ("analyze", *args, "--bundles", shipped_bundles_dir(), "--json")])
    return code, json.loads(capsys.readouterr().out)


def _analysis(doc: dict) -> dict:
    """An analyze document less what differs by nature (timings, engines, the runner's pipeline)."""
    return {k: v for k, v in doc.items() if k not in ("timings_ms", "engines", "pipeline")}


def test_runner_analyze_keeps_the_faces_facelite_analyze_keeps(c_build, two_faces, capsys):
    """`facelite-run --analyze --max-faces N --min-score S` prints `facelite analyze --max-faces N
    --min-score S --json`'s document: at most N faces, highest score first, none under S (a
    threshold between the two faces' scores keeps one); unset, the bundle's threshold and 10
    faces on both sides. VIDEO mode keeps N faces per frame, so tracks N."""
    common = ("--variant", "fp32", "--threads", "2", "--accelerator", "cpu")
    _, plain = _facelite_analyze(capsys, two_faces, *common)
    scores = sorted(face["box"]["score"] for face in plain["faces"])
    assert len(scores) == 2 and scores[1] - scores[0] > 0.02, scores
    between = f"{(scores[0] + scores[1]) / 2:.4f}"
    for flags, n in (((), 2), (("--max-faces", "1", "--min-score", "0.3"), 1), (("--min-score", between), 1),
                     (("--max-faces", "2", "--min-score", "0"), 2)):
        p = runner_analyze(c_build, "--input", two_faces, *flags, *common, "--json")
        assert p.returncode == 0, p.stderr[-3000:]
        code, want = _facelite_analyze(capsys, two_faces, *flags, *common)
        assert code == 0 and len(want["faces"]) == n, (flags, len(want["faces"]))
        assert _analysis(json.loads(p.stdout)) == _analysis(want), flags
    for flags, n in (((), 2), (("--max-faces", "1"), 1)):
        p = runner_analyze(c_build, *common, *flags, "--video", two_faces, two_faces, two_faces)
        assert p.returncode == 0, p.stderr[-3000:]
        *frames, summary = map(json.loads, p.stdout.splitlines())
        assert [len(frame["faces"]) for frame in frames] == [n] * 3 and summary["tracks_started"] == n, flags


@pytest.mark.parametrize("flags, message", [
    (("--max-faces", "0"), "--max-faces 0: give a whole number, 1 or more"),
    (("--max-faces", "two"), "--max-faces two: give a whole number, 1 or more"),
    (("--max-faces", "5000"), "max_faces 5000: must be 1 to 1024"),   # the C core's own bound
    (("--min-score", "1.5"), "--min-score 1.5: give a detector score from 0 to 1"),
    (("--min-score", "-0.1"), "--min-score -0.1: give a detector score from 0 to 1"),
    (("--min-score", "nan"), "--min-score nan: give a detector score from 0 to 1"),
    (("--min-score", "0.5x"), "--min-score 0.5x: give a detector score from 0 to 1"),
])
def test_runner_refuses_a_bad_max_faces_or_min_score_with_exit_2(c_build, photos, flags, message):
    p = runner_analyze(c_build, "--input", photos[0], *flags, "--json")
    assert p.returncode == 2 and message in json.loads(p.stdout)["error"], p.stdout


def test_runner_takes_max_faces_and_min_score_with_analyze_only(c_build):
    bundle = bundle_in(shipped_bundles_dir(), "landmarks")
    for flags in (("--max-faces", "1"), ("--min-score", "0.5")):
        p = subprocess.run([str(c_build.runner), str(bundle), *flags, "--json"], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 2 and "--max-faces and --min-score are for --analyze" in json.loads(p.stdout)["error"]


RESTORE_FACE_SCALE_PX = 55.0
"""Face scale of the shrunk copies: under `quality.LOW_RESOLUTION_FACE_PX` (64 px,
`low_resolution`, which restoration tolerates) and over half the crop's 71.68 px
(`face_too_small`, which blocks)."""

RESTORE_NOISE_SIGMA = 35.0
"""Grain (Gaussian σ, 0–255 levels, fixed seed) added to the shrunk copies so that they fail
`noisy`, the failure restoration repairs (a face only low-resolution is not restored)."""


def test_restored_skin_reports_equal_python_on_shrunk_real_photos(c_build, parity_photos, tmp_path):
    """With `restore` on, the noisy faces (failing `noisy` and nothing else but
    `low_resolution`) are cut at half the crop size, restored by the restoration bundle,
    measured and gated again: the C reports equal Python's (restored flags, models, checks,
    scores) on the HELEN photos of the sample shrunk so that each face is low-resolution
    and given grain so that it is noisy."""
    if bundle_in(shipped_bundles_dir(), "restoration") is None or not skin_runs("fp32"):
        pytest.skip("no shipped restoration bundle (models/restoration/restoration.flb) or no skin_metrics bundle")
    import cv2
    from facelite.quality import face_scale

    options = FaceAnalyzerOptions(base_options=BaseOptions(accelerator="cpu", variant="fp32", num_threads=2),
                                  bundles_dir=shipped_bundles_dir(), skin=False)
    shrunk, rng = [], np.random.default_rng(0)
    with FaceAnalyzer.create_from_options(options) as analyzer:
        for path in parity_photos["helen"]:
            faces = analyzer.analyze(path).faces
            if len(faces) != 1:
                continue
            image = cv2.imread(str(path))
            f = face_scale(faces[0].landmarks) / RESTORE_FACE_SCALE_PX
            small = cv2.resize(image, (round(image.shape[1] / f), round(image.shape[0] / f)), interpolation=cv2.INTER_AREA)
            small = np.clip(small + rng.normal(0.0, RESTORE_NOISE_SIGMA, small.shape), 0, 255).astype(np.uint8)
            shrunk.append(tmp_path / f"{path.stem}.png")
            cv2.imwrite(str(shrunk[-1]), small)
    c_results = run_c_pipeline(c_build, shrunk, "--restore")
    options = dataclasses.replace(options, skin=True, restore=True)
    worst, restored = Worst(), 0
    with FaceAnalyzer.create_from_options(options) as analyzer:
        for path in shrunk:
            py, c = analyzer.analyze(path), c_results[str(path)]
            assert "error" not in c and c["stages"] == py.stages, c.get("error", c.get("stages"))
            assert list(c["timings_ms"]) == list(py.timings_ms)
            assert len(c["faces"]) == len(py.faces), path
            for i, (py_face, c_face) in enumerate(zip(py.faces, c["faces"])):
                worst.skin(py_face.skin, c_face["skin"], f"{path.name} face {i}")
                restored += py_face.skin.restored
    assert restored >= 3, f"only {restored} of {worst.skin_faces} shrunk noisy faces restored: the comparison proves little"
    print(f"\nrestore on {len(shrunk)} shrunk photos: {restored} of {worst.skin_faces} faces restored, max skin score "
          f"diff {worst.skin_scores:.3g}, max raw relative diff {worst.skin_raw:.3g}")
