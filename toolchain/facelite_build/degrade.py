"""Synthetic degradations of clean photos: what a poor selfie does to a face, made on purpose.

A restoration model (task `image_to_image`) learns to undo these, and
`benchmarks/restoration_eval.py` measures it on held-out faces with the same code. Every
degradation starts from a clean image at the target resolution and ends `scale`× smaller,
as a phone would have captured the face at that lower resolution:

1. `downscale`: area-average by `scale` (`facelite.preprocess.resize`, "area"): the face
   covered fewer sensor pixels. Every kind starts with it; alone it is plain ×2
   super-resolution.
2. `blur`: a Gaussian blur of σ ~ U(BLUR_SIGMA) low-resolution pixels (missed focus,
   a small hand shake).
3. `noise`: Gaussian sensor noise of σ ~ U(NOISE_SIGMA) pixel levels, drawn per pixel and
   channel, then rounded and clipped to 8 bits.
4. `low_light`: the exposure scaled by a gain ~ U(LOW_LIGHT_GAIN), read noise of
   σ ~ U(LOW_LIGHT_READ_NOISE) levels added and the result rounded to 8 bits (few levels
   left), then brightened back by 1 / gain as a phone's auto-exposure does: amplified
   noise and banding at the original brightness (the target does not change its exposure).
5. `jpeg`: JPEG-encoded at a quality ~ U{JPEG_QUALITY} (OpenCV's encoder, 4:2:0) and decoded.
6. `mixed` (what training draws): the plain downscale with probability MIX_PLAIN (a
   capture that is only small must not come out worse than bicubic); otherwise blur with
   probability MIX_BLUR, then low light (MIX_LOW_LIGHT) or noise (MIX_NOISE) or neither,
   then JPEG with probability MIX_JPEG, in that order, as a camera pipeline applies them.

All draws come from the caller's `numpy.random.Generator`, so a seed fixes a degraded
set. Images are uint8 (H, W, 3) in `color` order (JPEG needs to know which channel is
blue); sides must be multiples of `scale`.

Example:

    >>> import numpy as np
    >>> clean = np.full((32, 32, 3), 200, np.uint8)
    >>> degrade(clean, "noise", np.random.default_rng(0)).shape
    (16, 16, 3)
"""

from __future__ import annotations

import cv2
import numpy as np

from facelite.errors import UserError
from facelite.preprocess import resize

KINDS = ("downscale", "blur", "noise", "low_light", "jpeg", "mixed")
"""Degradations `degrade` makes; the first five alone, `mixed` a random combination."""

BLUR_SIGMA = (0.5, 1.2)
NOISE_SIGMA = (4.0, 16.0)
LOW_LIGHT_GAIN = (0.15, 0.35)
LOW_LIGHT_READ_NOISE = (1.0, 2.5)
JPEG_QUALITY = (25, 60)
MIX_PLAIN, MIX_BLUR, MIX_LOW_LIGHT, MIX_NOISE, MIX_JPEG = 0.25, 0.4, 0.25, 0.45, 0.5
"""`mixed`'s probabilities. With the first build's mix (no MIX_PLAIN: 9% of draws plain) the
model smoothed clean ×2 inputs, 2.9 dB below bicubic on held-out faces."""


def degrade(clean: np.ndarray, kind: str, rng: np.random.Generator, scale: int = 2,
            color: str = "rgb") -> np.ndarray:
    """`clean` (H, W, 3) uint8 → its `kind` degradation, (H / scale, W / scale, 3) uint8."""
    if kind not in KINDS:
        raise UserError(f"degradation '{kind}': unknown; use one of {', '.join(KINDS)}")
    h, w = clean.shape[:2]
    if h % scale or w % scale:
        raise UserError(f"a {w}×{h} image cannot be downscaled by {scale}: its sides must be multiples of it")
    small = resize(np.ascontiguousarray(clean), h // scale, w // scale, "area")
    steps = [kind] if kind != "mixed" else _mixed_steps(rng)
    for step in steps:
        small = STEPS[step](small, rng, color)
    return small


def _mixed_steps(rng: np.random.Generator) -> list[str]:
    if rng.random() < MIX_PLAIN:
        return []
    steps = ["blur"] if rng.random() < MIX_BLUR else []
    sensor = rng.random()
    if sensor < MIX_LOW_LIGHT:
        steps.append("low_light")
    elif sensor < MIX_LOW_LIGHT + MIX_NOISE:
        steps.append("noise")
    if rng.random() < MIX_JPEG:
        steps.append("jpeg")
    return steps


def _blur(image: np.ndarray, rng: np.random.Generator, color: str) -> np.ndarray:
    sigma = rng.uniform(*BLUR_SIGMA)
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)


def _to_8bit(values: np.ndarray) -> np.ndarray:
    return np.clip(np.round(values), 0, 255).astype(np.uint8)


def _noise(image: np.ndarray, rng: np.random.Generator, color: str) -> np.ndarray:
    sigma = rng.uniform(*NOISE_SIGMA)
    return _to_8bit(image + rng.normal(0.0, sigma, image.shape))


def _low_light(image: np.ndarray, rng: np.random.Generator, color: str) -> np.ndarray:
    gain, read = rng.uniform(*LOW_LIGHT_GAIN), rng.uniform(*LOW_LIGHT_READ_NOISE)
    dark = _to_8bit(image * gain + rng.normal(0.0, read, image.shape))
    return _to_8bit(dark / gain)


def _jpeg(image: np.ndarray, rng: np.random.Generator, color: str) -> np.ndarray:
    quality = int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
    bgr = image if color == "bgr" else image[:, :, ::-1]
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 3-channel image
        raise UserError("OpenCV could not JPEG-encode the image")
    out = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return out if color == "bgr" else np.ascontiguousarray(out[:, :, ::-1])


STEPS = {"downscale": lambda image, rng, color: image, "blur": _blur, "noise": _noise,
         "low_light": _low_light, "jpeg": _jpeg}
