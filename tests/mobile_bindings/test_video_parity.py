"""The C core's VIDEO mode gives `facelite`'s VIDEO mode answers, frame for frame.

docs/video.md is the contract both implement step for step: tracking
(`facelite.tracking` / `mobile_bindings/c/src/tracking.c`), One Euro smoothing
(`facelite.smoothing` / `one_euro.c`) and the per-face stages at their own rates
(`FaceAnalyzer.analyze_video_frame` / `fl_analyze_video_frame`). A phone runs the C code,
so one clip must give the same track ids on the same frames, detect on the same frames
and report the same points, expressions and skin reports.

The clips are real HELEN photos moved by a known motion (`benchmarks/synthetic_clips.py`,
shared with `benchmarks/video.py`), written as PNG frames (lossless, so both sides read
the same pixels) and fed to `facelite-run --analyze --video FRAMES... --timestamps ...
--exact` (a JSON line per frame, unrounded) and to `analyze_video_frame` with the same
timestamps; CPU, 2 threads on both sides, the shipped bundles.

Tolerances: points and boxes within LANDMARKS_MAX_PX = 1e-3 px. Both sides run the same
landmarker on the same crops (image mode is bit-identical, test_pipeline_parity.py) and
the One Euro filter in float64 in the same order, so the points should be equal; the
slack only absorbs a last-bit difference of a model output, far below what would move a
crop. Expression probabilities within SCORES_MAX_ABS = 1e-6: Python keeps the smoothed
probabilities in float64, the C result in float32 (`fl_classification.scores`), which
rounds them by at most 6e-8. Skin scores within 1e-4 as in the image-mode parity test.
Measured on the reference machine: every point, box and skin score equal (0), expression
within 3e-8.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from facelite import BaseOptions, FaceAnalyzer, FaceAnalyzerOptions, smoothing, tracking
from facelite.datasets import extent_box, read_pts
from facelite.paths import shipped_bundles_dir
from facelite.tracking import FaceTracker, box_iou

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from synthetic_clips import FRAME_SIZE, clip  # noqa: E402

LANDMARKS_MAX_PX = 1e-3
SCORES_MAX_ABS = 1e-6
SKIN_SCORE_MAX_ABS = 1e-4


def helen_photo(shared_data: Path, index: int) -> tuple[np.ndarray, np.ndarray]:
    """The index-th HELEN training photo (sorted) and its 68 annotated points."""
    photos = sorted((shared_data / "landmarks300w" / "helen_train").glob("*.jpg"))
    if len(photos) <= index:
        pytest.skip(f"HELEN photos not found under {shared_data}")
    return cv2.imread(str(photos[index])), read_pts(photos[index].with_suffix(".pts"))


def write_frames(folder: Path, images: list[np.ndarray]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"frame_{i:03d}.png" for i in range(len(images))]
    for path, image in zip(paths, images):
        cv2.imwrite(str(path), image)
    return paths


def c_video(c_build, frames: list[Path], timestamps: list[int], *options: str) -> tuple[list[dict], dict]:
    """(a document per frame, the summary) of `facelite-run --analyze --video`."""
    cmd = [str(c_build.runner), str(shipped_bundles_dir()), "--analyze", "--video", *map(str, frames),
           "--timestamps", ",".join(map(str, timestamps)), "--exact", "--threads", "2", *options]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(lines) == len(frames) + 1, p.stdout[-2000:]
    return lines[:-1], lines[-1]


def python_video(frames: list[Path], timestamps: list[int], **options) -> list[tuple]:
    """(result, detector runs on the frame) per frame of FaceAnalyzer's VIDEO mode."""
    opts = FaceAnalyzerOptions(base_options=BaseOptions(accelerator="cpu", num_threads=2),
                               bundles_dir=shipped_bundles_dir(), running_mode="video", **options)
    out = []
    with FaceAnalyzer.create_from_options(opts) as analyzer:
        for frame, ms in zip(frames, timestamps):
            before = analyzer._tracker.detections_run
            result = analyzer.analyze_video_frame(str(frame), ms)
            out.append((result, analyzer._tracker.detections_run - before))
    return out


