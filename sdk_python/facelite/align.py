"""Face alignment: a similarity transform that puts the eye centres at fixed places.

Classifiers trained on centred, upright face crops (FER2013's 48×48 faces) lose
accuracy on tilted or off-centre faces, so the analyzer hands them an aligned crop:
rotate, scale and shift (no shear) so the eye centres land at `EYE_LEFT_IMAGE` and
`EYE_RIGHT_IMAGE` (fractions of the crop size; image left/right). The defaults roughly
match FER2013's framing: eyes 40% of the width apart, 38% down from the top. Other
framings pass their own places to `similarity_from_eyes` (`eyes=`): the skin crop of
`facelite.skin_measures` puts the eyes lower and closer so the forehead and chin fit.

Example:

    >>> import numpy as np
    >>> from facelite.mean_shape import fit_to_box
    >>> from facelite.align import align_face
    >>> img = np.zeros((300, 300, 3), np.uint8)
    >>> a = align_face(img, fit_to_box((50, 60, 200, 210)), size=96)
    >>> a.image.shape, a.matrix.shape
    ((96, 96, 3), (2, 3))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .preprocess import invert_affine, warp_affine

EYE_LEFT_IMAGE = (0.30, 0.38)
EYE_RIGHT_IMAGE = (0.70, 0.38)


@dataclass
class AlignedFace:
    """The aligned crop and the 2×3 matrix that maps image pixels → crop pixels."""

    image: np.ndarray
    matrix: np.ndarray

    @property
    def inverse(self) -> np.ndarray:
        """2×3 matrix mapping crop pixels back to the image."""
        return invert_affine(self.matrix).astype(np.float32)

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Crop-pixel points (N, 2) → image pixels."""
        pts = np.asarray(points, np.float64).reshape(-1, 2)
        inv = invert_affine(self.matrix)
        return (pts @ inv[:, :2].T + inv[:, 2]).astype(np.float32)


def eye_centres(points: np.ndarray, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """(image-left eye, image-right eye) centres from 68 landmarks (iBUG 36–41, 42–47): each
    the mean of six points, summed in point order, in `dtype` (float32 for the alignment,
    float64 for the video smoothing's scale; the C core computes both the same way)."""
    p = np.asarray(points, dtype).reshape(68, 2)
    return p[36:42].mean(axis=0), p[42:48].mean(axis=0)


EyePlaces = tuple[tuple[float, float], tuple[float, float]]


def similarity_from_eyes(
    left: np.ndarray, right: np.ndarray, size: int, eyes: EyePlaces = (EYE_LEFT_IMAGE, EYE_RIGHT_IMAGE)
) -> np.ndarray:
    """2×3 similarity matrix taking the two eye centres to `eyes` (fractions of `size`)."""
    src = np.stack([left, right]).astype(np.float64)
    dst = np.array(eyes, np.float64) * size
    d_src, d_dst = src[1] - src[0], dst[1] - dst[0]
    norm = float(np.hypot(*d_src))
    if norm < 1e-6:  # degenerate eyes: identity scale about the point
        d_src, norm = np.array([1.0, 0.0]), 1.0
    scale = float(np.hypot(*d_dst)) / norm
    angle = np.arctan2(d_dst[1], d_dst[0]) - np.arctan2(d_src[1], d_src[0])
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    t = dst[0] - rot @ src[0]
    return np.hstack([rot, t[:, None]])


def align_face(image: np.ndarray, points: np.ndarray, size: int = 112) -> AlignedFace:
    """Aligned size×size crop of the face whose 68 landmarks are `points`."""
    left, right = eye_centres(points)
    m = similarity_from_eyes(left, right, size)
    crop = warp_affine(image, m, size, size)
    return AlignedFace(crop, m)
