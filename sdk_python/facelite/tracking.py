"""Face tracking between video frames: which faces are the same face, and where to look.

In VIDEO and LIVE_STREAM mode (`FaceAnalyzer.analyze_video_frame`, `analyze_async`) a
face found once is followed from frame to frame: the next frame's landmark crop is the
extent of the previous frame's points, so the detector runs only to find new faces
(every `detect_every_n_frames`) or when a track is lost. `FaceTracker` is that state
machine, step for step as docs/video.md says (the C core's `tracking.c` follows the same
rules, so one clip gives the same track ids in both). It is driven by two callables, so
it runs and is tested without any model:

- `detect(image) -> [(Box, extent)]`: the face detections of a frame, best first, each
  with the landmark extent box it converts to (`FaceDetector.to_extent`);
- `landmarks(image, extents) -> [((68, 2) points, thumbnail)]`: the landmarker on every
  extent, in one batch, with each crop's `appearance` thumbnail (made from the pixels the
  model already got, so no extra resize), or None where there is no crop (the mean-shape
  stand-in): then only the geometric loss check applies.

A track is lost (and the detector runs on that frame) when its new points leave the crop
they were found in, leave the image, or when the crop's appearance changed too much since
the previous frame (`appearance_change` above `TRACK_APPEARANCE_CHANGE`): a landmarker
returns a face-shaped set of points wherever it looks, so only the pixels tell a scene
cut, a blank frame or a hand over the face from the face itself.

Every box is float64 (x, y, w, h); matching is greedy in a fixed order, so the result
does not depend on anything but the inputs.

Example (a fake detector and a landmarker that finds a fixed face wherever it looks):

    >>> import numpy as np
    >>> from facelite.detection import Box
    >>> from facelite.tracking import FaceTracker
    >>> face = np.array([[x, y] for x in (100.0, 200.0) for y in (100.0, 200.0)] * 17)
    >>> tracker = FaceTracker(lambda img: [(Box(90, 90, 120, 120, 0.9), (100.0, 100.0, 100.0, 100.0))],
    ...                       lambda img, extents: [(face, None) for _ in extents], detect_every_n_frames=15)
    >>> image = np.zeros((300, 300, 3), np.uint8)
    >>> [(t.id, t.started) for t in tracker.step(image)], tracker.detections_run
    ([(0, True)], 1)
    >>> [(t.id, t.started) for t in tracker.step(image)], tracker.detections_run   # tracked, no detection
    ([(0, False)], 1)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .datasets import extent_box
from .detection import Box
from .metrics import iou

TRACK_MATCH_IOU = 0.3
"""A detection continues a track when the IoU of the detection's landmark extent and the
track's extent (of its last raw points) is at least this."""
TRACK_KEEP_IOU = 0.5
"""A track is lost when the IoU of the crop it was landmarked in and the extent of the
points found there is below this: the points did not stay on the face they came from."""
MIN_INSIDE_FRACTION = 0.5
"""A track is lost when less than this fraction of its new points' extent lies inside the image."""
APPEARANCE_SIDE = 16
"""Cells per side of a crop's appearance thumbnail (`appearance`)."""
TRACK_APPEARANCE_CHANGE = 0.5
"""A track is lost when `appearance_change` from its previous frame's crop to this frame's
is above this. Chosen from measurements (TRACKCHECK, 5 HELEN photos on the 640x480
`benchmarks/synthetic_clips` clips, the shipped landmarker, noise sd 0 and 3): between
consecutive frames of a tracked face the change stayed at most 0.16 on translation, zoom,
rotation and the brightness ramp, and 0.08 on still faces with sensor noise; a cut to
another photo gave at least 0.68, a cut to a blank grey frame 1.0 (always, by the
formula), and a skin-coloured rectangle over 70% of the face's extent at least 0.61.
0.5 sits between, about 3x above the largest change of a tracked face."""

Extent = tuple[float, float, float, float]
Detect = Callable[[np.ndarray], Sequence[tuple[Box, Extent]]]
Landmarks = Callable[[np.ndarray, list[Extent]], Sequence[tuple[np.ndarray, "np.ndarray | None"]]]


@dataclass
class Track:
    """One followed face.

    Attributes:
        id: the track id, from 0 in the order tracks start within a clip.
        score: the score of the detection that started or last matched the track.
        points: the last raw (unsmoothed) 68 points, float64 image pixels.
        crop: the extent box this frame's points were found in (float64 x, y, w, h).
        started: True on the frame the track started (its points came from a detection).
        frames_tracked: frames the track has been reported on before this one (0 on its
            first frame); the analyzer's expression and skin schedules count these.
        crop_frame: the frame index `points` were found on.
        appearance: the `appearance` thumbnail of the crop `points` were found in (None
            when the landmarker gives none).
        appearance_change: `appearance_change` from the previous frame's thumbnail to
            this one's (0.0 on the track's first frame or without thumbnails).
        state: what the analyzer keeps per track (smoothers, the last expression and
            skin results), untouched here.
    """

    id: int
    score: float
    points: np.ndarray
    crop: Extent
    started: bool = True
    frames_tracked: int = 0
    crop_frame: int = -1
    appearance: np.ndarray | None = None
    appearance_change: float = 0.0
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def extent(self) -> Extent:
        """The extent box of the last raw points (margin 0): next frame's landmark crop."""
        return points_extent(self.points)


