"""CenterNet-style single-class face detector: head, targets, augmentation, loss, metrics.

Model: a MobileNet v1 backbone with a small top-down merge (stride 32 → 16 [→ 8]) and
three 1×1 heads, all sigmoid and concatenated into ONE output tensor (Hs, Ws, 5):

    channel 0   heatmap   face-centre probability per cell
    channel 1-2 size      box (w, h) as fractions of the input side
    channel 3-4 offset    sub-cell centre (dx, dy) in cells from the cell's top-left

Every channel lies in [0, 1], so the int8 variant has one output scale/zero-point that
suits all of them. The manifest's `output` names the channels (`output_spec`), and the
runtime splits and decodes them with `facelite.detection` — the same decoder
`detection_metrics` uses here.

Boxes: the 68 points' extent grown by `data.box_margin` per side (`pts_tasks`), as input
fractions (x, y, w, h) of the letterboxed photo. Metrics undo that margin and compare
with the points' extent box (IoU ≥ 0.5), like `facelite evaluate`.

Augmentation (numpy/OpenCV, per sample, box-consistent): zoom about the face
(log-uniform, `scale`), shift (`shift`), small rotation (`rotation`, the box is kept
axis-aligned at its rotated centre), flip, brightness/contrast/saturation, random
greyscale, and mosaic (`mosaic` = probability of a 2×2 grid of four augmented photos,
i.e. four faces at half size in one picture).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import tensorflow as tf
import tf_keras as keras

from facelite.detection import Box, box_to_extent, decode_output, iou
from facelite.errors import RecipeError
from facelite.preprocess import LETTERBOX_FILL

from .data import Examples
from .recipe import Recipe

CHANNELS = ["heatmap", "size_w", "size_h", "offset_x", "offset_y"]
TARGET_CHANNELS = 6  # heatmap, size w/h, offset x/y, regression mask
SIZE_WEIGHT = 5.0
OFFSET_WEIGHT = 1.0
SIGMA_FRACTION = 0.08  # Gaussian sigma = this × sqrt(w·h) of the box, in cells (≥ 0.5)
# Operating point written to the manifest (`output.score_threshold`), which the runtime's
# FaceDetector uses by default. Chosen on the HELEN photos of the TRAINING split (740, not
# the held-out val): the highest recall with <= 0.1 false boxes/image, for fp32 and int8.
SCORE_THRESHOLD = 0.4
IOU_THRESHOLD = 0.4  # FaceDetectorOptions.iou_threshold
IOU_MATCH = 0.5
MIN_VISIBLE = 0.4  # augmented faces with less of their box inside the frame are dropped
_TAPS = {8: "conv_pw_5_relu", 16: "conv_pw_11_relu", 32: "conv_pw_13_relu"}


def grid_size(recipe: Recipe) -> int:
    return recipe.input.size // recipe.head.stride


def build_centernet(recipe: Recipe, backbone: keras.Model) -> keras.Model:
    """Backbone → top-down merge to `head.stride` → packed sigmoid (heatmap, size, offset)."""
    stride, c = recipe.head.stride, recipe.head.channels
    if recipe.backbone.arch != "mobilenet_v1":
        raise RecipeError("head.type 'centernet' is implemented for backbone.arch = 'mobilenet_v1'")
    if stride not in (8, 16) or recipe.input.size % 32:
        raise RecipeError("centernet needs head.stride 8 or 16 and input.size a multiple of 32")

    def lateral(x, name):
        x = keras.layers.Conv2D(c, 1, use_bias=False, name=f"{name}_conv")(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
        return x

    x = lateral(backbone.get_layer(_TAPS[32]).output, "lat32")
    level = 32
    while level > stride:
        level //= 2
        x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"up{level}")(x)
        x = keras.layers.Add(name=f"merge{level}")([x, lateral(backbone.get_layer(_TAPS[level]).output, f"lat{level}")])
        x = keras.layers.ReLU(name=f"merge{level}_relu")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="head_dw")(x)
    x = keras.layers.BatchNormalization(name="head_dw_bn")(x)
    x = keras.layers.ReLU(name="head_dw_relu")(x)
    x = keras.layers.Conv2D(c, 1, use_bias=False, name="head_pw")(x)
    x = keras.layers.BatchNormalization(name="head_pw_bn")(x)
    x = keras.layers.ReLU(name="head_pw_relu")(x)
    prior = -math.log((1 - 0.05) / 0.05)
    heat = keras.layers.Conv2D(1, 1, activation="sigmoid", name="heatmap",
                               bias_initializer=keras.initializers.Constant(prior))(x)
    size = keras.layers.Conv2D(2, 1, activation="sigmoid", name="size")(x)
    offset = keras.layers.Conv2D(2, 1, activation="sigmoid", name="offset")(x)
    out = keras.layers.Concatenate(name="detections")([heat, size, offset])
    return keras.Model(backbone.input, out, name=recipe.name)


def output_spec(recipe: Recipe) -> dict:
    """Manifest `output` extras: how the runtime splits and decodes the packed tensor."""
    g = grid_size(recipe)
    return {
        "shape": [1, g, g, len(CHANNELS)],  # the model's output tensor (goldens are stored flat)
        "stride": recipe.head.stride,
        "grid": [g, g],
        "channels": list(CHANNELS),
        "heatmap_activation": "sigmoid",
        "size": "box (w, h) as fractions of the input width and height",
        "offset": "centre (dx, dy) in cells from the cell's top-left corner",
        "box_margin": recipe.data.box_margin,
        "box": "extent of the 68 landmarks grown by box_margin of its size on each side",
        "score_threshold": SCORE_THRESHOLD,
        "iou_threshold": IOU_THRESHOLD,
    }


# -- targets ---------------------------------------------------------------------------


def make_targets(boxes: np.ndarray, size: int, stride: int) -> np.ndarray:
    """Boxes (K, 4) as input fractions (x, y, w, h) → (G, G, 6) training target.

    Channel 0: max over faces of a Gaussian peaking at exactly 1 on the centre cell;
    1-2: (w, h) on the centre cell; 3-4: (dx, dy) sub-cell offset; 5: 1 on centre cells.
    """
    g = size // stride
    t = np.zeros((g, g, TARGET_CHANNELS), np.float32)
    yy, xx = np.mgrid[0:g, 0:g].astype(np.float32)
    for x, y, w, h in np.reshape(boxes, (-1, 4)):
        if w <= 0 or h <= 0:
            continue
        cx, cy = (x + w / 2.0) * g, (y + h / 2.0) * g
        if not (0.0 <= cx < g and 0.0 <= cy < g):
            continue
        ci, cj = int(cx), int(cy)
        sigma = max(0.5, SIGMA_FRACTION * math.sqrt(w * h) * g)
        gauss = np.exp(-((xx - ci) ** 2 + (yy - cj) ** 2) / (2.0 * sigma * sigma))
        t[..., 0] = np.maximum(t[..., 0], gauss)
        t[cj, ci, 0] = 1.0
        t[cj, ci, 1:3] = np.clip([w, h], 0.0, 1.0)
        t[cj, ci, 3:5] = cx - ci, cy - cj
        t[cj, ci, 5] = 1.0
    return t


# -- augmentation ----------------------------------------------------------------------


def _warp(image: np.ndarray, box: np.ndarray, rng: np.random.Generator, cfg, size: int):
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


def _photometric(image: np.ndarray, rng: np.random.Generator, cfg) -> np.ndarray:
    img = image.astype(np.float32)
    if img.shape[-1] == 3 and rng.random() < 0.1:
        img[:] = img.mean(axis=-1, keepdims=True)
    elif img.shape[-1] == 3 and cfg.contrast:
        grey = img.mean(axis=-1, keepdims=True)
        img = grey + (img - grey) * rng.uniform(1 - cfg.contrast, 1 + cfg.contrast)
    if cfg.contrast:
        mean = img.mean()
        img = (img - mean) * rng.uniform(1 - cfg.contrast, 1 + cfg.contrast) + mean
    if cfg.brightness:
        img = img + rng.uniform(-cfg.brightness, cfg.brightness) * 255.0
    return np.clip(img, 0, 255)


def augment_sample(examples: Examples, i: int, rng: np.random.Generator, cfg, size: int):
    """One augmented (image float32 0..255, boxes (K, 4)) training sample."""
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


def make_detection_dataset(examples: Examples, recipe: Recipe, shuffle: bool, augment: bool) -> tf.data.Dataset:
    """(normalised images (B, S, S, C), targets (B, G, G, 6)) batches."""
    spec = recipe.input_spec
    size, stride = recipe.input.size, recipe.head.stride
    g = size // stride
    cfg = recipe.training.augmentation
    mean = np.asarray(spec.mean, np.float32)
    std = np.asarray(spec.std, np.float32)
    rng = np.random.default_rng(recipe.data.seed)
    n = len(examples)

    def batch_fn(idx):
        xs, ts = [], []
        for i in idx:
            if augment:
                img, boxes = augment_sample(examples, int(i), rng, cfg, size)
            else:
                img, boxes = examples.x[i].astype(np.float32), examples.y[i][None]
            xs.append((img - mean) / std)
            ts.append(make_targets(boxes, size, stride))
        return np.stack(xs).astype(np.float32), np.stack(ts)

    def load(idx):
        x, t = tf.numpy_function(batch_fn, [idx], (tf.float32, tf.float32))
        x.set_shape((None, size, size, spec.channels))
        t.set_shape((None, g, g, TARGET_CHANNELS))
        return x, t

    ds = tf.data.Dataset.range(n)
    if shuffle:
        ds = ds.shuffle(n, seed=recipe.data.seed, reshuffle_each_iteration=True)
    ds = ds.batch(recipe.training.batch).map(load, num_parallel_calls=1)
    return ds.prefetch(2)


# -- loss --------------------------------------------------------------------------------


def centernet_loss(recipe: Recipe):
    """Penalty-reduced focal loss on the heatmap (CenterNet, α=2, β=4) + L1 on size and offset."""

    def loss(y_true, y_pred):
        heat_t, size_t, off_t, mask = y_true[..., 0:1], y_true[..., 1:3], y_true[..., 3:5], y_true[..., 5:6]
        p = tf.clip_by_value(y_pred[..., 0:1], 1e-4, 1.0 - 1e-4)
        pos = tf.cast(heat_t >= 0.999, tf.float32)
        pos_loss = tf.math.log(p) * tf.square(1.0 - p) * pos
        neg_loss = tf.math.log(1.0 - p) * tf.square(p) * tf.pow(1.0 - heat_t, 4.0) * (1.0 - pos)
        num = tf.maximum(tf.reduce_sum(mask), 1.0)
        focal = -(tf.reduce_sum(pos_loss) + tf.reduce_sum(neg_loss)) / tf.maximum(tf.reduce_sum(pos), 1.0)
        size_l1 = tf.reduce_sum(tf.abs(y_pred[..., 1:3] - size_t) * mask) / num
        off_l1 = tf.reduce_sum(tf.abs(y_pred[..., 3:5] - off_t) * mask) / num
        return focal + SIZE_WEIGHT * size_l1 + OFFSET_WEIGHT * off_l1

    return loss


# -- metrics ----------------------------------------------------------------------------


def decode_all(outputs_flat: np.ndarray, recipe: Recipe) -> list[list[Box]]:
    """Flat model outputs (N, G·G·5) → boxes per image (input pixels), via the runtime decoder."""
    g, s = grid_size(recipe), recipe.input.size
    spec = output_spec(recipe)
    outs = np.asarray(outputs_flat, np.float32).reshape(-1, g, g, len(CHANNELS))
    boxes = []
    for o in outs:
        found = decode_output(o, spec, (s, s), SCORE_THRESHOLD, IOU_THRESHOLD)
        found = [b.clipped(s, s) for b in found]
        boxes.append([b for b in found if b.w > 1 and b.h > 1])
    return boxes


def detection_metrics(outputs_flat: np.ndarray, val: Examples, recipe: Recipe) -> dict:
    """recall / precision / false_boxes_per_image at IoU ≥ 0.5 vs the points' extent box."""
    s, m = recipe.input.size, recipe.data.box_margin
    found = decode_all(outputs_flat, recipe)
    tp = n_pred = 0
    for boxes, gt in zip(found, val.y):
        truth = box_to_extent(Box(*(gt * s)), m)
        extents = [box_to_extent(b, m) for b in boxes]
        tp += int(any(iou(b, truth) >= IOU_MATCH for b in extents))
        n_pred += len(extents)
    n = len(found)
    return {
        "n": n,
        "recall": round(tp / n, 4) if n else None,
        "precision": round(tp / n_pred, 4) if n_pred else None,
        "false_boxes_per_image": round((n_pred - tp) / n, 4) if n else None,
        "iou_threshold": IOU_MATCH,
    }
