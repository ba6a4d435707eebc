"""Face tracking in VIDEO and LIVE_STREAM mode (docs/video.md): the tracker's rules on a
scripted scene (facelite.tracking, no model), then FaceAnalyzer on clips made from a
real HELEN photo shifted with cv2.warpAffine, with the shipped detector and landmarker."""

import threading

import cv2
import numpy as np
import pytest
from facelite import BaseOptions, FaceAnalyzer, FaceAnalyzerOptions, UserError
from facelite.datasets import extent_box, read_pts
from facelite.detection import Box
from facelite.tracking import TRACK_APPEARANCE_CHANGE, FaceTracker, Track, appearance_change, box_iou, match

CPU = BaseOptions(accelerator="cpu")
PHOTO = "landmarks300w/helen_train/100032540_1.jpg"
OTHER_PHOTO = "landmarks300w/helen_train/100040721_1.jpg"
SIDE = 400
"""Longer side the photo is resized to (its eyes are then about 63 px apart)."""


# -- the tracker's rules, on a scripted scene -----------------------------------------------


def face_at(x: float, y: float, size: float = 100.0) -> np.ndarray:
    """68 points filling a size×size square at (x, y): its extent is that square."""
    grid = np.linspace(0.0, 1.0, 17)
    unit = np.concatenate([np.stack([grid, np.zeros(17)], 1), np.stack([grid, np.ones(17)], 1),
                           np.stack([np.zeros(17), grid], 1), np.stack([np.ones(17), grid], 1)])
    return unit * size + [x, y]


class Scene:
    """Faces on the current frame; a detector and a landmarker that see them."""

    def __init__(self):
        self.faces: list[tuple[np.ndarray, float]] = []    # (points, detection score)
        self.look: np.ndarray | None = None                # every crop's appearance thumbnail
        self.detect_calls = 0
        self.landmark_crops: list[tuple] = []

    def detect(self, image):
        self.detect_calls += 1
        found = []
        for points, score in sorted(self.faces, key=lambda f: -f[1]):
            x, y, w, h = extent_box(points)
            found.append((Box(x - 0.1 * w, y - 0.1 * h, 1.2 * w, 1.2 * h, score), (x, y, w, h)))
        return found

    def landmarks(self, image, extents):
        """The face overlapping the crop most; a tiny blob in the crop's corner when none does."""
        self.landmark_crops.extend(extents)
        out = []
        for crop in extents:
            overlaps = [(Track(0, 0.0, p, crop).extent, p) for p, _ in self.faces]
            best = max(overlaps, key=lambda o: box_iou(o[0], crop), default=None)
            points = best[1] if best is not None and box_iou(best[0], crop) > 0 else face_at(crop[0], crop[1], 2.0)
            out.append((points, self.look))
        return out


IMAGE = np.zeros((480, 640, 3), np.uint8)


def _tracker(scene: Scene, every: int = 10, max_faces: int = 10) -> FaceTracker:
    return FaceTracker(scene.detect, scene.landmarks, detect_every_n_frames=every, max_faces=max_faces)


def test_a_track_keeps_its_id_across_frames_of_a_moving_face():
    scene, ids = Scene(), []
    tracker = _tracker(scene, every=10)
    for i in range(30):
        scene.faces = [(face_at(100 + 6 * i, 80 + 3 * i), 0.9)]
        ids.append([t.id for t in tracker.step(IMAGE)])
    assert ids == [[0]] * 30
    assert scene.detect_calls == 3                              # frames 0, 10 and 20 only
    assert np.array_equal(tracker.tracks[0].points, face_at(100 + 6 * 29, 80 + 3 * 29))


def test_a_matched_track_keeps_its_own_crop_rather_than_the_detection_box():
    scene = Scene()
    tracker = _tracker(scene, every=2)
    for i in range(3):
        scene.faces = [(face_at(100 + 5 * i, 100), 0.9)]
        tracker.step(IMAGE)
    assert scene.landmark_crops[-1] == extent_box(face_at(105, 100))   # last frame's points, not a detection


