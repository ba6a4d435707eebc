"""facelite CLI: exit codes 0/2/1, one JSON document on stdout, errors without tracebacks."""

import json
import shutil
import subprocess
import sys

import pytest

from facelite import cli
from fixture_bundles import tamper


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_analyze_real_photo_with_the_shipped_bundles(capsys, acne_photo):
    """No --bundles: the repo's models/ (shipped detector + landmarks, no stand-ins)."""
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


def test_analyze_image_json_keys_with_stand_ins(capsys, acne_photo, stand_in_bundles_dir):
    code, out, err = run(capsys, "analyze", acne_photo, "--json", "--bundles", stand_in_bundles_dir,
                         "--accelerator", "cpu")
    assert code == 0
    doc = json.loads(out)
    assert {"image", "faces", "timings_ms"} <= set(doc)
    assert {"box", "landmarks", "regions", "expression", "skin"} <= set(doc["faces"][0])
    assert doc["detector"] == "haar-stand-in"
    assert doc["faces"][0]["landmarks_source"] == "mean-shape-stand-in"
    assert doc["faces"][0]["expression"]["top"][0] in doc["faces"][0]["expression"]["scores"]


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
    code, out, err = run(capsys, "analyze", target, "--json", "--bundles", tmp_path)
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(f"error: {target}")
    assert "Traceback" not in err
    assert json.loads(out)["exit_code"] == 2


def test_directory_run_carries_on_after_a_bad_file(capsys, tmp_path, acne_photo, shipped_bundles_dir):
    shutil.copy(acne_photo, tmp_path / "a_good.jpg")
    (tmp_path / "b_bad.jpg").write_text("nope")
    ann = tmp_path / "annotated"
    code, out, err = run(capsys, "analyze", tmp_path, "--json", "--bundles", shipped_bundles_dir, "--annotate", ann)
    assert code == 0
    doc = json.loads(out)
    assert doc["n_images"] == 2 and doc["n_failed"] == 1
    good, bad = doc["images"]
    assert good["faces"] and "error" in bad and "b_bad.jpg" in bad["error"]
    assert (ann / "a_good.jpg").is_file()


def test_directory_where_every_file_fails_exits_2(capsys, tmp_path):
    (tmp_path / "x.jpg").write_text("nope")
    (tmp_path / "y.png").write_bytes(b"")
    code, out, err = run(capsys, "analyze", tmp_path, "--json", "--bundles", tmp_path)
    assert code == 2 and json.loads(out)["n_failed"] == 2


def test_annotate_writes_the_image(capsys, tmp_path, acne_photo, shipped_bundles_dir):
    out_file = tmp_path / "ann.jpg"
    code, _, _ = run(capsys, "analyze", acne_photo, "--annotate", out_file, "--bundles", shipped_bundles_dir)
    assert code == 0 and out_file.stat().st_size > 1000


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
    assert doc["frames"][0]["faces"]


def test_evaluate_json_keys(capsys, expression_bundle, data, tmp_path):
    (tmp_path / "happy").mkdir()
    for f in sorted((data / "fer2013/val/happy").glob("*.jpg"))[:4]:
        shutil.copy(f, tmp_path / "happy" / f.name)
    code, out, _ = run(capsys, "evaluate", expression_bundle, "--data", tmp_path, "--variant", "all", "--json")
    assert code == 0
    doc = json.loads(out)
    for v in doc["variants"].values():
        assert {"n", "accuracy", "per_class_recall", "confusion", "agreement_vs_fp32", "psnr_db"} <= set(v)


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


def test_unexpected_failure_exits_1_and_debug_shows_traceback(capsys, monkeypatch, acne_photo, tmp_path):
    import facelite.analyzer

    def boom(self, image):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(facelite.analyzer.FaceAnalyzer, "analyze", boom)
    code, _, err = run(capsys, "analyze", acne_photo, "--bundles", tmp_path)
    assert code == 1 and "kaboom" in err and "Traceback" not in err
    code, _, err = run(capsys, "analyze", acne_photo, "--bundles", tmp_path, "--debug")
    assert code == 1 and "Traceback" in err


def test_console_script_runs_and_keeps_stdout_pure_json(acne_photo, tmp_path):
    out = subprocess.run([sys.executable, "-m", "facelite.cli", "analyze", str(acne_photo), "--json",
                          "--bundles", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["faces"] and doc["detector"] == "haar-stand-in"   # empty --bundles folder: stand-ins
