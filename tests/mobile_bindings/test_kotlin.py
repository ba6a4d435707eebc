"""The Kotlin binding (mobile_bindings/kotlin) gives the C core's answers through JNI.

Built here as a phone app would build it, minus Android: the JNI glue
(`kotlin/jni/facelite_jni.c`) compiled with the JDK's headers against the session's
`libfacelite.so` (`c_build`), the Kotlin sources compiled with Debian's `kotlinc`, then
`facelite.FaceLiteCheckKt` run on real photos. It decodes each photo with the C core's
decoder (`FaceLite.decode`), analyses those bytes, the same pixels as a padded RGBA direct
buffer (an Android Bitmap's layout) and the path, requires the three to agree, and
prints the data classes' values; here they must equal, bit for bit, what the C pipeline
(`tool_analyze`) gives for the same files, and the runner's `--analyze` labels.
VIDEO mode (`facelite.VideoCheckKt`): a synthetic clip of a real photo, fed to
`analyzeVideoFrame` as pixels, must give the C runner's `--video` results bit for bit and
Python's track ids, and the same again after `reset()` from paths and RGBA buffers.

Skipped with the reason when kotlinc, java or the JDK's JNI headers are missing
(`scripts/install_system_deps.sh` installs `kotlin` and `default-jdk-headless`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from facelite import BaseOptions, FaceAnalyzer, FaceAnalyzerOptions
from facelite.datasets import read_pts
from facelite.paths import shipped_bundles_dir

REPO = Path(__file__).resolve().parents[2]
KOTLIN = REPO / "mobile_bindings" / "kotlin"
sys.path.insert(0, str(REPO / "benchmarks"))

from synthetic_clips import FRAME_SIZE, clip  # noqa: E402


def run_c_pipeline(c_build, files: list[Path]) -> dict[str, dict]:
    """{path: exact result} of the C pipeline (tool_analyze, fp32, CPU, 2 threads)."""
    p = subprocess.run([str(c_build.tool("tool_analyze")), str(shipped_bundles_dir()), "fp32", "cpu", "2",
                        *map(str, files)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return {line["path"]: line["result"] for line in map(json.loads, p.stdout.splitlines())}


def java_home() -> Path | None:
    """The JDK whose include/jni.h the glue compiles against: $JAVA_HOME, else javac's."""
    candidates = [os.environ.get("JAVA_HOME")]
    javac = shutil.which("javac")
    if javac:
        candidates.append(str(Path(javac).resolve().parents[1]))
    for c in candidates:
        if c and (Path(c) / "include" / "jni.h").is_file():
            return Path(c)
    return None


def kotlin_stdlib() -> Path | None:
    """The Kotlin runtime jar kotlinc ships (Debian: /usr/share/java/kotlin-stdlib.jar)."""
    kotlinc = shutil.which("kotlinc")
    for c in [Path("/usr/share/java/kotlin-stdlib.jar")] + ([Path(kotlinc).resolve().parents[1] / "lib" /
                                                             "kotlin-stdlib.jar"] if kotlinc else []):
        if c.is_file():
            return c
    return None