def test_a_new_face_gets_a_new_id_when_the_detector_next_runs():
    scene, ids = Scene(), []
    tracker = _tracker(scene, every=5)
    for i in range(12):
        scene.faces = [(face_at(50, 50), 0.9)] + ([(face_at(400, 200), 0.8)] if i >= 2 else [])
        ids.append([t.id for t in tracker.step(IMAGE)])
    assert ids == [[0]] * 5 + [[0, 1]] * 7                       # seen at frame 5, the next detection
    assert [t.frames_tracked for t in tracker.tracks] == [11, 6]


def test_detection_runs_only_every_n_frames():
    scene, ran = Scene(), []
    tracker = _tracker(scene, every=4)
    scene.faces = [(face_at(200, 150), 0.9)]
    for _ in range(13):
        before = scene.detect_calls
        tracker.step(IMAGE)
        ran.append(scene.detect_calls - before)
    assert ran == [1, 0, 0, 0] * 3 + [1]


def test_a_lost_track_triggers_detection_on_the_same_frame():
    scene, steps = Scene(), []
    tracker = _tracker(scene, every=10)
    for i in range(6):
        scene.faces = [(face_at(100, 100) if i < 3 else face_at(450, 300), 0.9)]   # jumps at frame 3
        steps.append(([(t.id, t.started) for t in tracker.step(IMAGE)], scene.detect_calls))
    assert steps == [([(0, True)], 1), ([(0, False)], 1), ([(0, False)], 1),
                     ([(1, True)], 2),                          # lost, detected again on the same frame
                     ([(1, False)], 2), ([(1, False)], 2)]       # the schedule restarts from frame 3


def test_a_face_that_leaves_ends_its_track_and_detection_runs_until_one_returns():
    scene, steps = Scene(), []
    tracker = _tracker(scene, every=10)
    for i in range(5):
        scene.faces = [(face_at(100, 100), 0.9)] if i in (0, 4) else []
        steps.append(([t.id for t in tracker.step(IMAGE)], scene.detect_calls))
    assert steps == [([0], 1), ([], 2), ([], 3), ([], 4), ([1], 5)]


def test_a_changed_appearance_ends_the_track_though_its_points_stay():
    """The landmarker still finds the face (a ghost), but the face's picture changed: lost,
    detected again on that frame, a new track."""
    scene, steps = Scene(), []
    tracker = _tracker(scene, every=10)
    looks = np.random.default_rng(0).integers(0, 8000, (2, 100))
    for i in range(6):
        scene.faces = [(face_at(100, 100), 0.9)]
        scene.look = looks[0 if i < 3 else 1]                           # a cut at frame 3
        steps.append(([(t.id, t.started) for t in tracker.step(IMAGE)], scene.detect_calls))
    assert steps == [([(0, True)], 1), ([(0, False)], 1), ([(0, False)], 1),
                     ([(1, True)], 2), ([(1, False)], 2), ([(1, False)], 2)]


def test_appearance_change_ignores_brightness_and_contrast_but_not_a_new_picture():
    rng = np.random.default_rng(1)
    face, other = rng.integers(0, 30000, 100), rng.integers(0, 30000, 100)
    assert appearance_change(face, face // 2 + 700) < 1e-4
    assert appearance_change(face, other) > 0.5
    assert appearance_change(face, np.full(100, 9000)) == 1.0            # a blank frame


def test_at_most_max_faces_tracks_best_score_first():
    scene = Scene()
    tracker = _tracker(scene, max_faces=2)
    scene.faces = [(face_at(10, 10), 0.6), (face_at(200, 10), 0.95), (face_at(400, 10), 0.8)]
    tracks = tracker.step(IMAGE)
    assert [(t.id, t.score) for t in tracks] == [(0, 0.95), (1, 0.8)]


def test_matching_takes_the_highest_overlap_first():
    tracks = [Track(0, 0.9, face_at(0, 0), (0, 0, 100, 100)), Track(1, 0.9, face_at(60, 0), (60, 0, 100, 100))]
    detections = [(50.0, 0.0, 100.0, 100.0), (0.0, 0.0, 100.0, 100.0), (500.0, 0.0, 100.0, 100.0)]
    assert match(tracks, detections) == ([(0, 1), (1, 0)], [2], [])


# -- FaceAnalyzer in VIDEO and LIVE_STREAM mode, on a real photo ------------------------------


@pytest.fixture(scope="module")
def photo(shared_data):
    path = shared_data / PHOTO
    if not path.is_file():
        pytest.skip(f"no {path} (set FACELITE_DATA)")
    image = cv2.imread(str(path))
    scale = SIDE / max(image.shape[:2])
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), \
        read_pts(path.with_suffix(".pts")) * scale


