"""Image to image: 300W photos → a small ×2 restoration CNN for poor face crops.

Data: `data.layout = "pts300w"`, split by photo with `splits.split_pairs` (the shipped
recipe holds out the landmarker's seeded 15% of HELEN, never trained on). Each face
becomes a **clean face**: the eye-aligned skin crop of `facelite.skin_measures.face_crop`
cut at the photo's own resolution and area-averaged to `FACE_SIZE` (the skin crop size),
so the target is as sharp as the photo allows; faces with fewer than `FACE_SIZE` pixels
across the crop are left out (counted in `Splits.info`). Its degraded copy
(`facelite_build.degrade`) is `SCALE`× smaller: the face a poor selfie gives.

The model works on tiles of the recipe's input size (64): a degraded tile in, the clean
tile `SCALE`× as large out. Training draws, every epoch and for every face, a fresh
degradation (`degrade.degrade`, kind `mixed`) of the horizontally flipped or unflipped
clean face and a random tile of it and of its target; `Examples.x` keeps one seeded
degraded tile per face for int8 calibration, `Examples.y` the clean faces. Validation is
fixed: each held-out face degraded once (seeded, `mixed`) and cut into its
(FACE_SIZE / SCALE / input size)² tiles, with their clean targets.

Model (`restoration_model`): a fixed bicubic ×`SCALE` upsample (OpenCV's kernel, a = −0.75,
as a constant 5×5 convolution into the `SCALE`² sub-pixel phases) plus a learned residual
— `FEATURE_LAYERS` 3×3 convolutions of `head.channels` with ReLU and a 3×3 convolution to
the phases, zero-initialised so training starts at bicubic — rearranged by depth-to-space.
Convolutions, an add and depth-to-space only: every variant runs on the GPU and NPU
delegates. The receptive field's radius (`context`) goes to the manifest so tiles can be
stitched exactly. Inputs and outputs share the recipe's normalisation; the output block
is `facelite.tasks.OutputImageSpec`. Loss: L1 on the normalised output.

Manifest metrics: PSNR and SSIM of the restored validation tiles and of their bicubic
upscale against the clean tiles (`facelite.tasks.restoration_scores`), and PSNR of each
variant's pixels against fp32's.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facelite.datasets import read_pts
from facelite.image import load_image
from facelite.metrics import psnr_db
from facelite.preprocess import normalize, resize, to_color
from facelite.skin_measures import SKIN_CROP_SIZE, crop_matrix, face_crop
from facelite.tasks import OutputImageSpec, restoration_scores

from ..data import Examples, Splits
from ..degrade import degrade
from ..splits import split_pairs
from .base import BuildTask

if TYPE_CHECKING:
    from ..recipe import Recipe

SCALE = 2
"""Output pixels per input pixel, along each axis."""
FACE_SIZE = SKIN_CROP_SIZE
"""Side of a clean face; its degraded copy is FACE_SIZE / SCALE."""
FEATURE_LAYERS = 4
"""3×3 ReLU convolutions of the residual branch (then one 3×3 convolution to the phases)."""
CUBIC_A = -0.75
"""The bicubic kernel's parameter, OpenCV's (`cv2.INTER_CUBIC`)."""


def clean_faces(pairs: list[tuple[Path, Path]], color: str) -> tuple[np.ndarray, list[str], int]:
    """(faces (N, FACE_SIZE, FACE_SIZE, 3) uint8 in `color` order, their photos, faces left out).

    A face is cut at the photo's resolution (crop side = FACE_SIZE / the crop's scale) and
    area-averaged to FACE_SIZE; faces the photo holds at fewer pixels are left out.
    """
    faces, names, small = [], [], 0
    for image_path, pts_path in pairs:
        points = read_pts(pts_path)
        m = crop_matrix(points, FACE_SIZE)
        scale = math.hypot(m[0, 0], m[0, 1])  # crop pixels per photo pixel
        if scale > 1.0:
            small += 1
            continue
        native = face_crop(load_image(image_path), points, int(math.ceil(FACE_SIZE / scale))).image
        faces.append(to_color(resize(native, FACE_SIZE, FACE_SIZE, "area"), color))
        names.append(str(image_path))
    shape = (0, FACE_SIZE, FACE_SIZE, 3)
    return (np.stack(faces) if faces else np.empty(shape, np.uint8)), names, small


def tiles(image: np.ndarray, size: int) -> list[np.ndarray]:
    """The non-overlapping size×size tiles of `image`, row by row (sides multiples of size)."""
    h, w = image.shape[:2]
    return [image[y:y + size, x:x + size] for y in range(0, h, size) for x in range(0, w, size)]


def cubic_weights(offset: float) -> np.ndarray:
    """The 4 bicubic taps for a sample `offset` (0 ≤ offset < 1) past the first middle tap."""
    def w(t: float) -> float:
        t = abs(t)
        if t <= 1.0:
            return (CUBIC_A + 2.0) * t**3 - (CUBIC_A + 3.0) * t**2 + 1.0
        return CUBIC_A * t**3 - 5.0 * CUBIC_A * t**2 + 8.0 * CUBIC_A * t - 4.0 * CUBIC_A if t < 2.0 else 0.0

    return np.array([w(1.0 + offset), w(offset), w(1.0 - offset), w(2.0 - offset)])


def bicubic_kernel(scale: int, channels: int) -> np.ndarray:
    """A (K, K, C, C·scale²) convolution kernel whose output, rearranged by depth-to-space,
    is the bicubic ×`scale` upsample (half-pixel centres, as OpenCV) away from the borders.

    Output row scale·i + d samples input row i + (d + 0.5) / scale − 0.5.
    """
    radius = 2
    taps = np.zeros((scale, 2 * radius + 1))
    for d in range(scale):
        pos = (d + 0.5) / scale - 0.5
        first = math.floor(pos) - 1
        taps[d, first + radius: first + radius + 4] = cubic_weights(pos - math.floor(pos))
    k = np.zeros((2 * radius + 1, 2 * radius + 1, channels, channels * scale * scale), np.float32)
    for dy in range(scale):
        for dx in range(scale):
            for c in range(channels):
                k[:, :, c, (dy * scale + dx) * channels + c] = np.outer(taps[dy], taps[dx])
    return k


def restoration_model(recipe: "Recipe"):
    """The restoration CNN of the module docstring, for the recipe's input size and width."""
    import tensorflow as tf
    import tf_keras as keras

    s, c = recipe.input.size, recipe.input.channels
    phases = c * SCALE * SCALE
    x = inputs = keras.Input((s, s, c), name="input")
    base = keras.layers.Conv2D(phases, 5, padding="same", use_bias=False, trainable=False,
                               kernel_initializer=keras.initializers.Constant(bicubic_kernel(SCALE, c)),
                               name="bicubic")(inputs)
    for i in range(FEATURE_LAYERS):
        x = keras.layers.Conv2D(recipe.head.channels, 3, padding="same", activation="relu",
                                kernel_initializer="he_normal", name=f"features_{i + 1}")(x)
    x = keras.layers.Conv2D(phases, 3, padding="same", kernel_initializer="zeros", name="residual")(x)
    x = keras.layers.Add(name="restored_phases")([base, x])
    out = keras.layers.Lambda(lambda t: tf.nn.depth_to_space(t, SCALE), name="depth_to_space")(x)
    return keras.Model(inputs, out, name=recipe.name)