def compare(c_frames: list[dict], py_frames: list[tuple]) -> dict:
    """Assert frame by frame that both sides agree; the worst differences seen."""
    worst = {"points": 0.0, "box": 0.0, "expression": 0.0, "skin": 0.0, "faces": 0, "skin_reports": 0}
    for i, (c, (py, detections)) in enumerate(zip(c_frames, py_frames)):
        where = f"frame {i}"
        assert c["timestamp_ms"] == py.timestamp_ms
        assert c["detections"] == detections, f"{where}: detector ran {c['detections']}x in C, {detections}x in Python"
        assert [f["track_id"] for f in c["faces"]] == [f.track_id for f in py.faces], \
            f"{where}: track ids {[f['track_id'] for f in c['faces']]} in C, {[f.track_id for f in py.faces]} in Python"
        for cf, pf in zip(c["faces"], py.faces):
            at = f"{where} track {pf.track_id}"
            worst["faces"] += 1
            points = float(np.abs(np.array(cf["landmarks"], np.float64) - pf.landmarks).max())
            worst["points"] = max(worst["points"], points)
            assert points <= LANDMARKS_MAX_PX, f"{at}: points differ by {points:.3g} px"
            box = max(abs(cf["box"][k] - getattr(pf.box, k)) for k in ("x", "y", "w", "h", "score"))
            worst["box"] = max(worst["box"], box)
            assert box <= LANDMARKS_MAX_PX, f"{at}: box {cf['box']} in C, {pf.box} in Python"
            for name, poly in pf.regions.items():
                assert np.abs(np.array(cf["regions"][name]) - poly).max() <= LANDMARKS_MAX_PX, f"{at}: {name}"
            assert (cf["expression"] is None) == (pf.expression is None), f"{at}: expression on one side only"
            if pf.expression is not None:
                assert cf["expression"]["top"][0] == pf.expression.top[0], f"{at}: top expression differs"
                diff = max(abs(cf["expression"]["scores"][k] - v) for k, v in pf.expression.scores.items())
                worst["expression"] = max(worst["expression"], diff)
                assert diff <= SCORES_MAX_ABS, f"{at}: expression probabilities differ by {diff:.3g}"
            assert (cf["skin"] is None) == (pf.skin is None), f"{at}: skin on one side only"
            if pf.skin is not None:
                worst["skin_reports"] += 1
                assert cf["skin"]["reliable"] == pf.skin.reliable
                scores = [abs(cf["skin"]["face"][k]["score"] - v.score) for k, v in pf.skin.face.items()]
                worst["skin"] = max([worst["skin"], *scores])
                assert list(cf["skin"]["face"]) == list(pf.skin.face) and max(scores, default=0) <= SKIN_SCORE_MAX_ABS
    return worst


