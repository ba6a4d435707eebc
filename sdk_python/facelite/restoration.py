"""Restoration of poor selfies: a face crop → denoised and ×2 super-resolved, by a bundle.

When the capture gate (`facelite.quality`) finds a face `low_resolution` or `noisy` and
the caller allows it, the skin stages may measure a restored crop instead: the
`restoration` bundle (task `image_to_image`, `models/restoration/MODEL_CARD.md`) was
trained on HELEN/AFW faces with synthetic noise, blur, JPEG, low light and downscaling,
to give back the clean face at twice the resolution.

The model takes fixed-size tiles (the manifest's `input.shape`, 64×64) and outputs them
`scale`× as large (`facelite.tasks.OutputImageSpec`). `FaceRestorer.restore` cuts any
image into overlapping tiles (`tile_starts`), runs each through the preprocessing spec
(`preprocess.prepare_pixels` + `normalize`) and the model, decodes the pixels by the
manifest's output block, and keeps of each tile only the part at least `context` input
pixels from its inner edges, where the model saw all it needs; the stitched image is
therefore what one run over the whole image would give. An image smaller than a tile is
padded by repeating its last row and column, and the padding cut off again.

`restore_face` is the way the skin stages use it: the skin crop of a face cut at the
photo's own resolution (`native_crop_side`, kept between `SKIN_CROP_SIZE / scale` and
`SKIN_CROP_SIZE`: all the detail the photo has, none made up by the cut), restored, and
area-averaged to a full `SKIN_CROP_SIZE` crop where the restoration overshoots it, with
its matrix and points scaled to match.

Example:

    >>> import numpy as np
    >>> from facelite.restoration import FaceRestorer, tile_starts
    >>> tile_starts(128, 64, 5)           # tiles at 0, 54 and 64; each keeps ≥ 5 px from inner edges
    [0, 54, 64]
    >>> restorer = FaceRestorer.create_from_options()                 # the shipped bundle  # doctest: +SKIP
    >>> restorer.restore(np.zeros((100, 80, 3), np.uint8)).shape                           # doctest: +SKIP
    (200, 160, 3)
"""

from __future__ import annotations

from dataclasses import dataclass

import math

import numpy as np

from .errors import UserError
from .image import load_image
from .options import TaskOptions
from .preprocess import normalize, prepare_pixels, resize
from .skin_measures import SKIN_CROP_SIZE, FaceCrop, crop_matrix, face_crop
from .tasks import OutputImageSpec
from .vision_task import VisionTask

SHIPPED = "restoration"
"""The shipped bundle's name (`models/restoration/restoration.flb`)."""


def tile_starts(length: int, tile: int, context: int) -> list[int]:
    """Where tiles of `tile` pixels start along an axis of `length` ≥ `tile` pixels.

    Consecutive tiles overlap by 2·`context`, so the part of each tile kept by
    `kept_span` meets the next tile's; the last tile ends at the image's edge.
    """
    if length <= tile:
        return [0]
    step = tile - 2 * context
    starts = [0]
    while starts[-1] + tile < length:
        starts.append(min(starts[-1] + step, length - tile))
    return starts


def kept_span(starts: list[int], k: int, length: int, tile: int, context: int) -> tuple[int, int]:
    """Input pixels [lo, hi) that tile `k` (of `starts`) writes: all but `context` pixels
    at each edge shared with a neighbour. Tiles are written in order, a later one
    overwriting where the last tile's span reaches back over its predecessor's."""
    lo = 0 if k == 0 else starts[k] + context
    hi = length if k == len(starts) - 1 else starts[k] + tile - context
    return lo, hi


@dataclass(frozen=True, kw_only=True)
class FaceRestorerOptions(TaskOptions):
    """Attributes:
        base_options: bundle, variant, accelerator, threads; no bundle path means the
            shipped `restoration` bundle.
    """


class FaceRestorer(VisionTask):
    """A face crop (BGR uint8, any size) → the restored crop, `scale`× as large (BGR uint8)."""

    options_type = FaceRestorerOptions

    def __init__(self, options: FaceRestorerOptions):
        super().__init__(options)
        self.bundle = self._open_bundle(SHIPPED, "image_to_image")
        self._engine(self.bundle)
        self.spec = self.bundle.input_spec
        self.output = OutputImageSpec.from_manifest(self.bundle.manifest["output"])

    @property
    def scale(self) -> int:
        """Output pixels per input pixel along each axis (the manifest's `output.scale`)."""
        return self.output.scale

    def restore(self, crop) -> np.ndarray:
        """A BGR image (path or array, uint8 H×W×3) → its restoration, (scale·H, scale·W, 3) BGR uint8."""
        self._check_open()
        image = load_image(crop)
        if image.ndim != 3 or image.shape[2] != 3:
            raise UserError(f"restore takes a colour (H, W, 3) image, not shape {image.shape}")
        h, w = image.shape[:2]
        th, tw, c, s = self.spec.height, self.spec.width, self.output.context, self.scale
        padded = np.pad(image, ((0, max(0, th - h)), (0, max(0, tw - w)), (0, 0)), mode="edge")
        ph, pw = padded.shape[:2]
        ys, xs = tile_starts(ph, th, c), tile_starts(pw, tw, c)
        out = np.empty((ph * s, pw * s, 3), np.uint8)
        for i, y in enumerate(ys):
            y0, y1 = kept_span(ys, i, ph, th, c)
            for j, x in enumerate(xs):
                x0, x1 = kept_span(xs, j, pw, tw, c)
                tile = self._run_tile(padded[y:y + th, x:x + tw])
                out[y0 * s:y1 * s, x0 * s:x1 * s] = tile[(y0 - y) * s:(y1 - y) * s, (x0 - x) * s:(x1 - x) * s]
        return out[:h * s, :w * s]

    def _run_tile(self, tile: np.ndarray) -> np.ndarray:
        """One model-size BGR tile → its restored BGR tile (one invoke, batch 1)."""
        pixels, _ = prepare_pixels(np.ascontiguousarray(tile), self.spec)
        restored = self.output.to_pixels(self.engine.run(normalize(pixels, self.spec)[None])[0][0])
        return np.ascontiguousarray(restored[:, :, ::-1]) if self.output.color == "rgb" else restored

    def restore_face(self, image, points) -> FaceCrop:
        """The SKIN_CROP_SIZE skin crop of the face with 68 `points`, restored: cut at
        `native_crop_side` pixels, restored ×scale, area-averaged to SKIN_CROP_SIZE when
        larger (`face_crop`'s matrix and points scaled to match)."""
        side = native_crop_side(points, self.scale)
        crop = face_crop(load_image(image), points, side)
        restored = self.restore(crop.image)
        if restored.shape[0] != SKIN_CROP_SIZE:
            restored = resize(restored, SKIN_CROP_SIZE, SKIN_CROP_SIZE, "area")
        factor = SKIN_CROP_SIZE / side
        return FaceCrop(restored, crop.matrix * factor, (crop.points * factor).astype(np.float32))


def native_crop_side(points, scale: int) -> int:
    """Photo pixels across the face's skin crop (`skin_measures.crop_matrix`), rounded up
    and kept between SKIN_CROP_SIZE / scale and SKIN_CROP_SIZE: the side at which
    `restore_face` cuts the crop, so the cut neither drops detail the photo has nor
    asks the restoration for more than ×scale."""
    m = crop_matrix(points, SKIN_CROP_SIZE)
    native = SKIN_CROP_SIZE / math.hypot(m[0, 0], m[0, 1])
    return int(min(max(math.ceil(native - 1e-6), SKIN_CROP_SIZE // scale), SKIN_CROP_SIZE))
