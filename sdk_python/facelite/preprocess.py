"""Pixels → model input, defined once and driven by the manifest's input spec.

The toolchain builds its training inputs and golden vectors with these functions,
and the runtime, evaluator and bench call the same ones, so a phone binding that
replays the manifest (colour → resize → (x - mean) / std → quantize) gets the same
tensor the model was trained and verified on.

Example:

    >>> import numpy as np
    >>> from facelite.bundle import InputSpec
    >>> from facelite.preprocess import preprocess
    >>> spec = InputSpec((1, 4, 4, 3), "gray_as_rgb", "bilinear", (127.5,) * 3, (127.5,) * 3)
    >>> x = preprocess(np.full((8, 8), 255, np.uint8), spec)
    >>> x.shape, float(x.max())
    ((4, 4, 3), 1.0)
"""

from __future__ import annotations

import cv2
import numpy as np

from .bundle import InputSpec

_INTERPOLATION = {
    "bilinear": cv2.INTER_LINEAR,
    "area": cv2.INTER_AREA,
    "nearest": cv2.INTER_NEAREST,
}


def to_color(image: np.ndarray, color: str) -> np.ndarray:
    """Convert a BGR (H, W, 3) or greyscale (H, W[, 1]) uint8 image to the model's colours.

    Returns (H, W, C) uint8 with C = 1 for `gray`, else 3.
    """
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    is_gray = image.ndim == 2
    if color == "bgr":
        out = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if is_gray else image
    elif color == "rgb":
        out = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB if is_gray else cv2.COLOR_BGR2RGB)
    elif color in ("gray", "gray_as_rgb"):
        gray = image if is_gray else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        out = gray[:, :, None] if color == "gray" else np.repeat(gray[:, :, None], 3, axis=2)
    else:
        raise ValueError(f"unknown colour order '{color}'")
    return np.ascontiguousarray(out)


def resize(image: np.ndarray, height: int, width: int, method: str) -> np.ndarray:
    """Resize with the manifest's interpolation; keeps a trailing channel axis."""
    if image.shape[:2] == (height, width):
        return image
    out = cv2.resize(image, (width, height), interpolation=_INTERPOLATION[method])
    if out.ndim == 2 and image.ndim == 3:
        out = out[:, :, None]
    return out


def prepare_pixels(image: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Colour conversion and resize: the uint8 (H, W, C) image the model sees.

    With `spec.crop == "letterbox"` the aspect ratio is kept (see `letterbox`).
    """
    pixels = to_color(image, spec.color)
    if spec.crop == "letterbox":
        return letterbox(pixels, spec.height, spec.width, spec.resize)[0]
    return resize(pixels, spec.height, spec.width, spec.resize)


LETTERBOX_FILL = 0


def letterbox_params(
    image_hw: tuple[int, int], height: int, width: int
) -> tuple[float, int, int, int, int]:
    """(scale, pad_x, pad_y, new_w, new_h) of fitting an image of `image_hw` into height×width.

    The image is scaled by `scale` (aspect ratio kept) to new_w×new_h and centred, with
    `pad_x`/`pad_y` pixels of fill on the left/top. A point p of the model input maps
    back to the image as ((px - pad_x) / scale, (py - pad_y) / scale).
    """
    h, w = int(image_hw[0]), int(image_hw[1])
    scale = min(width / w, height / h)
    new_w = min(width, max(1, int(round(w * scale))))
    new_h = min(height, max(1, int(round(h * scale))))
    return scale, (width - new_w) // 2, (height - new_h) // 2, new_w, new_h


def letterbox(
    image: np.ndarray, height: int, width: int, method: str = "bilinear"
) -> tuple[np.ndarray, tuple[float, int, int]]:
    """Resize keeping the aspect ratio and pad (with LETTERBOX_FILL = black) to height×width.

    Used by `crop == "letterbox"` models (the face detector) in training and at run time.
    Returns (canvas, (scale, pad_x, pad_y)); see `letterbox_params` for the inverse map.
    """
    scale, pad_x, pad_y, new_w, new_h = letterbox_params(image.shape[:2], height, width)
    scaled = resize(image, new_h, new_w, method)
    canvas = np.full((height, width) + image.shape[2:], LETTERBOX_FILL, image.dtype)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = scaled
    return canvas, (scale, pad_x, pad_y)


def normalize(pixels: np.ndarray, spec: InputSpec) -> np.ndarray:
    """(pixels - mean) / std as float32, per channel."""
    mean = np.asarray(spec.mean, np.float32)
    std = np.asarray(spec.std, np.float32)
    return (pixels.astype(np.float32) - mean) / std


def preprocess(image: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Image (BGR or greyscale uint8, any size) → float32 (H, W, C) model input."""
    return normalize(prepare_pixels(image, spec), spec)


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: np.dtype) -> np.ndarray:
    """Float tensor → integer tensor with the model's input quantization (round half to even)."""
    info = np.iinfo(dtype)
    q = np.round(x / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (q.astype(np.float32) - zero_point) * np.float32(scale)


def square_box(box: tuple[float, float, float, float], margin: float) -> tuple[float, float, float, float]:
    """Square box (x, y, side, side) centred on `box` (x, y, w, h), grown by `margin` per side."""
    x, y, w, h = box
    side = max(w, h) * (1.0 + 2.0 * margin)
    cx, cy = x + w / 2.0, y + h / 2.0
    return cx - side / 2.0, cy - side / 2.0, side, side


def crop_square(
    image: np.ndarray, box: tuple[float, float, float, float], margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Cut the square face crop a `crop == "face"` model takes; pads with edge pixels.

    Returns (crop, origin_scale) where origin_scale = (x0, y0, side): a point p in the
    crop's own pixel grid of size `side` maps back to the image as (x0, y0) + p.
    """
    x0, y0, side, _ = square_box(box, margin)
    side_px = max(int(round(side)), 1)
    x0i, y0i = int(round(x0)), int(round(y0))
    h, w = image.shape[:2]
    pad = max(0, -x0i, -y0i, x0i + side_px - w, y0i + side_px - h)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crop = image[y0i + pad : y0i + pad + side_px, x0i + pad : x0i + pad + side_px]
    return np.ascontiguousarray(crop), np.array([x0i, y0i, side_px], np.float32)
