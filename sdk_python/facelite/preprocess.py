"""Pixels → model input, defined once: the numbered spec of `docs/preprocessing.md`.

Why our own kernels: a phone binding (the C core of `mobile_bindings/`) must feed a model
the very tensor the toolchain trained it on and the Python runtime verified it with.
OpenCV's resize and warp have undocumented fixed-point paths that differ between its
scalar and SIMD code, so "bilinear" alone does not pin a tensor down. Every kernel here is
written as documented integer arithmetic (step numbers refer to the spec), implemented in
numpy, and pinned by the test vectors in `tests/vectors/` that the C tests replay.

The pipeline, driven by the manifest's `input` block (`InputSpec`):

1. decode (`facelite.image.load_image`: EXIF orientation applied, 8-bit BGR);
2. colour (`to_color`: `rgb`, `bgr`, `gray`, `gray_as_rgb`; integer BT.601 luma);
3. geometry: `crop_square` for `crop = "face"` (a box grown by `margin`, edge pixels
   repeated outside the image), `letterbox` for `crop = "letterbox"` (aspect ratio kept,
   padded with `LETTERBOX_FILL`), the whole image for `crop = "none"`; the analyzer's eye
   alignment uses `warp_affine`;
4. resize (`resize`: `bilinear`, `area` or `nearest`, fixed-point weights);
5. normalise (`normalize`: float32 `(p - mean) / std`);
6. quantize for integer-input models (`quantize`: round half to even, saturate).

`prepare_pixels` runs steps 1–4 and returns the uint8 tensor plus a `Placement` mapping
model-input coordinates back to the source image; `prepare` adds step 5. The toolchain's
training data, calibration and goldens, the evaluator, the bench and the CLI all call
these two.

Example:

    >>> import numpy as np
    >>> from facelite.preprocess import InputSpec, prepare, prepare_pixels
    >>> spec = InputSpec((1, 4, 4, 3), "gray_as_rgb", "bilinear", (127.5,) * 3, (127.5,) * 3)
    >>> x = prepare(np.full((8, 8), 255, np.uint8), spec)
    >>> x.shape, float(x.max())
    ((4, 4, 3), 1.0)
    >>> pixels, placement = prepare_pixels(np.zeros((20, 40, 3), np.uint8),
    ...                                    InputSpec((1, 10, 10, 3), "rgb", "bilinear", (0,) * 3, (1,) * 3, "letterbox"))
    >>> placement.to_image([[0.0, 2.0]]).tolist()     # top-left of the picture, below 2 rows of padding
    [[0.0, 0.0]]
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .errors import UserError

COLORS = ("rgb", "bgr", "gray", "gray_as_rgb")
RESIZES = ("bilinear", "area", "nearest")
CROPS = ("none", "face", "letterbox")

LETTERBOX_FILL = 0
"""Value of every channel of the letterbox padding (spec step 3.3)."""

WEIGHT_BITS = 11
"""Resize weights are integers summing to 2**WEIGHT_BITS per axis (spec step 4)."""
WARP_BITS = 10
"""Affine-warp sample positions are fixed-point with this many fractional bits (spec step 3.4)."""

# BT.601 luma in 14-bit fixed point (spec step 2): gray = (B·1868 + G·9617 + R·4899 + 2¹³) >> 14.
_GRAY_B, _GRAY_G, _GRAY_R, _GRAY_SHIFT = 1868, 9617, 4899, 14


@dataclass(frozen=True)
class InputSpec:
    """How raw pixels become a model input; the manifest's `input` block, replayed everywhere.

    Attributes:
        shape: NHWC shape the model takes, batch first (batch may be 1).
        color: channel order the model expects: `rgb`, `bgr`, `gray` (1 channel) or
            `gray_as_rgb` (greyscale replicated to 3 channels).
        resize: resize kernel used to reach (H, W): `bilinear`, `area` or `nearest`.
        mean, std: per-channel normalisation, `(pixel - mean) / std`, on 0..255 pixels.
        crop: how the region handed to the model is cut from a photo (`none` for an
            already-cropped image, `face` for a square face box with `margin`,
            `letterbox` for a whole photo resized with its aspect ratio kept and
            padded to the input size).
        margin: fraction of the face box added on each side when `crop == "face"`.
        extra_channels: names of channels the model takes after the colour channels
            (e.g. the skin_metrics bundle's region masks); the caller fills them, the
            steps here make the colour channels only. Empty for image models.
    """

    shape: tuple[int, int, int, int]
    color: str
    resize: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop: str = "none"
    margin: float = 0.0
    extra_channels: tuple[str, ...] = ()

    @property
    def height(self) -> int:
        return self.shape[1]

    @property
    def width(self) -> int:
        return self.shape[2]

    @property
    def channels(self) -> int:
        return self.shape[3]

    @classmethod
    def from_manifest(cls, spec: Mapping[str, Any]) -> "InputSpec":
        return cls(
            shape=tuple(int(v) for v in spec["shape"]),
            color=spec["color"],
            resize=spec["resize"],
            mean=tuple(float(v) for v in spec["mean"]),
            std=tuple(float(v) for v in spec["std"]),
            crop=spec.get("crop", "none"),
            margin=float(spec.get("margin", 0.0)),
            extra_channels=tuple(spec.get("extra_channels", ())),
        )

    def to_manifest(self) -> dict[str, Any]:
        block = {
            "shape": list(self.shape),
            "dtype": "float32",
            "color": self.color,
            "resize": self.resize,
            "mean": list(self.mean),
            "std": list(self.std),
            "crop": self.crop,
            "margin": self.margin,
        }
        if self.extra_channels:
            block["extra_channels"] = list(self.extra_channels)
        return block


@dataclass(frozen=True)
class Placement:
    """Where the model input lies in the source image: `image = origin + input · step`.

    Coordinates are continuous with pixel edges on integers (pixel i spans [i, i+1)),
    in both the model input and the source image.
    """

    origin: tuple[float, float]
    step: tuple[float, float]

    def to_image(self, points) -> np.ndarray:
        """(N, 2) model-input pixel coordinates → source-image pixels."""
        p = np.asarray(points, np.float64).reshape(-1, 2)
        return (np.asarray(self.origin) + p * np.asarray(self.step)).astype(np.float32)

    def to_image_box(self, box) -> tuple[float, float, float, float]:
        """A model-input box (x, y, w, h) → the same box in source-image pixels."""
        x, y, w, h = (float(v) for v in tuple(box)[:4])
        return (self.origin[0] + x * self.step[0], self.origin[1] + y * self.step[1],
                w * self.step[0], h * self.step[1])

    def to_input(self, points) -> np.ndarray:
        """(N, 2) source-image pixel coordinates → model-input pixels."""
        p = np.asarray(points, np.float64).reshape(-1, 2)
        return ((p - np.asarray(self.origin)) / np.asarray(self.step)).astype(np.float32)


# -- step 2: colour ---------------------------------------------------------------------


def to_color(image: np.ndarray, color: str) -> np.ndarray:
    """BGR (H, W, 3) or greyscale (H, W[, 1]) uint8 → the model's colours, (H, W, C) uint8.

    C = 1 for `gray`, else 3. Grey from colour is the integer BT.601 luma of spec step 2.
    """
    if color not in COLORS:
        raise ValueError(f"unknown colour order '{color}'; use one of {', '.join(COLORS)}")
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        gray = image
        if color == "gray":
            return np.ascontiguousarray(gray[:, :, None])
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if color == "bgr":
        return np.ascontiguousarray(image[:, :, :3])
    if color == "rgb":
        return np.ascontiguousarray(image[:, :, 2::-1])
    gray = bgr_to_gray(image)
    return np.ascontiguousarray(gray[:, :, None] if color == "gray" else np.repeat(gray[:, :, None], 3, axis=2))


def bgr_to_gray(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) BGR uint8 → (H, W) uint8: (B·1868 + G·9617 + R·4899 + 8192) >> 14."""
    b, g, r = (image[:, :, i].astype(np.int32) for i in range(3))
    return ((b * _GRAY_B + g * _GRAY_G + r * _GRAY_R + (1 << (_GRAY_SHIFT - 1))) >> _GRAY_SHIFT).astype(np.uint8)


# -- step 4: resize ---------------------------------------------------------------------


def resize_taps(src: int, dst: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Per output index along one axis: (source indices (dst, T), integer weights (dst, T)).

    Weights are non-negative and sum to 2**WEIGHT_BITS in every row (spec step 4).
    """
    if src < 1 or dst < 1:
        raise ValueError(f"cannot resize {src} pixels to {dst}")
    one = 1 << WEIGHT_BITS
    scale = src / dst
    x = np.arange(dst, dtype=np.float64)
    if method == "nearest":
        idx = np.minimum(np.floor((x + 0.5) * scale).astype(np.int64), src - 1)
        return idx[:, None], np.full((dst, 1), one, np.int64)
    if method == "area" and src > dst:
        return _area_taps(src, dst)
    if method not in RESIZES:
        raise ValueError(f"unknown resize '{method}'; use one of {', '.join(RESIZES)}")
    f = (x + 0.5) * scale - 0.5
    i0 = np.floor(f)
    a = f - i0
    i0 = i0.astype(np.int64)
    low, high = i0 < 0, i0 >= src - 1
    a[low | high] = 0.0
    i0[low] = 0
    i0[high] = src - 1
    w1 = np.floor(a * one + 0.5).astype(np.int64)
    idx = np.stack([i0, np.minimum(i0 + 1, src - 1)], axis=1)
    return idx, np.stack([one - w1, w1], axis=1)


@functools.lru_cache(maxsize=256)
def _area_taps(src: int, dst: int) -> tuple[np.ndarray, np.ndarray]:
    """Shrinking `area` taps: each output averages the source span [x·s, (x+1)·s), s = src/dst.

    Cached (read-only arrays): a pure function of the two sizes, built by a Python loop
    over the outputs that cost more than the resize itself, and the sizes repeat (every
    face's skin crop is shrunk 256 → the acne input by the same taps).
    """
    one = 1 << WEIGHT_BITS
    scale = src / dst
    taps = int(math.ceil(scale)) + 1
    idx = np.zeros((dst, taps), np.int64)
    weights = np.zeros((dst, taps), np.int64)
    for x in range(dst):
        start, end = x * scale, (x + 1) * scale
        first, last = int(math.floor(start)), min(int(math.ceil(end)), src)
        ks = np.arange(first, last)
        w = (np.minimum(ks + 1.0, end) - np.maximum(ks.astype(np.float64), start)) / scale
        q = np.floor(w * one + 0.5).astype(np.int64)
        q[int(np.argmax(q))] += one - int(q.sum())
        idx[x, : len(ks)] = ks
        weights[x, : len(ks)] = q
    idx.setflags(write=False)
    weights.setflags(write=False)
    return idx, weights


def resize(image: np.ndarray, height: int, width: int, method: str) -> np.ndarray:
    """uint8 (H, W[, C]) → (height, width[, C]) with the spec's separable fixed-point kernel.

    Each output is Σ_y Σ_x wy·wx·p over the taps of `resize_taps`, then
    (acc + 2²¹) >> 22 (weights sum to 2¹¹ per axis). There is no intermediate rounding,
    so the result does not depend on which axis is summed first; this implementation
    picks the order that touches fewer pixels (int32 never overflows: ≤ 255·2²² < 2³¹).
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"resize takes uint8 pixels, not {image.dtype}")
    if image.shape[:2] == (height, width):
        return image.copy()
    rows = resize_taps(image.shape[0], height, method)
    cols = resize_taps(image.shape[1], width, method)
    return _apply_taps(image, rows, cols)


def _apply_taps(image: np.ndarray, rows: tuple[np.ndarray, np.ndarray], cols: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The resize sum over explicit (index, weight) taps per output row and column."""
    (iy, wy), (ix, wx) = rows, cols
    squeeze = image.ndim == 2
    img = image[:, :, None] if squeeze else image
    h, w = img.shape[:2]
    height, width = len(iy), len(ix)
    rows_first = height * w * iy.shape[1] + height * width * ix.shape[1]
    cols_first = h * width * ix.shape[1] + height * width * iy.shape[1]
    if rows_first <= cols_first:
        acc = _taps_sum(_taps_sum(img, iy, wy, axis=0), ix, wx, axis=1)
    else:
        acc = _taps_sum(_taps_sum(img, ix, wx, axis=1), iy, wy, axis=0)
    shift = 2 * WEIGHT_BITS
    out = ((acc + (1 << (shift - 1))) >> shift).astype(np.uint8)
    return out[:, :, 0] if squeeze else out


def _resample(image: np.ndarray, rows, cols, color: str) -> np.ndarray:
    """Resize through the taps, then colour-convert, in the cheapest order that is exact.

    Reordering channels (`rgb`/`bgr`) and replicating a grey channel commute with the
    per-channel resize, so they are done on the small output (a grey picture is resized
    as one channel). Luma does not commute (it rounds), so for a colour image to `gray`
    or `gray_as_rgb` only the source pixels some tap reads are converted (exact: the
    conversion is per pixel), resized as one channel, then replicated. `rows`/`cols`
    taps index the source image.
    """
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2 or color in ("rgb", "bgr"):
        return to_color(_apply_taps(image, rows, cols), color)
    (iy, wy), (ix, wx) = rows, cols
    used_rows, ry = np.unique(iy, return_inverse=True)
    used_cols, rx = np.unique(ix, return_inverse=True)
    whole = len(used_rows) == image.shape[0] and len(used_cols) == image.shape[1]
    gray = bgr_to_gray(image if whole else image[np.ix_(used_rows, used_cols)])
    return to_color(_apply_taps(gray, (ry.reshape(iy.shape), wy), (rx.reshape(ix.shape), wx)), color)


def _taps_sum(src: np.ndarray, idx: np.ndarray, weights: np.ndarray, axis: int) -> np.ndarray:
    """Σ_t weights[:, t] · src[idx[:, t]] along `axis` (0: rows, 1: columns), int32."""
    acc = None
    for t in range(idx.shape[1]):
        w = weights[:, t].astype(np.int32)
        w = w[:, None, None] if axis == 0 else w[None, :, None]
        part = np.take(src, idx[:, t], axis=axis) * w  # uint8 · int32 widens to int32 as it multiplies
        if acc is None:
            acc = part
        else:
            acc += part
    return acc


# -- step 3: geometry ---------------------------------------------------------------------


def round_half_up(v: float) -> int:
    """floor(v + 0.5): the one rounding of coordinates to whole pixels (same in C)."""
    return int(math.floor(v + 0.5))


def letterbox_params(image_hw: tuple[int, int], height: int, width: int) -> tuple[float, int, int, int, int]:
    """(scale, pad_x, pad_y, new_w, new_h) of fitting an image of `image_hw` into height×width.

    scale = min(width / w, height / h); new size = floor(side · scale + 0.5), at least 1
    and at most the canvas; the image is centred with `pad_x`/`pad_y` fill pixels on the
    left/top (integer division of the slack). A model-input point p maps back to the image
    as ((p_x − pad_x) / scale, (p_y − pad_y) / scale).
    """
    h, w = int(image_hw[0]), int(image_hw[1])
    scale = min(width / w, height / h)
    new_w = min(width, max(1, round_half_up(w * scale)))
    new_h = min(height, max(1, round_half_up(h * scale)))
    return scale, (width - new_w) // 2, (height - new_h) // 2, new_w, new_h


def letterbox(image: np.ndarray, height: int, width: int, method: str = "bilinear") -> tuple[np.ndarray, tuple[float, int, int]]:
    """Resize keeping the aspect ratio and pad with LETTERBOX_FILL to height×width.

    Returns (canvas, (scale, pad_x, pad_y)); see `letterbox_params` for the inverse map.
    """
    scale, pad_x, pad_y, new_w, new_h = letterbox_params(image.shape[:2], height, width)
    scaled = resize(image, new_h, new_w, method)
    canvas = np.full((height, width) + image.shape[2:], LETTERBOX_FILL, np.uint8)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = scaled
    return canvas, (scale, pad_x, pad_y)


def square_box(box: tuple[float, float, float, float], margin: float) -> tuple[float, float, float, float]:
    """Square box (x, y, side, side) centred on `box` (x, y, w, h), grown by `margin` per side."""
    x, y, w, h = (float(v) for v in box)
    side = max(w, h) * (1.0 + 2.0 * margin)
    cx, cy = x + w / 2.0, y + h / 2.0
    return cx - side / 2.0, cy - side / 2.0, side, side


def square_crop(box: tuple[float, float, float, float], margin: float) -> tuple[int, int, int]:
    """(x0, y0, side) in whole pixels of the square crop of `box` grown by `margin` (step 3.2)."""
    x0, y0, side, _ = square_box(box, margin)
    if not all(math.isfinite(v) for v in (x0, y0, side)):
        raise UserError(f"face box {tuple(box)} is not finite; pass (x, y, w, h) in pixels")
    return round_half_up(x0), round_half_up(y0), max(round_half_up(side), 1)


MAX_CROP_FACTOR = 16
"""A face crop's side may be at most this many times the image's longer side."""


def crop_square(image: np.ndarray, box: tuple[float, float, float, float], margin: float) -> tuple[np.ndarray, np.ndarray]:
    """The square face crop a `crop == "face"` model takes; outside the image, edge pixels repeat.

    Crop pixel (i, j) is image pixel (clamp(y0 + i), clamp(x0 + j)) with (x0, y0, side)
    from `square_crop`. Returns (crop, (x0, y0, side)): a point p in the crop's own grid
    of size `side` maps back to the image as (x0, y0) + p. (`prepare_pixels` never builds
    this array: it resizes straight from the image through the same clamped indices.)
    """
    x0i, y0i, side_px = _checked_crop(image.shape[:2], box, margin)
    h, w = image.shape[:2]
    rows = np.clip(np.arange(y0i, y0i + side_px), 0, h - 1)
    cols = np.clip(np.arange(x0i, x0i + side_px), 0, w - 1)
    crop = image[rows[:, None], cols[None, :]]
    return np.ascontiguousarray(crop), np.array([x0i, y0i, side_px], np.float32)


def _checked_crop(image_hw, box, margin: float) -> tuple[int, int, int]:
    x0i, y0i, side_px = square_crop(box, margin)
    limit = MAX_CROP_FACTOR * max(image_hw)
    if side_px > limit:
        raise UserError(f"face box {tuple(float(v) for v in tuple(box)[:4])} makes a {side_px}-pixel crop, over "
                        f"{MAX_CROP_FACTOR}× the image's longer side ({max(image_hw)}); pass a box inside the image")
    return x0i, y0i, side_px


def warp_affine(image: np.ndarray, matrix: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resample `image` through the 2×3 affine `matrix` (image → output coordinates).

    Spec step 3.4: output pixel (x, y) samples the image at the inverse map of its centre
    (x + 0.5, y + 0.5), minus 0.5 (index space); the position is rounded to 1/1024 pixel
    (floor(v · 1024 + 0.5)), the four neighbours (edge pixels repeated outside the
    image) are weighted by (1024 − f)·f products, and (acc + 2¹⁹) >> 20 gives the value.
    """
    image = np.asarray(image)
    squeeze = image.ndim == 2
    img = image[:, :, None] if squeeze else image
    if img.dtype != np.uint8:  # uint8 samples widen to int32 as they are weighted; others first
        img = img.astype(np.int32)
    m = np.asarray(matrix, np.float64).reshape(2, 3)
    inv = invert_affine(m)
    xs = np.arange(width, dtype=np.float64)[None, :] + 0.5  # broadcast to (height, width) below
    ys = np.arange(height, dtype=np.float64)[:, None] + 0.5
    sx = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2] - 0.5
    sy = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2] - 0.5
    one = 1 << WARP_BITS
    qx = np.floor(sx * one + 0.5).astype(np.int64)
    qy = np.floor(sy * one + 0.5).astype(np.int64)
    x0, fx = qx >> WARP_BITS, (qx & (one - 1)).astype(np.int32)
    y0, fy = qy >> WARP_BITS, (qy & (one - 1)).astype(np.int32)
    h, w = img.shape[:2]
    cx0, cx1 = np.clip(x0, 0, w - 1), np.clip(x0 + 1, 0, w - 1)
    cy0, cy1 = np.clip(y0, 0, h - 1) * w, np.clip(y0 + 1, 0, h - 1) * w  # row offsets into the flat image
    # Σ pixel · (x weight · y weight) over the four neighbours plus the rounding half, in
    # int32 (at most 255 · 2²⁰): an integer sum in any order is the formula's exactly, and
    # whole pixels gathered from the flat image (np.take) cost less than 2-D indexing.
    flat = img.reshape(h * w, -1)
    shift = 2 * WARP_BITS
    acc = np.full(cx0.shape + (flat.shape[1],), 1 << (shift - 1), np.int32)
    for rows, wy in ((cy0, one - fy), (cy1, fy)):
        for cols, wx in ((cx0, one - fx), (cx1, fx)):
            acc += np.take(flat, rows + cols, axis=0) * (wx * wy)[..., None]
    out = (acc >> shift).astype(np.uint8)
    return out[:, :, 0] if squeeze else out


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 2×3 affine matrix (float64); ValueError when it is singular."""
    m = np.asarray(matrix, np.float64).reshape(2, 3)
    det = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
    if det == 0.0:
        raise ValueError("affine matrix is singular")
    a, b, c, d = m[1, 1] / det, -m[0, 1] / det, -m[1, 0] / det, m[0, 0] / det
    return np.array([[a, b, -(a * m[0, 2] + b * m[1, 2])], [c, d, -(c * m[0, 2] + d * m[1, 2])]])


# -- steps 1-5 together --------------------------------------------------------------------


def prepare_pixels(image, spec: InputSpec, box=None) -> tuple[np.ndarray, Placement]:
    """Steps 1–4: image (path, encoded bytes, or BGR/grey array) [+ face box] → uint8 (H, W, C).

    `box` (x, y, w, h) is used by `crop == "face"` specs; without one (and for `none`)
    the whole image is stretched to the input size. Returns the pixels and the
    `Placement` of the model input in the source image.
    """
    from .image import load_image

    bgr = load_image(image)
    h, w = bgr.shape[:2]
    if spec.crop == "face" and box is not None:
        x0, y0, side = _checked_crop((h, w), tuple(box)[:4], spec.margin)
        iy, wy = resize_taps(side, spec.height, spec.resize)
        ix, wx = resize_taps(side, spec.width, spec.resize)
        rows, cols = (np.clip(y0 + iy, 0, h - 1), wy), (np.clip(x0 + ix, 0, w - 1), wx)
        pixels = _resample(bgr, rows, cols, spec.color)
        return pixels, Placement((float(x0), float(y0)), (side / spec.width, side / spec.height))
    if spec.crop == "letterbox":
        scale, pad_x, pad_y, new_w, new_h = letterbox_params((h, w), spec.height, spec.width)
        rows, cols = resize_taps(h, new_h, spec.resize), resize_taps(w, new_w, spec.resize)
        canvas = np.full((spec.height, spec.width, spec.channels), LETTERBOX_FILL, np.uint8)
        canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = _resample(bgr, rows, cols, spec.color)
        return canvas, Placement((-pad_x / scale, -pad_y / scale), (1.0 / scale, 1.0 / scale))
    rows, cols = resize_taps(h, spec.height, spec.resize), resize_taps(w, spec.width, spec.resize)
    return _resample(bgr, rows, cols, spec.color), Placement((0.0, 0.0), (w / spec.width, h / spec.height))


def prepare(image, spec: InputSpec, box=None) -> np.ndarray:
    """Steps 1–5: image [+ face box] → float32 (H, W, C) model input."""
    return normalize(prepare_pixels(image, spec, box)[0], spec)


def normalize(pixels: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Step 5: (pixels − mean) / std per channel, computed in float32 (IEEE, no fused ops)."""
    mean = np.asarray(spec.mean, np.float32)
    std = np.asarray(spec.std, np.float32)
    return (np.asarray(pixels).astype(np.float32) - mean) / std


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype) -> np.ndarray:
    """Step 6: float32 → integer tensor: round_half_even(x / scale) + zero_point, saturated."""
    info = np.iinfo(dtype)
    q = np.round(np.asarray(x, np.float32) / np.float32(scale)) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Integer model output → float32: (q − zero_point) · scale."""
    return (q.astype(np.float32) - zero_point) * np.float32(scale)


PIXEL_LEVELS = np.arange(256, dtype=np.uint8)
"""The 256 values an 8-bit pixel can take."""


def quantize_table(spec: InputSpec, scale: float, zero_point: int, dtype) -> np.ndarray:
    """Steps 5–6 tabulated: (256, C) of `dtype`, row v = what `quantize(normalize(v))` gives
    a pixel of value v in each channel.

    Why: both steps are per element, so looking a pixel up in this table is the float path,
    bit for bit, for any mean and std (no integer mean needed), at the cost of one gather
    instead of five float passes. `facelite.engine.Engine.run_pixels` builds it once per
    (spec, input quantization).

        >>> spec = InputSpec((1, 2, 2, 1), "gray", "bilinear", (127.5,), (127.5,))
        >>> quantize_table(spec, 2 / 255, 0, np.int8)[[0, 127, 128, 255], 0].tolist()
        [-127, 0, 0, 127]
    """
    levels = np.repeat(PIXEL_LEVELS[:, None], spec.channels, axis=1)
    return quantize(normalize(levels, spec), scale, zero_point, dtype)


def dequantize_table(dtype, scale: float, zero_point: int) -> np.ndarray:
    """`dequantize` of every 8-bit value, float32 (256,), indexed by the value's byte
    (an int8 −1 is row 255): reading an int8/uint8 output through it is `dequantize`
    exactly, in one gather."""
    raw = PIXEL_LEVELS.view(np.dtype(dtype))
    return dequantize(raw, scale, zero_point)