class ScriptedWorld:
    """Faces with known points moving, appearing, vanishing and jumping (seeded), and a
    scripted detector and landmarker over them, the same for both trackers.

    The detector finds each visible face (best score first) except now and then; the
    landmarker returns, for a crop, the points of the face overlapping it most (pulled a
    little towards the crop, as a real landmarker follows its crop), and for a crop over
    no face a small cluster of points in its corner, which loses the track. Each face has
    an appearance thumbnail with a little noise per frame, replaced now and then (a scene
    cut: the track is lost though its points stay); a crop over no face looks flat."""

    SIZE = (640, 480)

    def __init__(self, seed: int, n_frames: int, n_faces: int, max_detections: int):
        self.max_detections = max_detections   # the detector's max_boxes: the analyzer's max_faces
        rng = np.random.default_rng(seed)
        self.template = rng.uniform(0.0, 1.0, (68, 2))
        self.template[:2] = ((0.0, 0.0), (1.0, 1.0))
        self.frames = []
        looks_rng = np.random.default_rng(seed + 1000)   # apart, so the scenes stay those of `rng`
        looks = [looks_rng.integers(0, 30000, tracking.APPEARANCE_CELLS ** 2) for _ in range(n_faces)]
        faces = [dict(c=rng.uniform((80, 80), (560, 400)), v=rng.normal(0, 6, 2), s=rng.uniform(60, 160),
                      on=rng.integers(0, n_frames // 2), off=rng.integers(n_frames // 2, n_frames + 20))
                 for _ in range(n_faces)]
        for i in range(n_frames):
            visible, seen = [], []
            for k, f in enumerate(faces):
                f["v"] = np.where((f["c"] < 60) | (f["c"] > (580, 420)), -np.abs(f["v"]) * np.sign(f["c"] - 320), f["v"])
                f["c"] = f["c"] + f["v"]
                jolt = rng.random()
                if jolt < 0.02:
                    f["c"] = rng.uniform((80, 80), (560, 400))      # a jump: the detector no longer matches
                elif jolt < 0.08:
                    f["c"] = f["c"] + np.eye(2)[rng.integers(2)] * rng.choice([-0.45, 0.45]) * f["s"]  # a jerk:
                    # a detection still matches the track (IoU 0.38), its points leave the crop (lost)
                if looks_rng.random() < 0.03:
                    looks[k] = looks_rng.integers(0, 30000, len(looks[k]))     # a cut
                if f["on"] <= i < f["off"] and rng.random() > 0.02:
                    visible.append((self.template * f["s"] + f["c"] - f["s"] / 2).astype(np.float32))
                    seen.append(looks[k] + looks_rng.integers(-1500, 1500, len(looks[k])))
            missed = [rng.random() < 0.1 for _ in visible]
            scores = [float(rng.uniform(0.5, 1.0)) for _ in visible]
            self.frames.append((visible, missed, scores, seen))
        self.frame = 0

    def detect(self, image=None):
        from facelite.detection import Box
        visible, missed, scores, _ = self.frames[self.frame]
        found = []
        for points, miss, score in zip(visible, missed, scores):
            if not miss:
                x, y, w, h = extent_box(points.astype(np.float64))
                found.append((Box(x - 0.1 * w, y - 0.1 * h, 1.2 * w, 1.2 * h, score), (x, y, w, h)))
        return sorted(found, key=lambda d: -d[0].score)[:self.max_detections]

    def landmarks(self, image, crops):
        visible, looks = self.frames[self.frame][0], self.frames[self.frame][3]
        out = []
        for crop in crops:
            overlaps = [box_iou(crop, extent_box(p.astype(np.float64))) for p in visible]
            if overlaps and max(overlaps) > 0.05:
                best = int(np.argmax(overlaps))
                p = visible[best].astype(np.float64)
                pull = np.array([crop[0] + crop[2] / 2, crop[1] + crop[3] / 2]) - p.mean(axis=0)
                out.append(((p + 0.1 * pull).astype(np.float32), looks[best]))
            else:
                out.append(((self.template * 5 + crop[:2]).astype(np.float32), np.full(len(looks[0]) if looks else
                                                                                       tracking.APPEARANCE_CELLS ** 2, 7)))
        return out


def step_c_tracker(proc, world: ScriptedWorld) -> tuple[int, list[tuple]]:
    """One frame through tool_tracking, answering its questions from `world`."""
    proc.stdin.write(f"frame {world.SIZE[0]} {world.SIZE[1]}\n")
    proc.stdin.flush()
    while True:
        words = proc.stdout.readline().split()
        assert words, f"tool_tracking stopped: {proc.stderr.read()}"
        if words[0] == "detect":
            found = world.detect()
            numbers = [len(found)] + [v for box, e in found for v in (box.x, box.y, box.w, box.h, box.score, *e)]
            proc.stdin.write(" ".join(map(repr, map(float, numbers))) + "\n")
        elif words[0] == "landmarks":
            crops = np.array(words[2:], np.float64).reshape(int(words[1]), 4)
            found = world.landmarks(None, [tuple(c) for c in crops])
            proc.stdin.write(" ".join(repr(float(v)) for p, _ in found for v in p.ravel()) + "\n")
            proc.stdin.write(" ".join(str(int(v)) for _, look in found for v in (1, *look)) + "\n")
        else:
            assert words[0] == "step"
            tracks = [proc.stdout.readline().split() for _ in range(int(words[2]))]
            return int(words[1]), [(int(t[0]), bool(int(t[1])), int(t[2]), float(t[3]), tuple(map(float, t[4:8])),
                                    float(t[8])) for t in tracks]
        proc.stdin.flush()


@pytest.mark.parametrize("seed", range(4))
def test_the_c_tracker_makes_python_s_decisions_on_scripted_scenes(c_build, seed):
    """Faces appearing, leaving, jumping (lost tracks), missed by the detector, more faces
    than max_faces, scene cuts (a face's appearance replaced): on every frame the same
    tracks (ids, started, frames tracked, score, the crop each was landmarked in and its
    appearance change, exactly) and the same number of detector runs."""
    max_faces, every = 3, 7
    world = ScriptedWorld(seed, n_frames=120, n_faces=4, max_detections=max_faces)
    tracker = FaceTracker(world.detect, world.landmarks, detect_every_n_frames=every, max_faces=max_faces)
    frame = np.zeros((world.SIZE[1], world.SIZE[0], 1), np.uint8)
    proc = subprocess.Popen([str(c_build.tool("tool_tracking")), str(max_faces), str(every)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lost, last_detection, had_tracks = 0, 0, False   # detections run because a track was lost
    try:
        for i in range(len(world.frames)):
            world.frame = i
            before = tracker.detections_run
            want = [(t.id, t.started, t.frames_tracked, t.score, tuple(t.crop), t.appearance_change)
                    for t in tracker.step(frame)]
            runs, got = step_c_tracker(proc, world)
            assert (runs, got) == (tracker.detections_run, want), f"seed {seed} frame {i}"
            if tracker.detections_run > before:
                lost += had_tracks and i - last_detection < every
                last_detection = i
            had_tracks = bool(want)
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert tracker.detections_run < len(world.frames) and lost > 0, "the scene should track, and lose tracks"


@pytest.fixture(scope="module")
def moving_face(shared_data, tmp_path_factory) -> tuple[list[Path], list[int]]:
    """45 frames of a HELEN face sliding sideways and bobbing (`synthetic_clips` "translation")."""
    photo, points = helen_photo(shared_data, 3)
    frames = list(clip(photo, points, "translation", n_frames=45))
    return write_frames(tmp_path_factory.mktemp("moving"), [f.image for f in frames]), [f.timestamp_ms for f in frames]


def test_tracking_constants_are_python_s(c_build):
    p = subprocess.run([str(c_build.tool("tool_tracking")), "constants"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    want = {name: getattr(tracking, name) for name in ("TRACK_MATCH_IOU", "TRACK_KEEP_IOU", "MIN_INSIDE_FRACTION",
                                                       "APPEARANCE_CELLS", "TRACK_APPEARANCE_CHANGE")}
    assert json.loads(p.stdout) == want, "change tracking.h's FL_TRACK_* to facelite.tracking's values"


def test_the_appearance_thumbnail_is_python_s_on_random_crops(c_build):
    """`fl_track_appearance` against `tracking.appearance`: random crops, placements and
    points (some reaching past the crop's edges, some too small for a thumbnail)."""
    from facelite.preprocess import Placement
    rng = np.random.default_rng(5)
    cases = []
    for k in range(40):
        side = int(rng.choice([16, 48, 112]))
        pixels = rng.integers(0, 256, (side, side, 3), np.uint8)
        placement = Placement((float(rng.uniform(-50, 50)), float(rng.uniform(-50, 50))), (float(rng.uniform(0.4, 3)),) * 2)
        points = (rng.uniform(-0.2, 1.2, (68, 2)) * side * placement.step[0] + placement.origin).astype(np.float32)
        if k % 10 == 0:
            points[:] = points[0] + rng.uniform(0, 3, (68, 2))      # a tiny face: no thumbnail
        cases.append((pixels, placement, points))
    text = "".join(" ".join(map(repr, [side, side, 3, *p.origin, *p.step])) + " " +
                   " ".join(map(str, px.ravel().tolist())) + " " + " ".join(repr(float(v)) for v in pts.ravel()) + "\n"
                   for px, p, pts in cases for side in [px.shape[0]])
    p = subprocess.run([str(c_build.tool("tool_tracking")), "appearance"], input=text, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == len(cases)
    for (pixels, placement, points), line in zip(cases, lines):
        want = tracking.appearance(pixels, placement, points)
        assert line == "none" if want is None else [int(v) for v in line.split()] == want.tolist()
    assert sum(line == "none" for line in lines) >= 4


def test_smoothing_constants_are_python_s(c_build):
    p = subprocess.run([str(c_build.tool("tool_one_euro")), "constants"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    want = {name: getattr(smoothing, name) for name in ("POINT_MIN_CUTOFF", "POINT_BETA", "POINT_D_CUTOFF",
                                                       "SCORE_MIN_CUTOFF", "SCORE_BETA", "SCORE_D_CUTOFF", "MIN_SCALE")}
    assert json.loads(p.stdout) == want, "change one_euro.h's FL_POINT_*/FL_SCORE_* to facelite.smoothing's values"


def test_the_one_euro_filter_gives_python_s_numbers_bit_for_bit(c_build):
    """PointSmoother and ScoreSmoother on random tracks with irregular frame times."""
    rng = np.random.default_rng(13)
    times = np.cumsum(rng.uniform(0.01, 0.1, 40))
    base = rng.uniform(50, 400, (68, 2))
    walk = np.cumsum(rng.normal(0, 3, (40, 68, 2)), axis=0)
    points = (base + walk).astype(np.float32)
    text = "".join(f"{float(t)!r} " + " ".join(repr(float(v)) for v in p.ravel()) + "\n" for t, p in zip(times, points))
    p = subprocess.run([str(c_build.tool("tool_one_euro")), "points"], input=text, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    smoother = smoothing.PointSmoother()
    for t, raw, line in zip(times, points, p.stdout.splitlines()):
        assert np.array_equal(np.array(line.split(), np.float64).reshape(68, 2), smoother(raw, t))

    probabilities = rng.dirichlet(np.ones(7), 40).astype(np.float32)
    text = "".join(f"{float(t)!r} " + " ".join(repr(float(v)) for v in row) + "\n" for t, row in zip(times, probabilities))
    p = subprocess.run([str(c_build.tool("tool_one_euro")), "scores"], input=text, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    scores = smoothing.ScoreSmoother()
    labels = [f"l{k}" for k in range(7)]
    from facelite.classifier import Classification
    for t, row, line in zip(times, probabilities, p.stdout.splitlines()):
        got = np.array(line.split(), np.float64)
        want = scores(Classification((labels[0], float(row[0])), dict(zip(labels, map(float, row)))), t)
        assert labels[int(got[0])] == want.top[0] and got[1:].tolist() == list(want.scores.values())


def test_a_moving_face_keeps_its_track_and_python_s_points_expression_and_skin(c_build, moving_face):
    """Detection every 15 frames, expression every 2nd frame of the track, skin every 10th:
    the schedules and the carried results are compared with the points."""
    frames, stamps = moving_face
    options = {"detect_every_n_frames": 15, "expression_every_n_frames": 2, "skin_every_n_frames": 10}
    c_frames, summary = c_video(c_build, frames, stamps, "--skin", "--detect-every", "15", "--expression-every", "2",
                                "--skin-every", "10")
    worst = compare(c_frames, python_video(frames, stamps, skin=True, **options))
    assert all([f["track_id"] for f in c["faces"]] == [0] for c in c_frames), "the face changed track"
    assert [i for i, c in enumerate(c_frames) if c["detections"]] == [0, 15, 30]
    assert summary["detections_run"] == 3 and summary["tracks_started"] == 1
    assert worst["skin_reports"] == len(frames), "every frame carries the last skin report"
    print(f"\nC vs Python VIDEO mode, moving face, {len(frames)} frames: {worst}")


def test_without_smoothing_the_points_are_the_landmarker_s_in_both(c_build, moving_face):
    frames, stamps = moving_face
    frames, stamps = frames[:20], stamps[:20]
    c_frames, _ = c_video(c_build, frames, stamps, "--no-smoothing")
    compare(c_frames, python_video(frames, stamps, skin=False, smoothing=False))


def test_a_face_leaving_the_frame_loses_its_track_and_comes_back_with_a_new_id(c_build, shared_data, tmp_path):
    """A still face for 3 frames, then sliding out to the left by 40 px a frame (the
    background grey), then back: the track is lost once less than half of its points'
    extent lies inside the frame (the detector then runs on that frame), the detector runs
    on every frame without a track, and the returning face starts a new track; the same
    ids on the same frames in both."""
    still = next(iter(clip(*helen_photo(shared_data, 3), "still", n_frames=1))).image
    shifted = [cv2.warpAffine(still, np.float32([[1, 0, -40 * k], [0, 1, 0]]), FRAME_SIZE, borderValue=(127, 127, 127))
               for k in range(1, 12)]
    frames = write_frames(tmp_path, [still] * 3 + shifted + [still] * 3)
    stamps = [round(i * 1000 / 30) for i in range(len(frames))]
    c_frames, summary = c_video(c_build, frames, stamps)
    compare(c_frames, python_video(frames, stamps, skin=False))
    ids = [[f["track_id"] for f in c["faces"]] for c in c_frames]
    lost = next(i for i, frame_ids in enumerate(ids) if frame_ids != [0])
    assert 3 < lost < 14 and c_frames[lost]["detections"] >= 1, (ids, lost)
    empty = [i for i, frame_ids in enumerate(ids) if not frame_ids]
    assert empty and all(c_frames[i]["detections"] == 1 for i in empty), "no track: the detector runs every frame"
    assert ids[-1] == [summary["tracks_started"] - 1] and summary["tracks_started"] >= 2, ids


def test_two_faces_keep_their_own_tracks(c_build, shared_data, tmp_path):
    """Two HELEN faces side by side, moving in their own halves of the frame."""
    half = (FRAME_SIZE[0] // 2, FRAME_SIZE[1])
    left = clip(*helen_photo(shared_data, 3), "translation", n_frames=24, size=half, face_width=120)
    right = clip(*helen_photo(shared_data, 7), "zoom", n_frames=24, size=half, face_width=120)
    frames = write_frames(tmp_path, [np.hstack([l.image, r.image]) for l, r in zip(left, right)])
    stamps = [round(i * 1000 / 30) for i in range(len(frames))]
    c_frames, summary = c_video(c_build, frames, stamps, "--detect-every", "10")
    worst = compare(c_frames, python_video(frames, stamps, skin=False, detect_every_n_frames=10))
    assert all(len(c["faces"]) == 2 for c in c_frames) and summary["tracks_started"] == 2
    print(f"\nC vs Python VIDEO mode, two faces, {len(frames)} frames: {worst}")


def test_a_timestamp_that_does_not_increase_is_a_user_error_naming_both(c_build, moving_face):
    frames, _ = moving_face
    p = subprocess.run([str(c_build.runner), str(shipped_bundles_dir()), "--analyze", "--video", *map(str, frames[:3]),
                        "--timestamps", "0,40,40"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert "frame 2" in p.stderr and "timestamp_ms 40: must be greater than the previous frame's 40" in p.stderr


def test_a_scene_cut_ends_the_track_on_the_same_frame_in_both(c_build, shared_data, tmp_path):
    """A still face, a cut to another photo's face at the same place (the old track's
    points would still fit their crop: only its appearance changed), then a grey frame:
    in both, track 0 ends on the cut, track 1 starts there and ends on the grey frame."""
    first = [f.image for f in clip(*helen_photo(shared_data, 3), "still", n_frames=4, noise_sigma=2.0)]
    other = [f.image for f in clip(*helen_photo(shared_data, 7), "still", n_frames=3, noise_sigma=2.0)]
    frames = write_frames(tmp_path, first + other + [np.full_like(first[0], 127)] * 2)
    stamps = [round(i * 1000 / 30) for i in range(len(frames))]
    c_frames, summary = c_video(c_build, frames, stamps)
    compare(c_frames, python_video(frames, stamps, skin=False))
    assert [[f["track_id"] for f in c["faces"]] for c in c_frames] == [[0]] * 4 + [[1]] * 3 + [[]] * 2
    assert [c["detections"] for c in c_frames] == [1, 0, 0, 0, 1, 0, 0, 1, 1]