def context(recipe: "Recipe") -> int:
    """Radius of the model's receptive field in input pixels: one per 3×3 convolution
    (the fixed 5×5 bicubic branch reaches 2, less)."""
    return FEATURE_LAYERS + 1


class ImageToImage(BuildTask):
    name = "image_to_image"
    head = "restoration"
    layout = "pts300w"
    crops = ("none",)  # the model takes tiles already cut
    backbone = False
    golden_count = 2  # each golden output is a 128×128×3 float32 image (197 KB per variant)

    def output_spec(self, recipe: "Recipe") -> OutputImageSpec:
        spec = recipe.input_spec
        return OutputImageSpec(SCALE, spec.color, spec.mean, spec.std, context(recipe))

    def load_splits(self, recipe: "Recipe", root: Path, limit: int | None = None) -> Splits:
        d, spec = recipe.data, recipe.input_spec
        train_pairs, val_pairs = split_pairs(recipe, root, limit)
        train, train_names, train_small = clean_faces(train_pairs, spec.color)
        val, val_names, val_small = clean_faces(val_pairs, spec.color)
        rng = np.random.default_rng(d.seed)
        size = spec.height
        calib = []
        for i, face in enumerate(train):  # one tile per face, each face's next tile in turn
            degraded = tiles(degrade(face, "mixed", rng, SCALE, spec.color), size)
            calib.append(degraded[i % len(degraded)])
        x_val, y_val, names = [], [], []
        for face, name in zip(val, val_names):
            targets = tiles(face, size * SCALE)
            x_val += tiles(degrade(face, "mixed", rng, SCALE, spec.color), size)
            y_val += targets
            names += [f"{name}#tile{i}" for i in range(len(targets))]
        info = {"faces": {"train": len(train), "val": len(val)},
                "left_out_small_faces": {"train": train_small, "val": val_small},
                "face_size": FACE_SIZE, "degradation": "mixed (facelite_build.degrade)"}
        print(f"  restoration faces: {info}", file=sys.stderr)
        empty = np.empty((0, size, size, spec.channels), np.uint8)
        return Splits(
            Examples(np.stack(calib) if calib else empty, train, train_names),
            Examples(np.stack(x_val) if x_val else empty,
                     np.stack(y_val) if y_val else np.empty((0, size * SCALE, size * SCALE, 3), np.uint8), names),
            [], info)

    def n_outputs(self, labels: list[str]) -> int:
        return 3

    def build_head(self, recipe, backbone, n_outputs):
        return restoration_model(recipe)

    def datasets(self, recipe, splits):
        from ..dataset import make_sample_dataset

        spec, batch, seed = recipe.input_spec, recipe.training.batch, recipe.data.seed
        size, out = spec.height, spec.height * SCALE
        target_shape = (out, out, spec.channels)
        rng = np.random.default_rng(seed + 1)
        faces = splits.train.y
        span = FACE_SIZE // SCALE - size

        def train_sample(i: int):
            face = faces[i] if rng.random() < 0.5 else faces[i][:, ::-1]
            degraded = degrade(np.ascontiguousarray(face), "mixed", rng, SCALE, spec.color)
            y0, x0 = (int(v) for v in rng.integers(0, span + 1, 2))
            target = face[y0 * SCALE: y0 * SCALE + out, x0 * SCALE: x0 * SCALE + out]
            return degraded[y0:y0 + size, x0:x0 + size], normalize(target, spec)

        def val_sample(i: int):
            return splits.val.x[i], normalize(splits.val.y[i], spec)

        train = make_sample_dataset(splits.train, spec, batch, train_sample, target_shape, shuffle=True, seed=seed)
        return train, make_sample_dataset(splits.val, spec, batch, val_sample, target_shape)

    def loss(self, recipe):
        import tf_keras as keras

        return keras.losses.MeanAbsoluteError(), []

    def metrics(self, outputs, val, recipe, reference=None):
        spec = self.output_spec(recipe)
        shape = (-1, *val.y.shape[1:])
        restored = spec.to_pixels(np.asarray(outputs).reshape(shape))
        out = restoration_scores(list(restored), list(val.x), list(val.y), SCALE)
        if reference is not None:
            out["psnr_db_vs_fp32"] = psnr_db(restored, spec.to_pixels(np.asarray(reference).reshape(shape)), 255.0)
        return out

    def output(self, recipe):
        s = recipe.input.size * SCALE
        return {**self.output_spec(recipe).to_manifest(), "shape": [1, s, s, recipe.input.channels]}

