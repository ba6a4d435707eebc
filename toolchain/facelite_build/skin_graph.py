"""The skin measures as a fixed TensorFlow graph: colour, lighting normalisation, statistics.

No weights are learned: every constant (the sRGB matrix, the filter taps, the thresholds)
is written here and in docs/skin.md §3–§6, which this module implements step by step.
Built as a Keras model (one `SkinMetrics` layer) so the toolchain's converter, gates and
packager treat it like any other model; LiteRT then runs the very same arithmetic in the
Python runtime and the C core.

Input: float32 (1, S, S, 3 + 9): R, G, B on 0..255 from `facelite.skin_measures.face_crop`,
then the 0/1 masks of `facelite.skin_measures.MASK_CHANNELS`. Output: float32
(1, `OUTPUT_SIZE`): `MEASURE_ROWS` × `REGION_MEASURES` row by row, then `GLOBAL_MEASURES`.

Example:

    >>> import numpy as np
    >>> from facelite_build.skin_graph import build_skin_model
    >>> model = build_skin_model(64)
    >>> model.output_shape
    (None, 107)
"""

from __future__ import annotations

import math

import facelite_build  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
import numpy as np
import tensorflow as tf
import tf_keras as keras

from facelite.regions import REGION_NAMES
from facelite.skin_measures import (
    FACE_REGIONS, GLOBAL_MEASURES, MASK_CHANNELS, MEASURE_ROWS, OUTPUT_SIZE, REGION_MEASURES,
)

# -- constants of docs/skin.md ---------------------------------------------------------------

SRGB_TO_XYZ = ((0.4124564, 0.3575761, 0.1804375),
               (0.2126729, 0.7151522, 0.0721750),
               (0.0193339, 0.1191920, 0.9503041))
LUMA_601 = (0.299, 0.587, 0.114)      # sharpness / noise work on 8-bit-scale luma, as OpenCV's grey
CLIP_LEVEL = 250.0                    # a channel at or above this (0..255) is clipped
DARK_Y = 0.02                         # linear luminance below this is crushed shadow
BRIGHT_Y = 0.28                       # linear luminance at or above this reaches mid-grey (L* ≈ 60)
SCLERA_MAX_SATURATION = 0.35          # 1 − min/max of the linear channels (eyelid skin: 0.45 and up)
SCLERA_MIN_BRIGHTNESS = 0.5           # × the brightest unclipped eye pixel's luminance
SCLERA_FULL = 24.0                    # sclera pixels at which the sclera alone sets the white balance
GAIN_LIMIT = 2.0                      # white-balance gains are clamped to [1/2, 2]
Y_REFERENCE = 0.28                    # face-skin mean luminance after exposure normalisation (L* ≈ 60)
# The face skin's mean linear RGB after the measures' skin white balance, at luminance 1: the
# median over the 178 usable ACNE04 level0 faces (sclera white balance where found, else the
# camera's) of each face's mean, rescaled to luminance 1 (docs/skin.md §3.5).
REFERENCE_SKIN = (1.476, 0.901, 0.577)
SHADING_POOL = 4                      # the illumination field is estimated on a 4× pooled grid ...
SHADING_SIGMA = 6.0                   # ... blurred with this σ (grid cells; 24 crop px ≈ 0.33 eye distance)
LOCAL_SIGMA = 4.0                     # local-skin baseline (spots, shine), crop px
TEXTURE_SIGMAS = (0.8, 2.4)           # difference of Gaussians: pore-scale band, crop px
SPOT_DELTA_L = 5.0                    # a spot pixel is this much darker (L*) than its local skin
SHINE_DELTA_L = 6.0                   # a shine pixel is this much brighter (L*) than its local skin ...
SHINE_CHROMA_RATIO = 0.8              # ... with chroma below this fraction of the local skin's
EPS = 1e-6

N_REGIONS = len(REGION_NAMES)
N_ROWS = len(MEASURE_ROWS)


