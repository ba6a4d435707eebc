"""`facelite analyze VIDEO` (VIDEO mode: tracked faces with ids), `--camera SOURCE`
(LIVE_STREAM mode, tested with a video file as the source: there is no camera here),
`--annotate OUT.mp4`, and the errors of bad sources (exit 2)."""

import json

import cv2
import numpy as np
import pytest

from facelite import cli, sources

N_FRAMES = 12
FPS = 10


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def clip(tmp_path_factory, acne_photo):
    """A real photo (320 px) drifting 3 px right and 2 px down per frame, 12 frames at 10 fps."""
    photo = cv2.resize(cv2.imread(str(acne_photo)), (320, 320), interpolation=cv2.INTER_AREA)
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (320, 320))
    for i in range(N_FRAMES):
        shift = np.float32([[1, 0, 3 * i - 15], [0, 1, 2 * i - 10]])
        writer.write(cv2.warpAffine(photo, shift, (320, 320), borderMode=cv2.BORDER_REPLICATE))
    writer.release()
    return path


def test_a_video_is_analysed_in_video_mode_with_one_stable_track(capsys, clip, shipped_bundles_dir):
    code, out, _ = run(capsys, "analyze", clip, "--json", "--bundles", shipped_bundles_dir)
    doc = json.loads(out)
    assert code == 0 and doc["running_mode"] == "video" and doc["n_frames"] == N_FRAMES
    frames = doc["frames"]
    assert [f["frame"] for f in frames] == list(range(N_FRAMES))
    assert [f["timestamp_ms"] for f in frames] == [i * 1000 // FPS for i in range(N_FRAMES)]  # the file's times
    assert [[face["track_id"] for face in f["faces"]] for f in frames] == [[0]] * N_FRAMES
    assert doc["tracks"] == [{"track_id": 0, "first_frame": 0, "n_frames": N_FRAMES, "last_frame": N_FRAMES - 1}]
    xs = [f["faces"][0]["box"]["x"] for f in frames]
    assert xs[-1] - xs[0] > 15                 # the face moves right with the clip (33 px in all)


def test_jsonl_prints_each_frame_as_a_json_line_then_the_summary(capsys, clip, shipped_bundles_dir):
    code, out, _ = run(capsys, "analyze", clip, "--jsonl", "--every", "4", "--bundles", shipped_bundles_dir)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [line["frame"] for line in lines[:-1]] == [0, 4, 8]
    assert all(line["faces"][0]["track_id"] == 0 for line in lines[:-1])
    assert lines[-1]["n_frames"] == 3 and lines[-1]["every"] == 4 and "frames" not in lines[-1]


def test_camera_reads_a_video_file_as_a_live_source_counting_drops(capsys, clip, shipped_bundles_dir):
    code, out, _ = run(capsys, "analyze", "--camera", clip, "--json", "--bundles", shipped_bundles_dir)
    doc = json.loads(out)
    assert code == 0 and doc["running_mode"] == "live_stream" and not doc["interrupted"]
    assert doc["n_read"] == N_FRAMES and doc["n_frames"] + doc["dropped"] == N_FRAMES
    frames = doc["frames"]
    stamps = [f["timestamp_ms"] for f in frames]
    assert stamps == sorted(stamps) and frames[-1]["frame"] == N_FRAMES - 1   # in order; the last one drained
    assert all(f["timestamp_ms"] == f["frame"] * 1000 // FPS for f in frames)
    assert all([face["track_id"] for face in f["faces"]] == [0] for f in frames)


def test_camera_stops_at_max_frames(capsys, clip, shipped_bundles_dir):
    code, out, _ = run(capsys, "analyze", "--camera", clip, "--max-frames", "3", "--json",
                       "--bundles", shipped_bundles_dir)
    doc = json.loads(out)
    assert code == 0 and doc["n_read"] == 3 and doc["n_frames"] + doc["dropped"] == 3


def test_ctrl_c_ends_a_camera_run_with_the_summary_and_exit_130(capsys, clip, shipped_bundles_dir, monkeypatch):
    read = sources.Camera._read

    def interrupted_after_4(self, max_frames):
        for frame in read(self, max_frames):
            if frame.index == 4:
                raise KeyboardInterrupt
            yield frame

    monkeypatch.setattr(sources.Camera, "_read", interrupted_after_4)
    code, out, err = run(capsys, "analyze", "--camera", clip, "--json", "--bundles", shipped_bundles_dir)
    doc = json.loads(out)
    assert code == 130 and doc["interrupted"] and doc["n_read"] == 4
    assert doc["n_frames"] + doc["dropped"] == 4 and "interrupted" in err


def test_annotate_writes_a_readable_video_with_every_frame(capsys, clip, shipped_bundles_dir, tmp_path):
    out_video = tmp_path / "out" / "tracked.mp4"
    code, _, _ = run(capsys, "analyze", clip, "--annotate", out_video, "--bundles", shipped_bundles_dir)
    assert code == 0
    capture = cv2.VideoCapture(str(out_video))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    assert len(frames) == N_FRAMES and frames[0].shape == (320, 320, 3)
    original = cv2.VideoCapture(str(clip)).read()[1]
    assert np.abs(frames[0].astype(int) - original).max() > 100        # drawn on: box, points, "#0"
    assert sorted(p.name for p in out_video.parent.iterdir()) == ["tracked.mp4"]   # no temp file left


@pytest.mark.parametrize("argv, message", [
    (["no_such_clip.mp4"], "no_such_clip.mp4"),
    (["--camera", "no_such_clip.mp4"], "no such file; give a camera index"),
    (["--camera", "7"], "cannot open camera 7"),
    (["--camera", "0", "--every", "2"], "--every samples a video file"),
    ([], "or --camera SOURCE"),
])
def test_bad_sources_exit_2_saying_what_to_pass(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "analyze", *argv, "--json")
    doc = json.loads(out)
    assert code == 2 and doc["exit_code"] == 2 and message in doc["error"]
