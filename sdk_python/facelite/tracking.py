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
  extent, in one batch, with the `appearance` thumbnail of the face at those points
  (made from the pixels the model already got, so no extra resize), or None where there
  is none (the mean-shape stand-in): then only the geometric loss checks apply.

A track is lost (and the detector runs on that frame) when its new points leave the crop
they were found in, leave the image, or when the face's appearance changed too much since
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

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .datasets import extent_box
from .detection import Box
from .metrics import iou
from .options import DEFAULT_MAX_FACES

TRACK_MATCH_IOU = 0.3
"""A detection continues a track when the IoU of the detection's landmark extent and the
track's extent (of its last raw points) is at least this."""
TRACK_KEEP_IOU = 0.5
"""A track is lost when the IoU of the crop it was landmarked in and the extent of the
points found there is below this: the points did not stay on the face they came from."""
MIN_INSIDE_FRACTION = 0.5
"""A track is lost when less than this fraction of its new points' extent lies inside the image."""
APPEARANCE_CELLS = 10
"""Blocks per side of a face's appearance thumbnail (`appearance`)."""
TRACK_APPEARANCE_CHANGE = 0.2
"""A track is lost when `appearance_change` from its previous frame's thumbnail to this
frame's is above this (a scene cut, a blank frame, a hand over the face: the landmarker
would still return a face there).

Chosen from measurements (2026-11-30, the Python tracker): the first 6 HELEN photos on
`benchmarks/synthetic_clips` clips (640x480, face 200 px wide, 60 frames, the shipped
landmarker), noise sd 0 and 3. Between consecutive frames of a tracked face the change
was at most 0.049 on translation, 0.024 on zoom, 0.061 on rotation, 0.035 on the
brightness ramp and 0.031 on still faces with sensor noise (sd 3; 99th percentiles
0.014-0.044); a still face starting to slide sideways at once changed at most 0.079 at
20 px a frame, 0.14 at 30 px and 0.16-0.29 at 40 px (a fifth of its width in 1/30 s).
Events after 5 still frames: a cut to another photo's face at the same place gave
0.37-1.12, a cut to a grey frame 1.0 (always), a skin-coloured rectangle over the middle
70% x 70% of the face's extent 0.24-0.92 (90% x 90%: 0.63-1.0; 50% x 50%: 0.09-0.49,
not always caught). 0.2 is over 3x the largest change of a tracked face and below every
event but the half-covered face."""

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
        appearance: the `appearance` thumbnail of the face at `points` (None when the
            landmarker gives none).
        appearance_change: `appearance_change` from the previous frame's thumbnail to
            this one's (0.0 when there is none to compare).
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


def appearance(pixels: np.ndarray, placement, points: np.ndarray) -> np.ndarray | None:
    """The appearance thumbnail of the face at `points` in a landmark crop: the
    landmarker's (H, W, C) uint8 model input, its `preprocess.Placement` and the (68, 2)
    image points found in it → (APPEARANCE_CELLS²,) int64, or None when the points'
    extent covers less than APPEARANCE_CELLS input pixels a side.

    The points' extent is mapped into the input (`(x − origin) / step`) and cut to the
    input's bounds; it is divided into APPEARANCE_CELLS x APPEARANCE_CELLS blocks, all
    floor(w / CELLS) x floor(h / CELLS) pixels, block (i, j) starting at input pixel
    (floor(x + j · w / CELLS), floor(y + i · h / CELLS)); each cell is the sum of every
    channel of its block's pixels. Why over the points rather than the whole crop: the
    crop is the previous frame's extent, so a moving face sits elsewhere in it on every
    frame, while the points' extent follows the face (and a ghost's points cover whatever
    is there now). Summing channels makes a greyscale picture in any channel order; integer
    sums and one float64 expression per bound make it exact, so the C core
    (`fl_track_appearance`) gives the same numbers.

        >>> import numpy as np
        >>> from facelite.preprocess import Placement
        >>> square = np.array([[10.0, 10.0], [110.0, 110.0]] * 34)          # a 100-pixel face
        >>> thumbnail = appearance(np.full((112, 112, 3), 2, np.uint8), Placement((0.0, 0.0), (1.0, 1.0)), square)
        >>> thumbnail.shape, thumbnail[:3]
        ((100,), array([600, 600, 600]))
    """
    height, width = pixels.shape[:2]
    ex, ey, ew, eh = points_extent(points)
    (ox, oy), (sx, sy) = placement.origin, placement.step
    x, y = (ex - ox) / sx, (ey - oy) / sy
    x1, y1 = min(x + ew / sx, float(width)), min(y + eh / sy, float(height))
    x, y = max(x, 0.0), max(y, 0.0)
    w, h, n = x1 - x, y1 - y, APPEARANCE_CELLS
    if not (w >= n and h >= n):
        return None
    rows = np.array([math.floor(y + i * h / n) for i in range(n)])[:, None] + np.arange(math.floor(h / n))
    cols = np.array([math.floor(x + j * w / n) for j in range(n)])[:, None] + np.arange(math.floor(w / n))
    blocks = np.asarray(pixels).reshape(height, width, -1)[rows.reshape(-1, 1), cols.reshape(1, -1)]
    return blocks.reshape(n, rows.shape[1], n, cols.shape[1], -1).sum(axis=(1, 3, 4), dtype=np.int64).reshape(-1)


def appearance_change(previous: np.ndarray, current: np.ndarray) -> float:
    """How much a crop's look changed between two `appearance` thumbnails: 1 − their
    correlation coefficient (0: the same picture up to brightness and contrast, 1: no
    likeness, up to 2); 1.0 when either is flat (a blank frame).

    Why this form: the correlation ignores a change of the crop's brightness or contrast
    (a light ramp, a camera's exposure), and only drops when the picture's structure
    changes: a face moved a little in its crop stays near 0, another face or a hand near
    or above 0.3. In integers (each cell times the cell count minus the sum, so the means
    are exact) and float64 only from the three sums on, in a fixed order, so C gives the
    same float.

        >>> import numpy as np
        >>> face = np.arange(100, dtype=np.int64)
        >>> appearance_change(face, 3 * face + 40), appearance_change(face, np.zeros(100, np.int64))
        (0.0, 1.0)
    """
    before, after = [int(v) for v in previous], [int(v) for v in current]
    n, sum_before, sum_after = len(before), sum(before), sum(after)
    before = [n * v - sum_before for v in before]   # n times each cell's deviation from the mean
    after = [n * v - sum_after for v in after]
    var_before, var_after = sum(v * v for v in before), sum(v * v for v in after)
    if var_before == 0 or var_after == 0:
        return 1.0
    covariance = sum(x * y for x, y in zip(before, after))
    return 1.0 - float(covariance) / math.sqrt(float(var_before) * float(var_after))


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

    def __init__(self, detect: Detect, landmarks: Landmarks, detect_every_n_frames: int = 15, max_faces: int = DEFAULT_MAX_FACES):
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
        extent; with each face's appearance thumbnail and its change since the last frame."""
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