def clip(photo, frames: int, step=(0.0, 0.0), noise: float = 3.0, seed: int = 0):
    """(frames, true points): the photo shifted by `step` px a frame, with Gaussian sensor noise."""
    image, truth = photo
    rng = np.random.default_rng(seed)
    out = []
    for i in range(frames):
        shift = np.float32([[1, 0, step[0] * i], [0, 1, step[1] * i]])
        frame = cv2.warpAffine(image, shift, image.shape[1::-1], borderMode=cv2.BORDER_REFLECT)
        out.append((np.clip(frame + rng.normal(0.0, noise, frame.shape), 0, 255).astype(np.uint8),
                    truth + [step[0] * i, step[1] * i]))
    return out


@pytest.fixture(scope="module")
def other_photo(shared_data, photo):
    """Another HELEN face, stretched to the first photo's size: a scene cut."""
    path = shared_data / OTHER_PHOTO
    if not path.is_file():
        pytest.skip(f"no {path} (set FACELITE_DATA)")
    return cv2.resize(cv2.imread(str(path)), photo[0].shape[1::-1], interpolation=cv2.INTER_AREA)


def _video(bundles, **kw):
    return FaceAnalyzer.create_from_options(FaceAnalyzerOptions(
        base_options=CPU, bundles_dir=bundles, running_mode=kw.pop("running_mode", "video"), **kw))


@pytest.fixture(scope="module")
def video_analyzer(shipped_bundles_dir):
    with _video(shipped_bundles_dir, skin=False) as analyzer:
        yield analyzer


def _run(analyzer, frames, start_ms: int = 0):
    analyzer.reset()
    return [analyzer.analyze_video_frame(f, start_ms + 33 * i) for i, (f, _) in enumerate(frames)]


def _jitter(results) -> float:
    points = np.array([r.faces[0].landmarks for r in results], np.float64)
    return float(np.linalg.norm(np.diff(points, axis=0), axis=2).mean())


def test_a_still_face_gives_still_points(video_analyzer, shipped_bundles_dir, photo):
    frames = clip(photo, 20)
    with _video(shipped_bundles_dir, skin=False, smoothing=False) as raw_analyzer:
        raw = _run(raw_analyzer, frames)
    smoothed = _run(video_analyzer, frames)
    assert _jitter(raw) >= 3.0 * _jitter(smoothed)             # measured 4.5–5.4× on four photos
    assert _jitter(smoothed) < 0.5                              # pixels a frame, eyes 63 px apart


def test_a_moving_face_keeps_its_track_id_and_the_points_follow_it(video_analyzer, photo):
    frames = clip(photo, 20, step=(3.0, 1.5))
    results = _run(video_analyzer, frames)
    assert [[f.track_id for f in r.faces] for r in results] == [[0]] * 20
    nme = [np.linalg.norm(r.faces[0].landmarks - t, axis=1).mean() / np.linalg.norm(t[36] - t[45])
           for r, (_, t) in zip(results, frames)]
    assert max(nme) < 0.1
    face = results[-1].faces[0]
    assert face.box.xywh == pytest.approx(extent_box(face.landmarks)) and face.box.score > 0.5
    assert results[-1].timestamp_ms == 33 * 19 and set(face.regions) and face.expression is not None


def test_detection_runs_only_every_n_frames_on_a_real_clip(shipped_bundles_dir, photo, monkeypatch):
    with _video(shipped_bundles_dir, skin=False, detect_every_n_frames=5) as analyzer:
        calls = []
        detect = analyzer.detector.detect
        monkeypatch.setattr(analyzer.detector, "detect", lambda image: calls.append(1) or detect(image))
        ran = []
        for i, (frame, _) in enumerate(clip(photo, 12, step=(2.0, 0.0))):
            before = len(calls)
            analyzer.analyze_video_frame(frame, 40 * i)
            ran.append(len(calls) - before)
    assert ran == [1, 0, 0, 0, 0] * 2 + [1, 0]


