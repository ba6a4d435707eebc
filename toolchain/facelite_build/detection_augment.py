"""Box-consistent augmentation of letterboxed photos for the face detector (numpy/OpenCV).

Per sample: zoom about the face (log-uniform, `scale`), shift (`shift`), small rotation
(`rotation`; the box stays axis-aligned at its rotated centre), flip,
brightness/contrast/saturation, random greyscale, and mosaic (`mosaic` = probability of a
2×2 grid of four augmented photos, i.e. four faces at half size in one picture). Boxes are
(x, y, w, h) fractions of the input, moved with the pixels; a face pushed mostly out of
the frame is dropped rather than labelled by a sliver.

This is training-time image editing, not model-input preprocessing: with augmentation
off the detector's input is exactly `facelite.preprocess`'s letterbox.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from facelite.preprocess import LETTERBOX_FILL

from .data import Examples
from .recipe import AugmentationConfig

MIN_VISIBLE = 0.4  # augmented faces with less of their box inside the frame are dropped


def _warp(image: np.ndarray, box: np.ndarray, rng: np.random.Generator, cfg: AugmentationConfig, size: int):
    """Zoom about the face, shift, rotate (small), flip; returns (image, boxes (K, 4))."""
    x, y, w, h = box * size
    c = np.array([x + w / 2.0, y + h / 2.0])
    zoom = math.exp(rng.uniform(-cfg.scale, cfg.scale)) if cfg.scale else 1.0
    # Keep very large faces from outgrowing the frame too far (close-up selfies exist, though).
    zoom = min(zoom, 1.4 * size / max(w, h, 1.0))
    target = c + rng.uniform(-cfg.shift, cfg.shift, 2) * size
    lo, hi = 0.1 * size, 0.9 * size
    target = np.clip(target, lo, hi)
    angle = rng.uniform(-cfg.rotation, cfg.rotation) if cfg.rotation else 0.0
    m = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), angle, zoom)
    m[:, 2] += target - c
    flip = cfg.flip and rng.random() < 0.5
    if flip:
        m[0] = -m[0]
        m[0, 2] += size - 1
    out = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(LETTERBOX_FILL,) * 3)
    if out.ndim == 2:
        out = out[:, :, None]
    nc = m[:, :2] @ (c - 0.5) + m[:, 2] + 0.5  # m maps pixel indices; boxes use pixel edges
    nw, nh = w * zoom, h * zoom
    # Clip to the visible frame (a face cut by the border is labelled by its visible part);
    # drop it when less than MIN_VISIBLE of it remains.
    x0, y0 = max(nc[0] - nw / 2, 0.0), max(nc[1] - nh / 2, 0.0)
    x1, y1 = min(nc[0] + nw / 2, float(size)), min(nc[1] + nh / 2, float(size))
    if x1 <= x0 or y1 <= y0 or (x1 - x0) * (y1 - y0) < MIN_VISIBLE * nw * nh:
        return out, np.zeros((0, 4), np.float32)
    return out, np.array([[x0, y0, x1 - x0, y1 - y0]], np.float32) / size


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


def augment_sample(examples: Examples, i: int, rng: np.random.Generator, cfg: AugmentationConfig, size: int):
    """One augmented (image float32 0..255, boxes (K, 4)) training sample from example i."""
    if cfg.mosaic and rng.random() < cfg.mosaic:
        half = size // 2
        canvas = np.full((size, size, examples.x.shape[-1]), LETTERBOX_FILL, np.float32)
        boxes = []
        picks = [i] + list(rng.integers(0, len(examples), 3))
        for k, j in enumerate(picks):
            img, b = _warp(examples.x[j], examples.y[j], rng, cfg, size)
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
    img, b = _warp(examples.x[i], examples.y[i], rng, cfg, size)
    return _photometric(img, rng, cfg), b
