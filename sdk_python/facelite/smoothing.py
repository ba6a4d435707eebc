"""Smoothing over time for video mode: the One Euro filter, on face points and on scores.

A landmarker run on each frame on its own gives points that shake by a pixel or two even
on a perfectly still face (sensor noise changes the crop's pixels). The One Euro filter
(Casiez, Roussel and Vogel, CHI 2012) is a low-pass filter whose cut-off frequency rises
with the signal's speed: a still face is smoothed hard (little jitter), a moving face
lightly (little lag). The formula, step for step, is in docs/video.md; the C core
(`one_euro.c`) computes the same float64 numbers in the same order.

The parameters are defined once, here:

- Points are filtered in units of the face's interocular distance (`PointSmoother`), so
  the same parameters hold for a face 80 or 800 pixels wide. `POINT_MIN_CUTOFF` = 0.5 Hz
  smooths a still face hard: at 30 frames a second each frame moves the output 9.5% of
  the way to the new raw points. `POINT_BETA` = 16 raises the cut-off by 16 Hz per
  interocular distance per second of (smoothed) speed: a face moving one interocular
  distance a second is filtered at 16.5 Hz (each frame goes 78% of the way), so moving
  faces lag little. `POINT_D_CUTOFF` = 1.0 Hz smooths the speed estimate so that noise
  alone barely opens the filter.
  How they were chosen (sweep of min_cutoff 0.3–1.5 Hz, beta 0.5–64, d_cutoff 0.5–1):
  (a) VIDEO mode with smoothing off on 30-frame clips of 4 HELEN photos (512 px, eyes
  60–95 px apart) with Gaussian pixel noise of sd 3 grey levels, still or shifted by
  3 or 6 px a frame, then each parameter set applied to the same raw tracks: this
  choice makes the still face's frame-to-frame jitter 4.5–5.4× lower than unsmoothed and
  the moving faces' NME 0.11 percentage points higher (beta 32: 3.4–4.0× and +0.05 pp;
  beta 64: 2.6–2.9×, under the issue's 3×; min_cutoff 1.0: 3.8–4.3×, +0.10 pp);
  (b) synthetic tracks of 20 HELEN annotations at 30 fps, with point noise of sd 0.5% /
  1% / 2% of the interocular distance, still, moving at 0.5–4 interocular distances a
  second or nodding at 1 Hz: jitter 7.0× / 5.1× / 3.6× lower, moving error +0.62% /
  +0.24% / −0.24% of the interocular distance (about 0.7 of that in NME units). The
  landmarker's own noise on still photos is about 0.25–0.5% (sd per coordinate) with
  pixel noise of sd 2–4. tests/sdk_python/test_smoothing.py keeps (b)'s still-face and
  moving-face numbers; `benchmarks/video.py` measures them on clips.
- Scores (`ScoreSmoother`, expression probabilities) use `SCORE_BETA` = 0: every value
  then shares one cut-off, so each output is a weighted average of probability vectors
  and still sums to 1. `SCORE_MIN_CUTOFF` = 1.0 Hz lets an expression change show within
  about a third of a second.

Example:

    >>> import numpy as np
    >>> from facelite.smoothing import OneEuroFilter
    >>> f = OneEuroFilter(min_cutoff=1.0, beta=0.0, d_cutoff=1.0)
    >>> f(np.array([0.0]), 0.0).tolist(), f(np.array([1.0]), 0.1).tolist()   # first sample passes through
    ([0.0], [0.3858695450950375])
"""

from __future__ import annotations

import math

import numpy as np

from .align import eye_centres
from .classifier import Classification

POINT_MIN_CUTOFF = 0.5
"""Hz: the cut-off of a still face's points (see the module docstring for how it was chosen)."""
POINT_BETA = 16.0
"""Cut-off increase, Hz per (interocular distance per second) of smoothed point speed."""
POINT_D_CUTOFF = 1.0
"""Hz: the cut-off of the points' speed estimate."""
SCORE_MIN_CUTOFF = 1.0
"""Hz: the cut-off of score smoothing (expression probabilities)."""
SCORE_BETA = 0.0
"""0: one cut-off for every score, so smoothed probabilities still sum to 1."""
SCORE_D_CUTOFF = 1.0
"""Hz: the cut-off of the scores' speed estimate (unused while SCORE_BETA is 0, kept for the formula)."""

