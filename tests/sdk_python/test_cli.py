"""facelite CLI and the CLI core it shares with facelite-build and facelite-bench: exit
codes 0/2/1/130, exactly one JSON document on stdout (errors included), errors without
tracebacks, folders searched with their sub-folders, stand-ins only when asked for."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from facelite import cli
from facelite.cli_core import CommandLine
from facelite.errors import UserError
from facelite.regions import REGION_NAMES
from facelite.skin_scores import CONCERNS
from fixture_bundles import tamper


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- analyze ----------------------------------------------------------------------------


def test_analyze_real_photo_with_the_shipped_bundles(capsys, acne_photo):
    """No --bundles: the bundles shipped with facelite (detector + landmarks, no stand-ins)."""
    code, out, err = run(capsys, "analyze", acne_photo, "--json", "--accelerator", "cpu")
    assert code == 0
    doc = json.loads(out)
    assert {"image", "faces", "timings_ms", "stages"} <= set(doc)
    assert doc["detector"] == "bundle:face_detector"
    assert (doc["stages"]["detector"], doc["stages"]["landmarks"]) == ("bundle:face_detector", "bundle:landmarks")
    assert len(doc["faces"]) == 1
    face = doc["faces"][0]
    assert {"box", "landmarks", "regions", "expression", "skin"} <= set(face)
    assert face["landmarks_source"] == "bundle:landmarks" and len(face["landmarks"]) == 68
    assert doc["timings_ms"]["load"] > 0   # the analyzer decodes the file itself


def test_analyze_with_stand_ins_asked_for(capsys, acne_photo, stand_in_bundles_dir):
    code, out, err = run(capsys, "analyze", acne_photo, "--json", "--bundles", stand_in_bundles_dir,
                         "--accelerator", "cpu", "--stand-ins")
    assert code == 0
    doc = json.loads(out)
    assert {"image", "faces", "timings_ms"} <= set(doc)
    assert {"box", "landmarks", "regions", "expression", "skin"} <= set(doc["faces"][0])
    assert doc["detector"] == "haar-stand-in"
    assert doc["faces"][0]["landmarks_source"] == "mean-shape-stand-in"
    assert doc["faces"][0]["expression"]["top"][0] in doc["faces"][0]["expression"]["scores"]


def test_missing_bundles_without_stand_ins_exit_2_naming_the_flag(capsys, acne_photo, stand_in_bundles_dir):
    code, out, err = run(capsys, "analyze", acne_photo, "--json", "--bundles", stand_in_bundles_dir)
    doc = json.loads(out)
    assert code == 2 and doc["exit_code"] == 2 and "--stand-ins" in doc["error"]
    assert "face_detector" in doc["error"] and "Traceback" not in err


@pytest.mark.parametrize("make", ["missing", "directory_of_nothing", "empty", "text", "truncated"])
def test_bad_inputs_exit_2_with_the_path_and_no_traceback(capsys, tmp_path, acne_photo, make):
    target = tmp_path / f"{make}.jpg"
    if make == "directory_of_nothing":
        target = tmp_path / "empty_dir"
        target.mkdir()
    elif make == "empty":
        target.write_bytes(b"")
    elif make == "text":
        target.write_text("not an image")
    elif make == "truncated":
        target.write_bytes(acne_photo.read_bytes()[:5000])
    code, out, err = run(capsys, "analyze", target, "--json")
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(f"error: {target}")
    assert "Traceback" not in err
    assert json.loads(out)["exit_code"] == 2


def test_directory_run_searches_sub_folders_and_carries_on_after_a_bad_file(capsys, tmp_path, acne_photo,
                                                                           shipped_bundles_dir):
    photos = tmp_path / "photos"
    (photos / "2024" / "june").mkdir(parents=True)
    shutil.copy(acne_photo, photos / "a_good.jpg")
    shutil.copy(acne_photo, photos / "2024" / "june" / "deep.jpg")
    (photos / "2024" / "b_bad.jpg").write_text("nope")
    ann = tmp_path / "annotated"
    code, out, err = run(capsys, "analyze", photos, "--json", "--bundles", shipped_bundles_dir, "--annotate", ann)
    assert code == 0
    doc = json.loads(out)
    assert doc["n_images"] == 3 and doc["n_failed"] == 1
    by_name = {os.path.relpath(e["image"], photos): e for e in doc["images"]}
    assert set(by_name) == {"a_good.jpg", "2024/june/deep.jpg", "2024/b_bad.jpg"}
    assert by_name["2024/june/deep.jpg"]["faces"] and "b_bad.jpg" in by_name["2024/b_bad.jpg"]["error"]
    assert (ann / "a_good.jpg").is_file() and (ann / "2024" / "june" / "deep.jpg").is_file()


def test_directory_tree_without_any_image_exits_2_saying_so(capsys, tmp_path):
    (tmp_path / "sub" / "subsub").mkdir(parents=True)
    (tmp_path / "sub" / "notes.txt").write_text("x")
    code, out, err = run(capsys, "analyze", tmp_path, "--json")
    assert code == 2 and "no image in the folder or its sub-folders" in json.loads(out)["error"]


def test_directory_where_every_file_fails_exits_2(capsys, tmp_path):
    (tmp_path / "x.jpg").write_text("nope")
    (tmp_path / "y.png").write_bytes(b"")
    code, out, err = run(capsys, "analyze", tmp_path, "--json")
    assert code == 2 and json.loads(out)["n_failed"] == 2


def test_annotate_writes_the_image(capsys, tmp_path, acne_photo, shipped_bundles_dir):
    out_file = tmp_path / "ann.jpg"
    code, _, _ = run(capsys, "analyze", acne_photo, "--annotate", out_file, "--bundles", shipped_bundles_dir)
    assert code == 0 and out_file.stat().st_size > 1000


def test_skin_is_measured_only_with_the_skin_flag(capsys, acne_photo, shipped_bundles_dir):
    code, out, _ = run(capsys, "analyze", acne_photo, "--json", "--bundles", shipped_bundles_dir)
    plain = json.loads(out)
    assert code == 0 and plain["faces"][0]["skin"] is None and plain["stages"]["skin_metrics"] == "off"
    code, out, _ = run(capsys, "analyze", acne_photo, "--json", "--skin", "--bundles", shipped_bundles_dir)
    skin = json.loads(out)["faces"][0]["skin"]
    assert code == 0 and {"reliable", "quality", "tone", "face", "regions", "lighting", "models"} <= set(skin)
    assert skin["face"]["redness"]["band"] in ("good", "fair", "attention") and "right_cheek" in skin["regions"]
    assert "left_cheek" not in skin["regions"]  # the photo's far cheek, a sliver: hidden (regions.hidden_cheeks)


def test_skin_text_report_has_a_row_per_region(capsys, acne_photo, shipped_bundles_dir):
    code, out, _ = run(capsys, "analyze", acne_photo, "--skin", "--bundles", shipped_bundles_dir)
    assert code == 0 and "skin: " in out and "tone: " in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split() == list(CONCERNS))
    rows = [line.split()[0] for line in lines[header + 1:header + 9]]
    assert rows[0] == "face"
    assert [r for r in rows[1:] if r in REGION_NAMES] == [r for r in REGION_NAMES if r != "left_cheek"]  # hidden


def test_annotate_with_skin_tints_the_regions_by_score(capsys, tmp_path, acne_photo, shipped_bundles_dir):
    import cv2

    plain, tinted = tmp_path / "plain.png", tmp_path / "skin.png"
    run(capsys, "analyze", acne_photo, "--annotate", plain, "--bundles", shipped_bundles_dir)
    code, _, _ = run(capsys, "analyze", acne_photo, "--skin", "--annotate", tinted, "--bundles", shipped_bundles_dir)
    a, b = cv2.imread(str(plain)), cv2.imread(str(tinted))
    assert code == 0 and a.shape == b.shape
    assert (np.abs(a.astype(int) - b).sum(axis=2) > 30).mean() > 0.05   # a good part of the face is tinted


def test_video_frames_are_sampled(capsys, tmp_path, acne_photo, shipped_bundles_dir):
    import cv2

    frame = cv2.imread(str(acne_photo))
    path = tmp_path / "clip.avi"
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, frame.shape[1::-1])
    for _ in range(6):
        vw.write(frame)
    vw.release()
    code, out, _ = run(capsys, "analyze", path, "--every", "3", "--json", "--bundles", shipped_bundles_dir)
    doc = json.loads(out)
    assert code == 0 and [f["frame"] for f in doc["frames"]] == [0, 3]
    assert doc["frames"][0]["faces"] and doc["fps"] == 5


@pytest.mark.parametrize("flag", ["--threads", "--every"])
def test_zero_counts_are_a_usage_error_naming_the_flag(capsys, acne_photo, flag):
    code, out, err = run(capsys, "analyze", acne_photo, flag, "0", "--json")
    doc = json.loads(out)
    assert code == 2 and doc["exit_code"] == 2
    assert f"argument {flag}: must be a whole number >= 1, got 0" in doc["error"] and "rebuild" not in doc["error"]


@pytest.fixture(scope="module")
def two_faces(tmp_path_factory, acne_photo):
    """The acne photo beside a copy at three quarters of its size: two faces, the detector's
    scores for them apart."""
    import cv2

    image = cv2.imread(str(acne_photo))
    small = cv2.resize(image, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((image.shape[0], image.shape[1] + small.shape[1], 3), np.uint8)
    canvas[:, :image.shape[1]] = image
    canvas[:small.shape[0], image.shape[1]:] = small
    path = tmp_path_factory.mktemp("two_faces") / "two_faces.png"
    cv2.imwrite(str(path), canvas)
    return path


@pytest.mark.parametrize("command", ["analyze", "skin-report"])
def test_max_faces_keeps_that_many_faces_best_score_first(capsys, tmp_path, two_faces, shipped_bundles_dir, command):
    """--max-faces reaches FaceAnalyzerOptions.max_faces in every command that analyses a photo."""
    page = ("--out", tmp_path / "page.png") if command == "skin-report" else ()

    def faces(*flags):
        code, out, err = run(capsys, command, two_faces, *page, "--json", "--bundles", shipped_bundles_dir,
                             "--accelerator", "cpu", *flags)
        assert code == 0, err
        return json.loads(out)["faces"]

    both, one = faces(), faces("--max-faces", "1")
    assert len(both) == 2 and len(one) == 1
    if command == "analyze":
        assert one[0]["box"] == max(both, key=lambda f: f["box"]["score"])["box"]


@pytest.mark.parametrize("command", [["analyze", "photo.jpg"], ["skin-report", "photo.jpg", "--out", "page.png"],
                                     ["track", "add", "someone", "photo.jpg"]])
def test_max_faces_0_is_a_usage_error_naming_the_flag_in_every_command_that_analyses(capsys, command):
    code, out, err = run(capsys, *command, "--max-faces", "0", "--json")
    doc = json.loads(out)
    assert code == 2 and doc["exit_code"] == 2
    assert "argument --max-faces: must be a whole number >= 1, got 0" in doc["error"] and "Traceback" not in err


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", "high"])
def test_a_min_score_outside_0_to_1_is_a_usage_error_naming_the_flag(capsys, acne_photo, value):
    code, out, _ = run(capsys, "analyze", acne_photo, "--min-score", value, "--json")
    doc = json.loads(out)
    assert code == 2 and "argument --min-score: " in doc["error"] and value in doc["error"]


# -- evaluate / inspect / verify ---------------------------------------------------------


def test_evaluate_json_keys(capsys, expression_bundle, data, tmp_path):
    (tmp_path / "happy").mkdir()
    for f in sorted((data / "fer2013/val/happy").glob("*.jpg"))[:4]:
        shutil.copy(f, tmp_path / "happy" / f.name)
    code, out, _ = run(capsys, "evaluate", expression_bundle, "--data", tmp_path, "--variant", "all", "--json")
    assert code == 0
    doc = json.loads(out)
    for v in doc["variants"].values():
        assert {"n", "accuracy", "per_class_recall", "confusion", "agreement_vs_fp32", "psnr_db"} <= set(v)


def test_evaluate_classes_flag_scores_a_folder_with_a_subset_of_the_labels(capsys, expression_bundle, data,
                                                                          tmp_path):
    for label in ("happy", "sad"):
        (tmp_path / label).mkdir()
        for f in sorted((data / "fer2013/val" / label).glob("*.jpg"))[:3]:
            shutil.copy(f, tmp_path / label / f.name)
    code, out, _ = run(capsys, "evaluate", expression_bundle, "--data", tmp_path, "--classes", "happy, sad", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["n"] == 6 and doc["classes"] == ["happy", "sad"] and doc["restricted_argmax"] is True


def test_evaluate_bad_folder_is_exit_2(capsys, expression_bundle, tmp_path):
    (tmp_path / "joy").mkdir()
    code, _, err = run(capsys, "evaluate", expression_bundle, "--data", tmp_path)
    assert code == 2 and "joy" in err and "Traceback" not in err


def test_inspect_and_verify_json(capsys, expression_bundle):
    code, out, _ = run(capsys, "inspect", expression_bundle, "--json")
    assert code == 0 and set(json.loads(out)["variants"]) == {"fp32", "int8"}
    code, out, _ = run(capsys, "verify", expression_bundle, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] and doc["variants"]["int8"]["top1_agreement"] >= 0.75


def test_verify_tampered_bundle_exits_2(capsys, expression_bundle, tmp_path):
    bad = tamper(expression_bundle, tmp_path / "bad.flb", "fp32.tflite")
    code, out, err = run(capsys, "verify", bad, "--json")
    doc = json.loads(out)
    assert code == 2 and not doc["ok"] and "sha256" in " ".join(doc["problems"])


# -- the exit-code and JSON contract -------------------------------------------------------


def test_unexpected_failure_exits_1_and_debug_shows_traceback(capsys, monkeypatch, acne_photo):
    import facelite.analyzer

    def boom(self, image):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(facelite.analyzer.FaceAnalyzer, "analyze", boom)
    code, out, err = run(capsys, "analyze", acne_photo, "--json")
    assert code == 1 and "kaboom" in err and "Traceback" not in err
    assert json.loads(out) == {"error": "internal: RuntimeError: kaboom; rerun with --debug for the traceback "
                                        "and report it", "exit_code": 1}
    code, _, err = run(capsys, "analyze", acne_photo, "--debug")
    assert code == 1 and "Traceback" in err


def test_ctrl_c_exits_130_with_one_json_document(capsys, monkeypatch, acne_photo):
    import facelite.analyzer

    def interrupted(self, image):
        raise KeyboardInterrupt

    monkeypatch.setattr(facelite.analyzer.FaceAnalyzer, "analyze", interrupted)
    code, out, err = run(capsys, "analyze", acne_photo, "--json")
    assert code == 130 and json.loads(out) == {"error": "interrupted", "exit_code": 130}
    assert "error: interrupted" in err and "Traceback" not in err


def test_usage_errors_exit_2_with_a_json_document(capsys):
    code, out, err = run(capsys, "--json", "inspect")
    assert code == 2 and "the following arguments are required: bundle" in json.loads(out)["error"]
    code, out, err = run(capsys, "analyze", "x.jpg", "--no-such-flag")
    assert code == 2 and out == "" and "unrecognized arguments: --no-such-flag" in err


def test_json_flag_works_before_or_after_the_command(capsys, expression_bundle):
    for argv in (["--json", "inspect", expression_bundle], ["inspect", expression_bundle, "--json"]):
        code, out, _ = run(capsys, *argv)
        assert code == 0 and json.loads(out)["name"]


def test_verbose_lets_native_logs_through(capsys, monkeypatch, expression_bundle):
    monkeypatch.delenv("FACELITE_VERBOSE", raising=False)
    run(capsys, "inspect", expression_bundle)
    assert "FACELITE_VERBOSE" not in os.environ
    run(capsys, "inspect", expression_bundle, "--verbose")
    assert os.environ["FACELITE_VERBOSE"] == "1"


def _demo_cli(fn):
    demo = CommandLine("demo", "demo")
    demo.command("go", fn, "run fn")
    return demo


def test_json_output_is_strict_and_stray_prints_go_to_stderr(capsys):
    import numpy as np

    def noisy(args, out):
        print("a library talking")
        out.result({"nan": float("nan"), "inf": np.float32("inf"), "n": np.int64(3), "arr": np.arange(2)})

    assert _demo_cli(noisy).main(["go", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"nan": None, "inf": None, "n": 3, "arr": [0, 1]}
    assert "a library talking" in err


def test_a_command_that_fails_after_its_result_prints_only_the_error_document(capsys):
    def half_done(args, out):
        out.result({"partial": True})
        raise UserError("disk full; free some space")

    assert _demo_cli(half_done).main(["go", "--json"]) == 2
    out, _ = capsys.readouterr()
    assert json.loads(out) == {"error": "disk full; free some space", "exit_code": 2}


def test_console_script_runs_and_keeps_stdout_pure_json(acne_photo, tmp_path):
    out = subprocess.run([sys.executable, "-m", "facelite.cli", "analyze", str(acne_photo), "--json",
                          "--bundles", str(tmp_path), "--stand-ins"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["faces"] and doc["detector"] == "haar-stand-in"   # empty --bundles folder + --stand-ins


def test_litert_info_lines_only_with_verbose(acne_photo):
    def stderr(*flags):
        p = subprocess.run([sys.executable, "-m", "facelite.cli", "analyze", str(acne_photo), "--accelerator", "cpu",
                            "--json", *flags], capture_output=True, text=True, timeout=120,
                           env={k: v for k, v in os.environ.items() if k not in ("FACELITE_VERBOSE", "FACELITE_DEBUG")})
        assert p.returncode == 0 and json.loads(p.stdout)["faces"], p.stderr
        return p.stderr

    assert "INFO: Created TensorFlow Lite XNNPACK delegate" not in stderr()
    assert "INFO: Created TensorFlow Lite XNNPACK delegate" in stderr("--verbose")