def test_skin_runs_every_skin_every_n_frames(shipped_bundles_dir, photo, monkeypatch):
    with _video(shipped_bundles_dir, skin_every_n_frames=3, expression_every_n_frames=2) as analyzer:
        skin_runs, expression_runs = [], []
        analyze_faces, classify = analyzer.skin.analyze_faces, analyzer.expression.classify_batch
        monkeypatch.setattr(analyzer.skin, "analyze_faces",
                            lambda *a: skin_runs.append(len(a[1])) or analyze_faces(*a))
        monkeypatch.setattr(analyzer.expression, "classify_batch",
                            lambda crops: expression_runs.append(len(crops)) or classify(crops))
        results = _run(analyzer, clip(photo, 7))
    assert len(skin_runs) == 3 and len(expression_runs) == 4     # frames 0, 3, 6 and 0, 2, 4, 6
    skins = [r.faces[0].skin for r in results]
    assert skins[0] is skins[1] is skins[2] and skins[3] is not skins[0] and skins[3] is skins[5]
    assert all("skin_measures" in r.timings_ms for r in results[::3])
    assert "skin_measures" not in results[1].timings_ms


def test_timestamps_must_increase(video_analyzer, photo):
    frame = clip(photo, 1)[0][0]
    video_analyzer.reset()
    video_analyzer.analyze_video_frame(frame, 100)
    for bad in (100, 99):
        with pytest.raises(UserError, match=f"timestamp_ms {bad}: must be greater than the previous frame's 100"):
            video_analyzer.analyze_video_frame(frame, bad)
    with pytest.raises(UserError, match="whole number of milliseconds"):
        video_analyzer.analyze_video_frame(frame, 200.5)
    video_analyzer.reset()                                          # a new clip starts anywhere
    assert video_analyzer.analyze_video_frame(frame, 0).faces[0].track_id == 0


@pytest.mark.parametrize("mode, call, message", [
    ("image", "analyze_video_frame", "runs in IMAGE mode .* analyze\\(image\\)"),
    ("video", "analyze", "runs in VIDEO mode .* analyze_video_frame\\(frame, timestamp_ms\\)"),
    ("video", "analyze_async", "runs in VIDEO mode"),
    ("live_stream", "analyze_video_frame", "runs in LIVE_STREAM mode .* analyze_async"),
    ("live_stream", "analyze", "runs in LIVE_STREAM mode"),
])
def test_the_wrong_call_for_the_mode_is_a_user_error(shipped_bundles_dir, photo, mode, call, message):
    callback = {"result_callback": lambda *a: None} if mode == "live_stream" else {}
    with _video(shipped_bundles_dir, skin=False, running_mode=mode, **callback) as analyzer:
        args = (photo[0],) if call == "analyze" else (photo[0], 0)
        with pytest.raises(UserError, match=message):
            getattr(analyzer, call)(*args)


def test_video_options_are_checked_when_made():
    with pytest.raises(UserError, match="LIVE_STREAM needs a result_callback"):
        FaceAnalyzerOptions(running_mode="live_stream")
    with pytest.raises(UserError, match="result_callback is for running_mode LIVE_STREAM only"):
        FaceAnalyzerOptions(running_mode="video", result_callback=print)
    with pytest.raises(UserError, match="skin_every_n_frames 0: must be a whole number >= 1"):
        FaceAnalyzerOptions(skin_every_n_frames=0)


def test_live_stream_results_reach_the_callback_in_order(shipped_bundles_dir, photo):
    results, threads = [], set()

    def callback(result, frame, timestamp_ms):
        threads.add(threading.current_thread().name)
        results.append((timestamp_ms, result, frame.shape))

    frames = clip(photo, 8, step=(2.0, 1.0))
    with _video(shipped_bundles_dir, skin=False, running_mode="live_stream", result_callback=callback) as analyzer:
        for i, (frame, _) in enumerate(frames):
            analyzer.analyze_async(frame, 33 * i)
        with pytest.raises(UserError, match="must be greater than the previous frame's 231"):
            analyzer.analyze_async(frames[0][0], 231)
        analyzer.close()                                    # the pending frame is analysed first
        dropped = analyzer.dropped_frames
    stamps = [t for t, _, _ in results]
    assert stamps == sorted(stamps) and stamps[-1] == 231 and len(stamps) + dropped == 8
    assert all(r.timestamp_ms == t and [f.track_id for f in r.faces] == [0] for t, r, _ in results)
    assert threading.current_thread().name not in threads