MIN_SCALE = 1.0
"""Pixels: the smallest interocular distance used as a scale (degenerate points)."""


def alpha(cutoff, dt: float):
    """The smoothing factor of a first-order low-pass at `cutoff` Hz over `dt` seconds:
    1 / (1 + 1 / (2π · cutoff · dt)), evaluated left to right (as in the C core)."""
    return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff * dt))


class OneEuroFilter:
    """One Euro filter over an array of values (each value filtered on its own), float64.

    Call it with the values and their time in seconds, strictly increasing; it returns
    the filtered values (a new float64 array of the same shape). The first call returns
    its input and sets the speed estimate to 0.
    """

    def __init__(self, min_cutoff: float, beta: float, d_cutoff: float):
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t = 0.0

    def __call__(self, x, t: float) -> np.ndarray:
        x = np.array(x, dtype=np.float64)
        t = float(t)
        if self._x is None:
            self._x, self._dx, self._t = x, np.zeros_like(x), t
            return x.copy()
        if x.shape != self._x.shape:
            raise ValueError(f"OneEuroFilter: values of shape {x.shape}, but the filter holds {self._x.shape}")
        dt = t - self._t
        if not dt > 0.0:
            raise ValueError(f"OneEuroFilter: time {t} s is not after the previous sample's {self._t} s")
        a_d = alpha(self.d_cutoff, dt)
        dx = (x - self._x) / dt
        dx_hat = a_d * dx + (1.0 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(dx_hat)
        a = alpha(cutoff, dt)
        x_hat = a * x + (1.0 - a) * self._x
        self._x, self._dx, self._t = x_hat, dx_hat, t
        return x_hat.copy()


def interocular_distance(points) -> float:
    """Distance between the eye centres (`align.eye_centres`, float64), as the C core computes it."""
    left, right = eye_centres(points, np.float64)
    dx, dy = float(right[0] - left[0]), float(right[1] - left[1])
    return math.sqrt(dx * dx + dy * dy)


class PointSmoother:
    """One track's 68 points through a One Euro filter per coordinate, in units of the
    interocular distance of the track's first points (fixed, so the filter state keeps
    one unit; at least `MIN_SCALE` pixels).

    >>> import numpy as np
    >>> s = PointSmoother()
    >>> p = np.zeros((68, 2)); p[42:48, 0] = 50.0            # eyes 50 px apart
    >>> s(p, 0.0)[0].tolist(), s.scale, s(p + 5.0, 0.1)[0].round(3).tolist()   # moved 5 px: 4 px
    ([0.0, 0.0], 50.0, [4.037, 4.037])
    """

    def __init__(self, min_cutoff: float = POINT_MIN_CUTOFF, beta: float = POINT_BETA,
                 d_cutoff: float = POINT_D_CUTOFF):
        self.filter = OneEuroFilter(min_cutoff, beta, d_cutoff)
        self.scale: float | None = None

    def __call__(self, points, t: float) -> np.ndarray:
        """Raw (68, 2) image points at time `t` seconds → smoothed (68, 2) float64 points."""
        p = np.asarray(points, np.float64).reshape(68, 2)
        if self.scale is None:
            self.scale = max(interocular_distance(p), MIN_SCALE)
        return self.filter(p / self.scale, t) * self.scale


class ScoreSmoother:
    """A track's classification probabilities through a One Euro filter per label; the top
    label is re-read from the smoothed probabilities (the first of equal maxima)."""

    def __init__(self, min_cutoff: float = SCORE_MIN_CUTOFF, beta: float = SCORE_BETA,
                 d_cutoff: float = SCORE_D_CUTOFF):
        self.filter = OneEuroFilter(min_cutoff, beta, d_cutoff)

    def __call__(self, result: Classification, t: float) -> Classification:
        labels = list(result.scores)
        smoothed = self.filter([result.scores[k] for k in labels], t)
        best = int(np.argmax(smoothed))
        return Classification((labels[best], float(smoothed[best])),
                              {k: float(v) for k, v in zip(labels, smoothed)})