@pytest.fixture(scope="module")
def kotlin_build(c_build, tmp_path_factory) -> dict:
    """The JNI library and the compiled Kotlin classes."""
    missing = [tool for tool in ("kotlinc", "java", "cc") if shutil.which(tool) is None]
    if missing or java_home() is None or kotlin_stdlib() is None:
        pytest.skip(f"Kotlin binding not built: {', '.join(missing) or 'JDK headers or kotlin-stdlib.jar'} missing "
                    "(scripts/install_system_deps.sh installs kotlin and default-jdk-headless)")
    out = tmp_path_factory.mktemp("kotlin")
    jdk = java_home()
    jni = out / "libfacelite_jni.so"
    cmd = ["cc", "-shared", "-fPIC", "-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{jdk / 'include'}",
           f"-I{jdk / 'include' / 'linux'}", f"-I{REPO / 'mobile_bindings' / 'c' / 'include'}",
           str(KOTLIN / "jni" / "facelite_jni.c"), f"-L{c_build.build_dir}", "-lfacelite",
           f"-Wl,-rpath,{c_build.build_dir}", "-o", str(jni)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    classes = out / "classes"
    p = subprocess.run(["kotlinc", str(KOTLIN / "src" / "main" / "kotlin"), str(KOTLIN / "src" / "test" / "kotlin"),
                        "-d", str(classes)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0 and (classes / "facelite" / "FaceLite.class").is_file(), p.stdout + p.stderr
    return {"jni": jni, "classpath": f"{classes}:{kotlin_stdlib()}"}


@pytest.fixture(scope="module")
def four_photos(parity_photos) -> list[Path]:
    """The first two ACNE04 and HELEN photos of test_pipeline_parity.py's sample."""
    return parity_photos["acne04"][:2] + parity_photos["helen"][:2]


def _same_points(kotlin: list, c: list) -> bool:
    return np.array_equal(np.float32(kotlin), np.float32(c))


def _same_classification(kotlin: dict | None, c: dict | None) -> bool:
    if kotlin is None or c is None:
        return kotlin is c
    return (kotlin["top"][0] == c["top"][0] and np.float32(kotlin["top"][1]) == np.float32(c["top"][1])
            and list(kotlin["scores"]) == list(c["scores"])
            and all(np.float32(kotlin["scores"][k]) == np.float32(v) for k, v in c["scores"].items()))


def test_kotlin_analyses_real_photos_through_jni_as_the_c_core_does(c_build, kotlin_build, four_photos):
    p = subprocess.run(["java", f"-Dfacelite.jni.library={kotlin_build['jni']}", "-cp", kotlin_build["classpath"],
                        "facelite.FaceLiteCheckKt", str(shipped_bundles_dir()), *map(str, four_photos)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    lines = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    assert p.stdout.splitlines()[-1] == "ok"
    assert lines[-1] == {"error_status": "io"}
    kotlin = {line["path"]: line for line in lines[:-1]}
    c = run_c_pipeline(c_build, four_photos)
    faces = 0
    for path in map(str, four_photos):
        k, ref = kotlin[path], c[path]
        assert k["image_size"] == ref["image_size"] and k["stages"] == ref["stages"]
        assert len(k["faces"]) == len(ref["faces"]) >= 1, path
        for kf, cf in zip(k["faces"], ref["faces"]):
            assert kf["box"] == cf["box"], path  # doubles, exactly
            assert _same_points(kf["landmarks"], cf["landmarks"]), path
            assert list(kf["regions"]) == list(cf["regions"])
            assert all(_same_points(kf["regions"][n], cf["regions"][n]) for n in cf["regions"]), path
            assert _same_classification(kf["expression"], cf["expression"]), path
            assert kf["skin"] is not None and kf["skin"] == cf["skin"], path  # the whole report, doubles exactly
            assert (kf["acne"] is None) == (cf["skin"]["face"].get("acne") is None), path
            faces += 1
    assert faces >= 4

    runner = subprocess.run([str(c_build.runner), str(shipped_bundles_dir()), "--analyze", "--input",
                             str(four_photos[0]), "--skin", "--variant", "fp32", "--threads", "2", "--json"],
                            capture_output=True, text=True, timeout=300)
    doc = json.loads(runner.stdout)
    mine = kotlin[str(four_photos[0])]["faces"]
    assert [f["expression"]["top"][0] for f in doc["faces"]] == [f["expression"]["top"][0] for f in mine]
    assert [{c: s["band"] for c, s in f["skin"]["face"].items()} for f in doc["faces"]] == \
        [{c: s["band"] for c, s in f["skin"]["face"].items()} for f in mine]


def leaving_and_returning_clip(shared_data: Path, folder: Path) -> tuple[list[Path], list[int]]:
    """PNG frames (lossless: every side reads the same pixels) of a HELEN face still for 3
    frames, sliding out to the left 40 px a frame over a grey background, then back for 3:
    a track while it is in the frame, none once it has left, a new id when it returns."""
    photos = sorted((shared_data / "landmarks300w" / "helen_train").glob("*.jpg"))
    if len(photos) < 4:
        pytest.skip(f"HELEN photos not found under {shared_data}")
    still = next(iter(clip(cv2.imread(str(photos[3])), read_pts(photos[3].with_suffix(".pts")), "still",
                           n_frames=1))).image
    shifted = [cv2.warpAffine(still, np.float32([[1, 0, -40 * k], [0, 1, 0]]), FRAME_SIZE,
                              borderValue=(127, 127, 127)) for k in range(1, 12)]
    paths = []
    for i, image in enumerate([still] * 3 + shifted + [still] * 3):
        paths.append(folder / f"frame_{i:03d}.png")
        cv2.imwrite(str(paths[-1]), image)
    return paths, [round(i * 1000 / 30) for i in range(len(paths))]


def test_kotlin_video_frames_keep_the_c_runner_s_and_python_s_track_ids(c_build, kotlin_build, shared_data, tmp_path):
    """Detection every 5 frames, expression every 2nd and skin every 3rd frame of a track,
    smoothing on: the options reach the C core (the same detection frames, carried results
    and smoothed points as the runner given the same flags), and the ids are Python's."""
    frames, stamps = leaving_and_returning_clip(shared_data, tmp_path)
    every = {"detect_every_n_frames": 5, "expression_every_n_frames": 2, "skin_every_n_frames": 3}
    p = subprocess.run(["java", f"-Dfacelite.jni.library={kotlin_build['jni']}", "-cp", kotlin_build["classpath"],
                        "facelite.VideoCheckKt", str(shipped_bundles_dir()), *map(str, every.values()),
                        ",".join(map(str, stamps)), *map(str, frames)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and p.stdout.splitlines()[-1] == "ok", (p.stdout + p.stderr)[-4000:]
    kotlin = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]

    runner = subprocess.run([str(c_build.runner), str(shipped_bundles_dir()), "--analyze", "--video",
                             *map(str, frames), "--timestamps", ",".join(map(str, stamps)), "--exact", "--threads",
                             "2", "--skin", "--detect-every", "5", "--expression-every", "2", "--skin-every", "3"],
                            capture_output=True, text=True, timeout=300)
    assert runner.returncode == 0, runner.stderr[-3000:]
    c = [json.loads(line) for line in runner.stdout.splitlines()][:-1]

    opts = FaceAnalyzerOptions(base_options=BaseOptions(accelerator="cpu", num_threads=2),
                               bundles_dir=shipped_bundles_dir(), running_mode="video", skin=True, **every)
    with FaceAnalyzer.create_from_options(opts) as analyzer:
        python = [[f.track_id for f in analyzer.analyze_video_frame(str(frame), ms).faces]
                  for frame, ms in zip(frames, stamps)]

    ids = [[f["track_id"] for f in k["faces"]] for k in kotlin]
    assert ids == [[f["track_id"] for f in cf["faces"]] for cf in c] == python
    gone = ids.index([])
    assert ids[:3] == [[0]] * 3 and ids[-3:] == [ids[-1]] * 3, ids       # a still face keeps its id
    assert ids[-1][0] > max(i for frame in ids[:gone] for i in frame), ids  # a returning face gets a new one
    assert [k["timestamp_ms"] for k in kotlin] == [cf["timestamp_ms"] for cf in c] == stamps
    assert [k["detected"] for k in kotlin] == [cf["detections"] > 0 for cf in c]
    assert [k["detected"] for k in kotlin][:5] == [True, False, False, False, False]
    for i, (k, ref) in enumerate(zip(kotlin, c)):
        for kf, cf in zip(k["faces"], ref["faces"]):
            at = f"frame {i} track {cf['track_id']}"
            assert kf["box"] == cf["box"], at  # doubles, exactly
            assert _same_points(kf["landmarks"], cf["landmarks"]), at
            assert all(_same_points(kf["regions"][n], cf["regions"][n]) for n in cf["regions"]), at
            assert _same_classification(kf["expression"], cf["expression"]), at
            assert kf["skin"] is not None and kf["skin"] == cf["skin"], at