def test_analyze_video_in_video_mode_tracks_the_file_frames(video_analyzer, photo, tmp_path):
    path = tmp_path / "clip.avi"
    frames = clip(photo, 6, step=(2.0, 0.0))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, frames[0][0].shape[1::-1])
    for frame, _ in frames:
        writer.write(frame)
    writer.release()
    runs = list(video_analyzer.analyze_video(path, every=2))
    assert [(f.index, r.timestamp_ms) for f, r in runs] == [(0, 0), (2, 200), (4, 400)]
    assert [[face.track_id for face in r.faces] for _, r in runs] == [[0]] * 3
    doc = runs[0][1].to_json()
    assert doc["timestamp_ms"] == 0 and doc["faces"][0]["track_id"] == 0


def test_an_image_result_names_no_track_or_timestamp(shipped_bundles_dir, photo):
    with _video(shipped_bundles_dir, skin=False, running_mode="image") as analyzer:
        result = analyzer.analyze(photo[0])
    assert result.timestamp_ms is None and result.faces[0].track_id is None
    doc = result.to_json()
    assert "timestamp_ms" not in doc and "track_id" not in doc["faces"][0]


# -- the appearance check: what ends a track though the landmarker still returns a face -------


def _track_ids(analyzer, frames):
    analyzer.reset()
    before = analyzer._tracker.detections_run
    ids = []
    for i, frame in enumerate(frames):
        ids.append([f.track_id for f in analyzer.analyze_video_frame(frame, 33 * i).faces])
    return ids, analyzer._tracker.detections_run - before


def _still(photo, n: int = 4) -> list[np.ndarray]:
    return [f for f, _ in clip(photo, n, noise=2.0)]


def test_a_scene_cut_ends_the_track_on_the_frame_it_happens(video_analyzer, photo, other_photo):
    ids, detections = _track_ids(video_analyzer, _still(photo) + [other_photo] * 3)
    assert ids == [[0]] * 4 + [[1]] * 3 and detections == 2          # detected again on the cut frame


def test_a_cut_to_a_blank_frame_ends_the_track(video_analyzer, photo):
    ids, detections = _track_ids(video_analyzer, _still(photo) + [np.full_like(photo[0], 127)] * 2)
    assert ids == [[0]] * 4 + [[]] * 2 and detections == 3            # no track: the detector runs each frame


def test_a_hand_over_most_of_the_face_ends_the_track(video_analyzer, photo):
    frames = _still(photo)
    x, y, w, h = extent_box(photo[1])
    hand = frames[-1].copy()
    hand[int(y + 0.15 * h):int(y + 0.85 * h), int(x + 0.15 * w):int(x + 0.85 * w)] = (120, 160, 215)  # skin, BGR
    ids, _ = _track_ids(video_analyzer, frames + [hand])
    assert ids[:4] == [[0]] * 4 and 0 not in ids[4]


def test_a_brightness_ramp_keeps_the_track(video_analyzer, photo):
    """Light falling to 40% and back, faster than benchmarks/synthetic_clips' ramp (6% a frame)."""
    gains = np.concatenate([np.linspace(1.0, 0.4, 10), np.linspace(0.4, 1.0, 10)[1:]])
    frames = [np.clip(np.rint(f * g), 0, 255).astype(np.uint8) for f, g in zip(_still(photo, len(gains)), gains)]
    ids, detections = _track_ids(video_analyzer, frames)
    assert ids == [[0]] * len(frames) and detections == 2                 # frames 0 and 15 only
    assert video_analyzer._tracker.tracks[0].appearance_change < TRACK_APPEARANCE_CHANGE / 2
