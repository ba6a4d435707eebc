"""Box-consistent augmentation of letterboxed photos for the face detector (numpy/OpenCV).

Per sample: zoom about the face (log-uniform, `scale`), shift (`shift`), in-plane
rotation (`rotation`), flip, brightness/contrast/saturation, random greyscale, and mosaic
(`mosaic` = probability of a 2×2 grid of four augmented photos, i.e. four faces at half
size in one picture). Boxes are (x, y, w, h) fractions of the input, moved with the pixels.

Two kinds of view imitate the close-up photos skin analysis gets (ACNE04: a cheek filling
the frame, a profile, a face larger than the photo), which whole-photo 300W never shows:

- `close_up` (probability): the face is zoomed until its box is 1 to `close_up_max` times
  the frame, its centre anywhere in the frame, so part of it overflows one or more
  edges. Cut from `FaceCloseUps`, a sharper square crop around each face, because
  zooming the 160 px letterboxed photo that far would teach the model that close-ups are
  blurred.
- `half_face` (probability, other samples): the face is pushed out of the left or right
  edge until only 45–70% of its width is in the frame — one eye and cheek, as in a profile
  or a cheek close-up.
- `background` (probability): a face-free window of the photo (outside the face box)
  zoomed 1–`BACKGROUND_ZOOM`×, with no box. Close-ups teach that a frame filled with smooth
  skin is a face; without these negatives a blank wall or a blurred frame scores like one.

**A face cut by the frame is labelled by its visible part**: the box clipped to the
frame, centred on that part. The runtime decodes it unchanged (a centre and a size, both
inside the input) and clips boxes to the photo anyway, so a close-up gives one box
covering the face's visible part. A cut face counts while its centre (the nose) is in the
frame or at least `MIN_VISIBLE` of its box is; a smaller sliver is dropped (taught as
background) rather than labelled by a strip of hair or chin.

A rotated face's box is the bounding box of the ellipse inscribed in its box, rotated:
the landmarks' extent of a tilted face grows by about that much, not by the rotated
rectangle's corners.

This is training-time image editing, not model-input preprocessing: with augmentation
off the detector's input is exactly `facelite.preprocess`'s letterbox.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facelite.datasets import extent_box, read_pts
from facelite.preprocess import LETTERBOX_FILL, InputSpec, prepare_pixels

from .data import Examples
from .recipe import AugmentationConfig

MIN_VISIBLE = 0.4  # a face whose centre is out of the frame is kept when this much of its box is visible
HALF_FACE_VISIBLE = (0.45, 0.7)  # share of the face's width left in the frame by `half_face`
CLOSE_UP_CONTEXT = 0.5  # close-up crops: the face box's longer side grown by this per side ...
CLOSE_UP_SCALE = 2  # ... at this many input sizes: the face box is input.size px in its crop
BACKGROUND_ZOOM = 3.0  # `background` views zoom a face-free window of the photo up to this much


@dataclass
class FaceCloseUps:
    """Per training photo, a square crop around its face (uint8 (N, S, S, C)) and the face
    box in it ((N, 4) fractions): the source of `close_up` views."""

    x: np.ndarray
    y: np.ndarray


def face_close_ups(pairs: list[tuple[Path, Path]], spec: InputSpec, box_margin: float) -> FaceCloseUps:
    """Each (image, .pts) pair → its face's close-up crop, cut by the runtime's face crop
    (`prepare_pixels` with `crop = "face"`) at CLOSE_UP_SCALE × the input size."""
    side = CLOSE_UP_SCALE * spec.width
    crop = dataclasses.replace(spec, shape=(1, side, side, spec.channels), crop="face", margin=CLOSE_UP_CONTEXT)
    xs, ys = [], []
    for image_path, pts_path in pairs:
        x, y, w, h = extent_box(read_pts(pts_path), box_margin)
        pixels, placement = prepare_pixels(image_path, crop, box=(x, y, w, h))
        corners = placement.to_input([[x, y], [x + w, y + h]]) / side
        xs.append(pixels)
        ys.append(np.concatenate([corners[0], corners[1] - corners[0]]))
    return FaceCloseUps(np.stack(xs), np.stack(ys).astype(np.float32))


def _rotated_size(w: float, h: float, angle: float) -> tuple[float, float]:
    """Bounding box (w, h) of the ellipse inscribed in a w×h box, rotated by `angle` degrees."""
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    return math.hypot(w * c, h * s), math.hypot(w * s, h * c)


def _visible_box(nc: np.ndarray, nw: float, nh: float, size: int) -> np.ndarray:
    """The face box (centre nc, size nw×nh, pixels) clipped to the frame, as (1, 4) input
    fractions, or (0, 4) when too little of it is visible (module docstring)."""
    x0, y0 = max(nc[0] - nw / 2, 0.0), max(nc[1] - nh / 2, 0.0)
    x1, y1 = min(nc[0] + nw / 2, float(size)), min(nc[1] + nh / 2, float(size))
    centred = 0.0 <= nc[0] < size and 0.0 <= nc[1] < size
    if x1 <= x0 or y1 <= y0 or not (centred or (x1 - x0) * (y1 - y0) >= MIN_VISIBLE * nw * nh):
        return np.zeros((0, 4), np.float32)
    return np.array([[x0, y0, x1 - x0, y1 - y0]], np.float32) / size


def _warp(image: np.ndarray, box: np.ndarray, rng: np.random.Generator, cfg: AugmentationConfig, size: int,
          close_up: bool = False):
    """Zoom about the face, place it, rotate, flip; returns (image size×size, boxes (K, 4)).

    `image` is any square picture with the face `box` in it (fractions): the letterboxed
    photo, or its `FaceCloseUps` crop for a close-up view.
    """
    src = image.shape[0]
    x, y, w, h = box * src
    c = np.array([x + w / 2.0, y + h / 2.0])
    angle = rng.uniform(-cfg.rotation, cfg.rotation) if cfg.rotation else 0.0
    if close_up:
        # The face's longer side becomes 1 to close_up_max frames; its centre anywhere in the frame.
        zoom = math.exp(rng.uniform(0.0, math.log(cfg.close_up_max))) * size / max(w, h, 1.0)
        target = rng.uniform(0.0, 1.0, 2) * size
    else:
        zoom = math.exp(rng.uniform(-cfg.scale, cfg.scale)) * size / src if cfg.scale else size / src
        zoom = min(zoom, 1.4 * size / max(w, h, 1.0))  # large faces overflow no more than this here
        target = np.clip(c * size / src + rng.uniform(-cfg.shift, cfg.shift, 2) * size, 0.1 * size, 0.9 * size)
        if cfg.half_face and rng.random() < cfg.half_face:
            # Push the face out of the left or right edge until only part of its width shows.
            nw = _rotated_size(w, h, angle)[0] * zoom
            shown = rng.uniform(*HALF_FACE_VISIBLE) * nw
            target[0] = shown - nw / 2 if rng.random() < 0.5 else size - shown + nw / 2
    m = cv2.getRotationMatrix2D((0.0, 0.0), angle, zoom)
    m[:, 2] = (target - 0.5) - m[:, :2] @ (c - 0.5)  # m maps pixel indices; centres use pixel edges
    flip = cfg.flip and rng.random() < 0.5
    if flip:
        m[0] = -m[0]
        m[0, 2] += size - 1
    out = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(LETTERBOX_FILL,) * 3)
    if out.ndim == 2:
        out = out[:, :, None]
    nc = m[:, :2] @ (c - 0.5) + m[:, 2] + 0.5  # = target, mirrored when flipped
    nw, nh = (v * zoom for v in _rotated_size(w, h, angle))
    return out, _visible_box(nc, nw, nh, size)


def _background(image: np.ndarray, box: np.ndarray, rng: np.random.Generator, size: int):
    """A face-free view: a square window of the photo clear of the face box, zoomed
    1–BACKGROUND_ZOOM× to the frame, with no box; None when no window tried fits."""
    src = image.shape[0]
    x, y, w, h = box * src
    for _ in range(8):
        side = src / math.exp(rng.uniform(0.0, math.log(BACKGROUND_ZOOM)))
        x0, y0 = rng.uniform(0.0, src - side, 2)
        if x0 >= x + w or x0 + side <= x or y0 >= y + h or y0 + side <= y:
            k = size / side  # window edge coordinates → frame edge coordinates, in pixel indices below
            m = np.array([[k, 0.0, (0.5 - x0) * k - 0.5], [0.0, k, (0.5 - y0) * k - 0.5]])
            out = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            return (out if out.ndim == 3 else out[:, :, None]), np.zeros((0, 4), np.float32)
    return None


def _photometric(image: np.ndarray, rng: np.random.Generator, cfg: AugmentationConfig) -> np.ndarray:
    img = image.astype(np.float32)
    if img.shape[-1] == 3 and rng.random() < 0.1:
        img[:] = img.mean(axis=-1, keepdims=True)
    elif img.shape[-1] == 3 and cfg.contrast:
        grey = img.mean(axis=-1, keepdims=True)
        img = grey + (img - grey) * rng.uniform(1 - cfg.contrast, 1 + cfg.contrast)
    if cfg.contrast:
        average = img.mean()
        img = (img - average) * rng.uniform(1 - cfg.contrast, 1 + cfg.contrast) + average
    if cfg.brightness:
        img = img + rng.uniform(-cfg.brightness, cfg.brightness) * 255.0
    return np.clip(img, 0, 255)


def _view(examples: Examples, j: int, rng: np.random.Generator, cfg: AugmentationConfig, size: int,
          close_ups: FaceCloseUps | None):
    """One geometric view of example j: background (probability `background`, when a
    face-free window fits), a close-up (probability `close_up`) or the photo."""
    if cfg.background and rng.random() < cfg.background:
        view = _background(examples.x[j], examples.y[j], rng, size)
        if view is not None:
            return view
    if close_ups is not None and cfg.close_up and rng.random() < cfg.close_up:
        return _warp(close_ups.x[j], close_ups.y[j], rng, cfg, size, close_up=True)
    return _warp(examples.x[j], examples.y[j], rng, cfg, size)


def augment_sample(examples: Examples, i: int, rng: np.random.Generator, cfg: AugmentationConfig, size: int,
                   close_ups: FaceCloseUps | None = None):
    """One augmented (image float32 0..255, boxes (K, 4)) training sample from example i.

    `close_ups` (`face_close_ups` of the same examples, in order) enables `close_up` views.
    """
    if cfg.mosaic and rng.random() < cfg.mosaic:
        half = size // 2
        canvas = np.full((size, size, examples.x.shape[-1]), LETTERBOX_FILL, np.float32)
        boxes = []
        picks = [i] + list(rng.integers(0, len(examples), 3))
        for k, j in enumerate(picks):
            img, b = _view(examples, j, rng, cfg, size, close_ups)
            small = cv2.resize(img, (half, half), interpolation=cv2.INTER_AREA)
            if small.ndim == 2:
                small = small[:, :, None]
            oy, ox = (k // 2) * half, (k % 2) * half
            canvas[oy : oy + half, ox : ox + half] = small
            b = b * 0.5
            b[:, 0] += ox / size
            b[:, 1] += oy / size
            boxes.append(b)
        return _photometric(canvas, rng, cfg), np.concatenate(boxes)
    img, b = _view(examples, i, rng, cfg, size, close_ups)
    return _photometric(img, rng, cfg), b