def points_extent(points: np.ndarray) -> Extent:
    """The (x, y, w, h) extent of (68, 2) points, float64."""
    return extent_box(np.asarray(points, np.float64))


def box_iou(a: Extent, b: Extent) -> float:
    """IoU of two (x, y, w, h) boxes (`metrics.iou`, float64)."""
    return iou(Box(*a), Box(*b))


def inside_fraction(box: Extent, width: int, height: int) -> float:
    """The fraction of the box's area inside a width×height image (0 for an empty box)."""
    x, y, w, h = box
    if not w > 0.0 or not h > 0.0:
        return 0.0
    clipped = Box(x, y, w, h).clipped(width, height)
    return (clipped.w * clipped.h) / (w * h)


def is_lost(crop: Extent, points: np.ndarray, image_size: tuple[int, int]) -> bool:
    """True when points found in `crop` no longer describe a face in it: their extent's
    IoU with the crop is below `TRACK_KEEP_IOU`, or less than `MIN_INSIDE_FRACTION` of
    their extent lies inside the image."""
    found = points_extent(points)
    return box_iou(crop, found) < TRACK_KEEP_IOU or inside_fraction(found, *image_size) < MIN_INSIDE_FRACTION


def appearance(pixels: np.ndarray) -> np.ndarray | None:
    """A crop's appearance thumbnail: the landmarker's (H, W, C) uint8 model input →
    (APPEARANCE_SIDE²,) int64, each cell the sum of every channel's pixels in its block,
    or None for an input smaller than APPEARANCE_SIDE a side.

    Blocks are all (H // 16) x (W // 16) pixels, the i-th starting at row i * H // 16 (a
    112x112 input is tiled exactly by 7x7 blocks). Sums over channels make it a greyscale
    picture in any channel order, and integer sums make it exact, so the C core
    (`fl_track_appearance`) gives the same numbers.

        >>> import numpy as np
        >>> appearance(np.full((112, 112, 3), 2, np.uint8))[:3]
        array([294, 294, 294])
    """
    h, w = pixels.shape[:2]
    n = APPEARANCE_SIDE
    if h < n or w < n:
        return None
    bh, bw = h // n, w // n
    rows = (np.arange(n) * h // n)[:, None] + np.arange(bh)
    cols = (np.arange(n) * w // n)[:, None] + np.arange(bw)
    blocks = np.asarray(pixels, np.int64).reshape(h, w, -1)[rows[:, :, None, None], cols[None, None, :, :]]
    return blocks.sum(axis=(1, 3, 4)).reshape(-1)


def appearance_change(previous: np.ndarray, current: np.ndarray) -> float:
    """How much a crop's look changed between two `appearance` thumbnails: the mean absolute
    difference of the two after removing each one's mean, divided by the previous one's
    mean absolute deviation.

    Why this form: removing the means ignores a brightness change of the whole crop;
    dividing by the previous spread makes the number independent of contrast (a dim face
    changes as much as a bright one). A blank frame after a face gives exactly 1.0, a
    face after a blank frame a large number, small moves of a tracked face about 0.1. In
    integers (cells scaled by the cell count, so the means are exact) and one final
    float64 division, so C gives the same float.

        >>> import numpy as np
        >>> face = np.arange(256, dtype=np.int64)
        >>> appearance_change(face, face + 40), appearance_change(face, np.zeros(256, np.int64))
        (0.0, 1.0)
    """
    n = len(previous)
    before = n * np.asarray(previous, np.int64) - int(np.sum(previous))
    after = n * np.asarray(current, np.int64) - int(np.sum(current))
    return int(np.abs(after - before).sum()) / max(int(np.abs(before).sum()), 1)


def match(tracks: Sequence[Track], extents: Sequence[Extent]) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Greedy IoU matching of tracks (by their `extent`) to detection extents.

    Repeatedly takes the (track, detection) pair of highest IoU ≥ `TRACK_MATCH_IOU`
    (ties: the earlier track in `tracks`, then the earlier detection) and removes both.
    Returns ([(track index, detection index)] in the order matched, the unmatched
    detection indices ascending, the unmatched track indices ascending).
    """
    track_extents = [t.extent for t in tracks]
    scores = [[box_iou(te, de) for de in extents] for te in track_extents]
    free_tracks, free_dets = list(range(len(tracks))), list(range(len(extents)))
    pairs = []
    while True:
        best, pair = TRACK_MATCH_IOU, None
        for i in free_tracks:
            for j in free_dets:
                if scores[i][j] >= best and (pair is None or scores[i][j] > best):
                    best, pair = scores[i][j], (i, j)
        if pair is None:
            return pairs, free_dets, free_tracks
        pairs.append(pair)
        free_tracks.remove(pair[0])
        free_dets.remove(pair[1])


class FaceTracker:
    """The tracks of one clip, advanced one frame at a time by `step` (docs/video.md).

    Attributes:
        tracks: the live tracks, ascending id, after the last `step`.
        frame: the number of frames stepped (the next frame's index).
        detections_run: how many times `detect` ran (for tests and benchmarks).
    """

    def __init__(self, detect: Detect, landmarks: Landmarks, detect_every_n_frames: int = 15, max_faces: int = 10):
        self._detect = detect
        self._landmarks = landmarks
        self.detect_every_n_frames = detect_every_n_frames
        self.max_faces = max_faces
        self.reset()

    def reset(self) -> None:
        """Start a new clip: no tracks, ids from 0, detection on the next frame."""
        self.tracks: list[Track] = []
        self.frame = 0
        self.detections_run = 0
        self._next_id = 0
        self._last_detection: int | None = None
        self._holder: dict[int, int] = {}   # detection index on this frame → the track id holding it

    def step(self, image: np.ndarray) -> list[Track]:
        """Advance by one frame: the tracks on it, ascending id, each with this frame's raw
        points in `points`, the crop they were found in, and `started`."""
        n = self.frame
        size = (image.shape[1], image.shape[0])
        for track in self.tracks:
            track.frames_tracked += 1
            track.started = False
        detections: list[tuple[Box, Extent]] | None = None
        claimed: set[int] = set()          # detections of this frame held by a track
        if not self.tracks or n - self._last_detection >= self.detect_every_n_frames:
            detections = self._run_detection(image, n)
            claimed = self._apply_detections(detections)
        self._find_points(image)
        lost = {t.id for t in self.tracks if not t.started and (
            is_lost(t.crop, t.points, size) or t.appearance_change > TRACK_APPEARANCE_CHANGE)}
        if lost:
            self.tracks = [t for t in self.tracks if t.id not in lost]
            if detections is None:
                detections = self._run_detection(image, n)
                claimed = self._apply_detections(detections)
            else:   # the detections of lost tracks are free again
                claimed = {j for j in claimed if self._holder.get(j) not in lost}
                self._start_tracks(detections, claimed)
            self._find_points(image)
        self.frame += 1
        return list(self.tracks)

    def _run_detection(self, image: np.ndarray, n: int) -> list[tuple[Box, Extent]]:
        self.detections_run += 1
        self._last_detection = n
        return [(box, tuple(float(v) for v in extent)) for box, extent in self._detect(image)]

    def _apply_detections(self, detections: list[tuple[Box, Extent]]) -> set[int]:
        """Step 2: matched tracks keep their id (and their own crop) and take the
        detection's score; unmatched tracks are dropped; unmatched detections start tracks.
        Returns the indices of the detections now held by a track."""
        pairs, _, _ = match(self.tracks, [e for _, e in detections])
        self._holder = {}
        kept = []
        for i, j in pairs:
            track = self.tracks[i]
            track.score = float(detections[j][0].score)
            self._holder[j] = track.id
            kept.append(track)
        self.tracks = sorted(kept, key=lambda t: t.id)
        claimed = set(self._holder)
        self._start_tracks(detections, claimed)
        return claimed

    def _start_tracks(self, detections: list[tuple[Box, Extent]], claimed: set[int]) -> None:
        """New tracks from the detections not in `claimed`, best score first (ties: detector
        order), while fewer than max_faces tracks are live; each starts on its detection's
        extent, its points found by the next `_find_points`."""
        free = sorted((j for j in range(len(detections)) if j not in claimed), key=lambda j: -detections[j][0].score)
        for j in free[:max(0, self.max_faces - len(self.tracks))]:
            box, extent = detections[j]
            self.tracks.append(Track(self._next_id, float(box.score), np.zeros((68, 2)), extent))
            self._holder[j] = self._next_id
            claimed.add(j)
            self._next_id += 1

    def _find_points(self, image: np.ndarray) -> None:
        """Step 3: landmarks for every track that has no points on this frame yet, in one
        batch: a new track in its detection's extent, an older one in its last points'
        extent; with each crop's appearance thumbnail and its change since the last frame."""
        todo = [t for t in self.tracks if t.crop_frame != self.frame]
        if not todo:
            return
        for t in todo:
            if not t.started:
                t.crop = t.extent
            t.crop_frame = self.frame
        found = self._landmarks(image, [t.crop for t in todo])
        for track, (points, thumbnail) in zip(todo, found):
            track.points = np.asarray(points, np.float64).reshape(68, 2)
            known = not track.started and track.appearance is not None and thumbnail is not None
            track.appearance_change = appearance_change(track.appearance, thumbnail) if known else 0.0
            track.appearance = thumbnail