def gaussian_taps(sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian taps over ±ceil(3σ)."""
    r = int(math.ceil(3.0 * sigma))
    t = np.exp(-0.5 * (np.arange(-r, r + 1, dtype=np.float64) / sigma) ** 2)
    return (t / t.sum()).astype(np.float32)


def blur(x: tf.Tensor, sigma: float) -> tf.Tensor:
    """Separable Gaussian of every channel of NHWC `x`, zero outside (SAME padding)."""
    taps = gaussian_taps(sigma)
    c = x.shape[-1]
    kx = tf.constant(np.tile(taps[None, :, None, None], (1, 1, c, 1)))
    ky = tf.constant(np.tile(taps[:, None, None, None], (1, 1, c, 1)))
    x = tf.nn.depthwise_conv2d(x, kx, [1, 1, 1, 1], "SAME")
    return tf.nn.depthwise_conv2d(x, ky, [1, 1, 1, 1], "SAME")


def masked_blur(values: tf.Tensor, mask: tf.Tensor, sigma: float) -> tf.Tensor:
    """Mask-normalised blur: blur(v·m) / blur(m), so pixels outside `mask` do not leak in."""
    n = values.shape[-1]
    both = blur(tf.concat([values * mask, mask], axis=-1), sigma)
    return both[..., :n] / tf.maximum(both[..., n:], EPS)


def srgb_to_linear(c: tf.Tensor) -> tf.Tensor:
    v = c / 255.0
    return tf.where(v <= 0.04045, v / 12.92, tf.pow((tf.maximum(v, 0.04045) + 0.055) / 1.055, 2.4))


def luminance(lin: tf.Tensor) -> tf.Tensor:
    r, g, b = SRGB_TO_XYZ[1]
    return lin[..., 0:1] * r + lin[..., 1:2] * g + lin[..., 2:3] * b


def lab(lin: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """CIELAB (D65 white = the matrix's image of sRGB white) of linear RGB, each (N, H, W, 1)."""
    white = [sum(row) for row in SRGB_TO_XYZ]
    xyz = [(lin[..., 0:1] * m[0] + lin[..., 1:2] * m[1] + lin[..., 2:3] * m[2]) / w
           for m, w in zip(SRGB_TO_XYZ, white)]
    d = 6.0 / 29.0
    t0, k = d ** 3, 3.0 * d * d

    def f(t):
        return tf.where(t > t0, tf.pow(tf.maximum(t, t0), 1.0 / 3.0), t / k + 4.0 / 29.0)

    fx, fy, fz = (f(v) for v in xyz)
    return 116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)


def masked_mean(v: tf.Tensor, m: tf.Tensor) -> tf.Tensor:
    """Σ(v·m) / max(Σm, 1) over H, W: (N, C)."""
    return tf.reduce_sum(v * m, axis=[1, 2]) / tf.maximum(tf.reduce_sum(m, axis=[1, 2]), 1.0)


def region_sums(features: tf.Tensor, masks: tf.Tensor) -> tf.Tensor:
    """(N, H, W, F) features and (N, H, W, R) masks → (N, R, F) sums Σ m_r · f."""
    _, h, w, f = features.shape
    r = masks.shape[-1]
    fm = tf.reshape(features, [-1, h * w, f])
    mm = tf.reshape(masks, [-1, h * w, r])
    return tf.matmul(mm, fm, transpose_a=True)


def flat_field(lin: tf.Tensor, skin: tf.Tensor, face: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(lin with the skin's illumination field divided out, the field F): docs/skin.md §3.3.

    F is the skin's luminance averaged over `SHADING_POOL` cells, blurred by
    `SHADING_SIGMA` cells (mask-normalised) and resized back; `lin · mean_face(Y) / F`
    keeps the face's mean luminance.
    """
    size = lin.shape[2]
    y = luminance(lin)
    pooled = tf.nn.avg_pool2d(tf.concat([y * skin, skin], axis=-1), SHADING_POOL, SHADING_POOL, "VALID")
    small = blur(pooled, SHADING_SIGMA)
    small = small[..., 0:1] / tf.maximum(small[..., 1:2], EPS)
    field = tf.maximum(tf.image.resize(small, [size, size], method="bilinear"), EPS)
    return lin * (masked_mean(y, face)[:, None, None, :] / field), field


def skin_metrics(x: tf.Tensor, normalise: bool = True) -> tf.Tensor:
    """The whole computation of docs/skin.md §3–§6 on a (N, S, S, 12) input → (N, OUTPUT_SIZE).

    `normalise=False` leaves the light as it came (gains 1, no flat field, no exposure
    scaling): the "before" column of docs/skin.md's relighting table (recipe switch
    `measures.normalise`); never shipped.
    """
    rgb255 = x[..., 0:3]
    masks = x[..., 3:]
    regions = masks[..., :N_REGIONS]
    skin = tf.reduce_max(regions, axis=-1, keepdims=True)                     # all seven regions
    face = tf.reduce_max(tf.stack([regions[..., REGION_NAMES.index(r)] for r in FACE_REGIONS], -1),
                         axis=-1, keepdims=True)
    eyes = tf.reduce_max(masks[..., N_REGIONS:], axis=-1, keepdims=True)
    size = x.shape[2]

    # §4 capture measures, on the photo as it came.
    lin = srgb_to_linear(rgb255)
    y = luminance(lin)
    luma = rgb255[..., 0:1] * LUMA_601[0] + rgb255[..., 1:2] * LUMA_601[1] + rgb255[..., 2:3] * LUMA_601[2]
    inner = 1.0 - tf.nn.max_pool2d(1.0 - face, 3, 1, "VALID")                   # 3×3 window inside the face
    lap = tf.nn.conv2d(luma, tf.constant(np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32)[:, :, None, None]),
                       1, "VALID")
    lap_mean = masked_mean(lap, inner)
    sharpness = masked_mean(lap * lap, inner) - lap_mean * lap_mean
    immerkaer = tf.nn.conv2d(luma, tf.constant(np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)[:, :, None, None]),
                             1, "VALID")
    noise = masked_mean(tf.abs(immerkaer), inner) * (math.sqrt(math.pi / 2.0) / 6.0)
    clipped = tf.cast(tf.reduce_max(rgb255, axis=-1, keepdims=True) >= CLIP_LEVEL, tf.float32)
    clipped_fraction = masked_mean(clipped, face)
    dark_fraction = masked_mean(tf.cast(y < DARK_Y, tf.float32), face)
    bright_fraction = tf.reduce_mean(tf.cast(y >= BRIGHT_Y, tf.float32), axis=[1, 2])   # every crop pixel
    column = tf.constant((np.arange(size) < size // 2).astype(np.float32)[None, None, :, None])
    y_left, y_right = masked_mean(y, face * column), masked_mean(y, face * (1.0 - column))
    light_asymmetry = tf.abs(tf.math.log(tf.maximum(y_left, EPS) / tf.maximum(y_right, EPS)))

    # §3.2 white balance: the sclera (bright, unclipped, low-saturation eye pixels).
    lmax = tf.reduce_max(lin, axis=-1, keepdims=True)
    lmin = tf.reduce_min(lin, axis=-1, keepdims=True)
    saturation = 1.0 - lmin / tf.maximum(lmax, EPS)
    usable = eyes * (1.0 - clipped)
    y_eye_max = tf.reduce_max(y * usable, axis=[1, 2, 3], keepdims=True)
    sclera = usable * tf.cast(saturation < SCLERA_MAX_SATURATION, tf.float32) \
        * tf.cast(y >= SCLERA_MIN_BRIGHTNESS * y_eye_max, tf.float32) * tf.cast(y_eye_max > 0.0, tf.float32)
    sclera_pixels = tf.reduce_sum(sclera, axis=[1, 2])
    rgb_s, y_s = masked_mean(lin, sclera), masked_mean(y, sclera)
    ln_gain_s = tf.math.log(tf.maximum(y_s, EPS)) - tf.math.log(tf.maximum(rgb_s, EPS))
    # weight 0 (no sclera): the camera's own white balance stands (docs/skin.md §3.2: why not grey world)
    weight = tf.minimum(sclera_pixels / SCLERA_FULL, 1.0)
    ln_gain = tf.clip_by_value(weight * ln_gain_s, -math.log(GAIN_LIMIT), math.log(GAIN_LIMIT))
    cast = tf.reduce_max(tf.abs(ln_gain - tf.reduce_mean(ln_gain, axis=-1, keepdims=True)), axis=-1, keepdims=True)
    if not normalise:
        ln_gain = ln_gain * 0.0
    gain = tf.exp(ln_gain)
    lin_wb = lin * gain[:, None, None, :]

    # §3.3 uneven light: divide by the smooth illumination field of the skin (flat field).
    if normalise:
        lin_flat, field = flat_field(lin_wb, skin, face)
    else:
        lin_flat, field = lin_wb, flat_field(lin_wb, skin, face)[1]
    far = 1e9
    field_face_max = tf.reduce_max(field * face - (1.0 - face) * far, axis=[1, 2])
    field_face_min = -tf.reduce_max(-field * face - (1.0 - face) * far, axis=[1, 2])
    shading = tf.math.log(tf.maximum(field_face_max, EPS) / tf.maximum(field_face_min, EPS)) \
        * tf.cast(tf.reduce_sum(face, axis=[1, 2]) > 0.0, tf.float32)

    # §3.4 tone: white balanced (sclera) and flat, not yet exposure normalised.
    l_tone, _, b_tone = lab(lin_flat)
    skin_lightness = masked_mean(l_tone, face)
    tone_ita = tf.atan2(skin_lightness - 50.0, masked_mean(b_tone, face)) * (180.0 / math.pi)

    # §3.5 skin white balance and exposure (the measures only): per-channel gains take the
    # face skin's mean linear RGB to Y_REFERENCE × REFERENCE_SKIN, so any global cast or
    # exposure of the crop cancels exactly (up to clipping and 8-bit rounding); then the
    # flat field of the balanced skin, and the face's mean luminance back to Y_REFERENCE.
    skin_rgb = masked_mean(lin_wb, face * (1.0 - clipped))     # clipped pixels' colour is unknown  (N, 3)
    skin_gain = (Y_REFERENCE * tf.constant(REFERENCE_SKIN, tf.float32)) / tf.maximum(skin_rgb, EPS)
    exposure_gain = Y_REFERENCE / tf.maximum(masked_mean(luminance(lin_wb), face), EPS)
    if normalise:
        lin_k = lin_wb * skin_gain[:, None, None, :]
        lin_n = flat_field(lin_k, skin, face)[0]
        lin_n = lin_n * (Y_REFERENCE / tf.maximum(masked_mean(luminance(lin_n), face), EPS))[:, None, None, :]
    else:
        skin_gain = skin_gain * 0.0 + 1.0
        exposure_gain = exposure_gain * 0.0 + 1.0
        lin_n = lin
    crop_gain = gain * skin_gain                                                    # crop as it came → balanced
    l_star, a_star, b_star = lab(lin_n)

    # §5 per-pixel features against the local skin.
    local = masked_blur(tf.concat([l_star, tf.sqrt(a_star * a_star + b_star * b_star)], -1), skin, LOCAL_SIGMA)
    chroma = tf.sqrt(a_star * a_star + b_star * b_star)
    darker = local[..., 0:1] - l_star
    spot = tf.cast(darker > SPOT_DELTA_L, tf.float32)
    shine = tf.cast(-darker > SHINE_DELTA_L, tf.float32) * tf.cast(chroma < SHINE_CHROMA_RATIO * local[..., 1:2], tf.float32)
    band = masked_blur(l_star, skin, TEXTURE_SIGMAS[0]) - masked_blur(l_star, skin, TEXTURE_SIGMAS[1])

    # §6 region statistics: masked sums over the seven regions and the face.
    rows = tf.concat([regions, face], axis=-1)                                 # (N, H, W, 8)
    unclipped = 1.0 - clipped
    feats = tf.concat([l_star, b_star, spot, spot * darker, band * band, shine], -1)
    sums = region_sums(feats, rows)                                            # (N, 8, 6)
    colour = region_sums(tf.concat([a_star, b_star], -1) * unclipped, rows)     # a clipped pixel's colour is unknown
    count = tf.reduce_sum(rows, axis=[1, 2])
    denom = tf.maximum(count, 1.0)
    denom_c = tf.maximum(tf.reduce_sum(rows * unclipped, axis=[1, 2]), 1.0)
    mean_l, mean_a, mean_b = sums[..., 0] / denom, colour[..., 0] / denom_c, colour[..., 1] / denom_c
    mean_b_all = sums[..., 1] / denom                                          # evenness: every pixel
    spot_n = sums[..., 2]
    spot_fraction = spot_n / denom
    spot_contrast = sums[..., 3] / tf.maximum(spot_n, 1.0)
    texture = tf.sqrt(tf.maximum(sums[..., 4] / denom, 0.0))
    shine_fraction = sums[..., 5] / denom
    # spreads about each row's own mean (two passes: no E[x²] − E[x]² cancellation)
    dev_l = l_star - mean_l[:, None, None, :]
    dev_b = b_star - mean_b_all[:, None, None, :]
    sd_l = tf.sqrt(tf.reduce_sum(rows * dev_l * dev_l, axis=[1, 2]) / denom)
    sd_b = tf.sqrt(tf.reduce_sum(rows * dev_b * dev_b, axis=[1, 2]) / denom)
    # redness baseline: mean a* of the face pixels at or below the face's mean a* (its calm skin)
    face_a = mean_a[:, N_ROWS - 1:N_ROWS]
    calm = face * unclipped * tf.cast(a_star <= face_a[:, None, None, :], tf.float32)
    calm_pixels = tf.reduce_sum(calm, axis=[1, 2])
    baseline = tf.where(calm_pixels > 0.0, masked_mean(a_star, calm), face_a)   # none: a uniform face (rounding)
    redness = (mean_a - baseline) * tf.cast(count > 0.0, tf.float32)

    table = tf.stack([count, mean_l, mean_a, mean_b, redness, sd_l, sd_b,
                      spot_fraction, spot_contrast, texture, shine_fraction], axis=-1)   # (N, 8, M)
    globals_ = tf.concat([sharpness, noise, skin_lightness, clipped_fraction, dark_fraction, cast,
                          light_asymmetry, sclera_pixels, bright_fraction, tone_ita, gain, exposure_gain, shading, baseline,
                          crop_gain], -1)
    return tf.concat([tf.reshape(table, [-1, N_ROWS * len(REGION_MEASURES)]), globals_], axis=-1)


class SkinMetrics(keras.layers.Layer):
    """The fixed computation as a Keras layer (no weights); `normalise` as `skin_metrics`'s."""

    def __init__(self, normalise: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.normalise = normalise

    def call(self, x):
        return skin_metrics(x, self.normalise)

    def get_config(self):
        return {**super().get_config(), "normalise": self.normalise}


def build_skin_model(size: int, normalise: bool = True) -> keras.Model:
    """The Keras model: (size, size, 3 + len(MASK_CHANNELS)) → (OUTPUT_SIZE,), no weights.
    `normalise=False` (recipe `measures.normalise = false`): the lighting as it came, for
    the "before" of docs/skin.md §8; never shipped."""
    inputs = keras.Input((size, size, 3 + len(MASK_CHANNELS)), name="input")
    out = SkinMetrics(normalise, name="measures")(inputs)
    model = keras.Model(inputs, out, name="skin_metrics")
    assert model.output_shape[-1] == OUTPUT_SIZE == len(MEASURE_ROWS) * len(REGION_MEASURES) + len(GLOBAL_MEASURES)
    return model
