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


def separable(p: tf.Tensor, taps_h, taps_w) -> tf.Tensor:
    """Plane i of (N, k, H, W) `p` filtered along H by `taps_h[i]`, then along W by
    `taps_w[i]` (odd lengths, centred, zero outside: SAME padding); taps of different
    lengths are zero-padded to the longest (adding 0·v is exact), and a pass whose taps
    are all `[1]` is skipped.

    Each pass is one depthwise convolution over (N, rows, 1, k·cols): a whole image row of
    every plane as the channels, the taps along the rows; then the transpose for the other
    axis. Why: LiteRT's depthwise kernel vectorises over channels, and a handful of
    channels (the natural NHWC layout) leaves most of each vector idle.
    """
    _, k, h, w = p.shape

    def kernel_of(taps) -> np.ndarray | None:
        taps = [np.asarray(t, np.float32).ravel() for t in taps]
        if all(len(t) == 1 and t[0] == 1.0 for t in taps):
            return None
        r = max(len(t) for t in taps) // 2
        kernel = np.zeros((2 * r + 1, k), np.float32)
        for plane, t in enumerate(taps):
            kernel[r - len(t) // 2:r + len(t) // 2 + 1, plane] = t
        return kernel

    def along_rows(v: tf.Tensor, kernel: np.ndarray, rows: int, cols: int) -> tf.Tensor:
        """(N, rows, k, cols) filtered along rows."""
        taps_per_channel = np.repeat(kernel, cols, axis=1)[:, None, :, None]   # channel = plane · cols + col
        out = tf.nn.depthwise_conv2d(tf.reshape(v, [-1, rows, 1, k * cols]), tf.constant(taps_per_channel),
                                     [1, 1, 1, 1], "SAME")
        return tf.reshape(out, [-1, rows, k, cols])

    kh, kw = kernel_of(taps_h), kernel_of(taps_w)
    v = tf.transpose(p, [0, 2, 1, 3])                                      # (N, H, k, W)
    if kh is not None:
        v = along_rows(v, kh, h, w)
    v = tf.transpose(v, [0, 3, 2, 1])                                      # (N, W, k, H)
    if kw is not None:
        v = along_rows(v, kw, w, h)
    return tf.transpose(v, [0, 2, 3, 1])


def blur(p: tf.Tensor, sigma) -> tf.Tensor:
    """Separable Gaussian (`gaussian_taps`) of every plane of (N, k, H, W) `p`, zero
    outside; `sigma` one value, or one per plane."""
    k = p.shape[1]
    sigmas = [sigma] * k if np.ndim(sigma) == 0 else list(sigma)
    taps = [gaussian_taps(float(v)) for v in sigmas]
    return separable(p, taps, taps)


def power(v: tf.Tensor, exponent: float) -> tf.Tensor:
    """v^exponent for v > 0 as exp(exponent · ln v): LiteRT's POW is a scalar loop, EXP and
    LOG are vectorised (a few float32 ulps from POW)."""
    return tf.exp(tf.math.log(v) * exponent)


def srgb_to_linear(c: tf.Tensor) -> tf.Tensor:
    v = c / 255.0
    return tf.where(v <= 0.04045, v / 12.92, power((tf.maximum(v, 0.04045) + 0.055) / 1.055, 2.4))


def luminance(lin: tf.Tensor, axis: int = 1) -> tf.Tensor:
    """Y of linear RGB whose channels lie along `axis` (1: the graph's planes)."""
    r, g, b = tf.split(lin, 3, axis=axis)
    yr, yg, yb = SRGB_TO_XYZ[1]
    return r * yr + g * yg + b * yb


def lab(lin: tf.Tensor, axis: int = -1) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """CIELAB (D65 white = the matrix's image of sRGB white) of linear RGB whose channels
    lie along `axis`; L*, a*, b* each keep that axis (size 1)."""
    white = [sum(row) for row in SRGB_TO_XYZ]
    r, g, b = tf.split(lin, 3, axis=axis)
    xyz = [(r * m[0] + g * m[1] + b * m[2]) / w for m, w in zip(SRGB_TO_XYZ, white)]
    d = 6.0 / 29.0
    t0, k = d ** 3, 3.0 * d * d

    def f(t):
        return tf.where(t > t0, power(tf.maximum(t, t0), 1.0 / 3.0), t / k + 4.0 / 29.0)

    fx, fy, fz = (f(v) for v in xyz)
    return 116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)


def masked_mean(v: tf.Tensor, m: tf.Tensor) -> tf.Tensor:
    """Σ(v·m) / max(Σm, 1) over the planes' H, W: (N, k) for (N, k, H, W) `v`."""
    return tf.reduce_sum(v * m, axis=[2, 3]) / tf.maximum(tf.reduce_sum(m, axis=[2, 3]), 1.0)


def region_sums(features: tf.Tensor, masks: tf.Tensor) -> tf.Tensor:
    """(N, F, H, W) feature planes and (N, R, H, W) masks → (N, R, F) sums Σ m_r · f (one matmul)."""
    _, f, h, w = features.shape
    r = masks.shape[1]
    return tf.matmul(tf.reshape(masks, [-1, r, h * w]), tf.reshape(features, [-1, f, h * w]), transpose_b=True)


def nhwc(plane: tf.Tensor) -> tf.Tensor:
    """(N, 1, H, W) plane ↔ (N, H, W, 1) image: the same memory, for pooling and convolution."""
    return tf.reshape(plane, [-1, plane.shape[2], plane.shape[3], 1])


def planar(image: tf.Tensor) -> tf.Tensor:
    """(N, H, W, 1) image → (N, 1, H, W) plane (the inverse of `nhwc`)."""
    return tf.reshape(image, [-1, 1, image.shape[1], image.shape[2]])


def flat_field(lin: tf.Tensor, skin: tf.Tensor, face: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(lin with the skin's illumination field divided out, the field F): docs/skin.md §3.3.

    F is the skin's luminance averaged over `SHADING_POOL` cells, blurred by
    `SHADING_SIGMA` cells (mask-normalised) and resized back; `lin · mean_face(Y) / F`
    keeps the face's mean luminance. Planes (N, k, S, S) in and out.
    """
    size = lin.shape[3]
    y = luminance(lin)
    both = tf.reshape(tf.concat([y * skin, skin], axis=1), [-1, size, size, 1])          # (2N, S, S, 1)
    pooled = tf.nn.avg_pool2d(both, SHADING_POOL, SHADING_POOL, "VALID")
    cells = pooled.shape[1]
    small = blur(tf.reshape(pooled, [-1, 2, cells, cells]), SHADING_SIGMA)
    small = small[:, 0:1] / tf.maximum(small[:, 1:2], EPS)
    field = tf.maximum(planar(tf.image.resize(nhwc(small), [size, size], method="bilinear")), EPS)
    return lin * (masked_mean(y, face)[:, :, None, None] / field), field


def skin_metrics(x: tf.Tensor, normalise: bool = True) -> tf.Tensor:
    """The whole computation of docs/skin.md §3–§6 on a (N, S, S, 12) input → (N, OUTPUT_SIZE).

    The input is turned into planes (N, 12, S, S) first and every step works on whole
    planes: LiteRT slices, broadcasts and reduces a plane much faster than one channel of
    an interleaved image (the arithmetic is the same).

    `normalise=False` leaves the light as it came (gains 1, no flat field, no exposure
    scaling): the "before" column of docs/skin.md's relighting table (recipe switch
    `measures.normalise`); never shipped.
    """
    planes = tf.transpose(x, [0, 3, 1, 2])
    channels = tf.split(planes, planes.shape[1], axis=1)
    rgb255, masks = planes[:, 0:3], channels[3:]
    regions = masks[:N_REGIONS]

    def union(mask_list):
        out = mask_list[0]
        for m in mask_list[1:]:
            out = tf.maximum(out, m)
        return out

    skin = union(regions)                                                       # all seven regions
    face = union([regions[REGION_NAMES.index(r)] for r in FACE_REGIONS])
    eyes = union(masks[N_REGIONS:])
    size = x.shape[2]

    # §4 capture measures, on the photo as it came.
    lin = srgb_to_linear(rgb255)
    y = luminance(lin)
    r255, g255, b255 = channels[0:3]
    luma = r255 * LUMA_601[0] + g255 * LUMA_601[1] + b255 * LUMA_601[2]
    # Second differences of the luma along H and W, and the 3×3 box sum of `face`; the
    # Laplacian is their sum, Immerkær's kernel their product [1, −2, 1]ᵀ[1, −2, 1]. Zero
    # outside the crop, so a border pixel's box sum is under 9: `inner` is the VALID 3×3
    # erosion of `face` (every window inside the face and the crop).
    d2 = separable(tf.concat([luma, luma, face], 1), ([1, -2, 1], [1], [1, 1, 1]), ([1], [1, -2, 1], [1, 1, 1]))
    inner = tf.cast(d2[:, 2:3] > 8.5, tf.float32)                              # 3×3 window inside the face
    lap = d2[:, 0:1] + d2[:, 1:2]
    immerkaer = separable(d2[:, 0:1], ([1],), ([1, -2, 1],))
    lap_mean = masked_mean(lap, inner)
    sharpness = masked_mean(lap * lap, inner) - lap_mean * lap_mean
    noise = masked_mean(tf.abs(immerkaer), inner) * (math.sqrt(math.pi / 2.0) / 6.0)
    clipped = tf.cast(tf.maximum(tf.maximum(r255, g255), b255) >= CLIP_LEVEL, tf.float32)
    clipped_fraction = masked_mean(clipped, face)
    dark_fraction = masked_mean(tf.cast(y < DARK_Y, tf.float32), face)
    bright_fraction = tf.reduce_mean(tf.cast(y >= BRIGHT_Y, tf.float32), axis=[2, 3])   # every crop pixel
    column = tf.constant((np.arange(size) < size // 2).astype(np.float32)[None, None, None, :])
    y_left, y_right = masked_mean(y, face * column), masked_mean(y, face * (1.0 - column))
    light_asymmetry = tf.abs(tf.math.log(tf.maximum(y_left, EPS) / tf.maximum(y_right, EPS)))

    # §3.2 white balance: the sclera (bright, unclipped, low-saturation eye pixels).
    lin_r, lin_g, lin_b = tf.split(lin, 3, axis=1)
    lmax = tf.maximum(tf.maximum(lin_r, lin_g), lin_b)
    lmin = tf.minimum(tf.minimum(lin_r, lin_g), lin_b)
    saturation = 1.0 - lmin / tf.maximum(lmax, EPS)
    usable = eyes * (1.0 - clipped)
    y_eye_max = tf.reduce_max(y * usable, axis=[1, 2, 3], keepdims=True)
    sclera = usable * tf.cast(saturation < SCLERA_MAX_SATURATION, tf.float32) \
        * tf.cast(y >= SCLERA_MIN_BRIGHTNESS * y_eye_max, tf.float32) * tf.cast(y_eye_max > 0.0, tf.float32)
    sclera_pixels = tf.reduce_sum(sclera, axis=[2, 3])
    rgb_s, y_s = masked_mean(lin, sclera), masked_mean(y, sclera)
    ln_gain_s = tf.math.log(tf.maximum(y_s, EPS)) - tf.math.log(tf.maximum(rgb_s, EPS))
    # weight 0 (no sclera): the camera's own white balance stands (docs/skin.md §3.2: why not grey world)
    weight = tf.minimum(sclera_pixels / SCLERA_FULL, 1.0)
    ln_gain = tf.clip_by_value(weight * ln_gain_s, -math.log(GAIN_LIMIT), math.log(GAIN_LIMIT))
    cast = tf.reduce_max(tf.abs(ln_gain - tf.reduce_mean(ln_gain, axis=-1, keepdims=True)), axis=-1, keepdims=True)
    if not normalise:
        ln_gain = ln_gain * 0.0
    gain = tf.exp(ln_gain)
    lin_wb = lin * gain[:, :, None, None]

    # §3.3 uneven light: divide by the smooth illumination field of the skin (flat field).
    if normalise:
        lin_flat, field = flat_field(lin_wb, skin, face)
    else:
        lin_flat, field = lin_wb, flat_field(lin_wb, skin, face)[1]
    far = 1e9
    field_face_max = tf.reduce_max(field * face - (1.0 - face) * far, axis=[2, 3])
    field_face_min = -tf.reduce_max(-field * face - (1.0 - face) * far, axis=[2, 3])
    shading = tf.math.log(tf.maximum(field_face_max, EPS) / tf.maximum(field_face_min, EPS)) \
        * tf.cast(tf.reduce_sum(face, axis=[2, 3]) > 0.0, tf.float32)

    # §3.4 tone: white balanced (sclera) and flat, not yet exposure normalised.
    l_tone, _, b_tone = lab(lin_flat, axis=1)
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
        lin_k = lin_wb * skin_gain[:, :, None, None]
        lin_n = flat_field(lin_k, skin, face)[0]
        lin_n = lin_n * (Y_REFERENCE / tf.maximum(masked_mean(luminance(lin_n), face), EPS))[:, :, None, None]
    else:
        skin_gain = skin_gain * 0.0 + 1.0
        exposure_gain = exposure_gain * 0.0 + 1.0
        lin_n = lin
    crop_gain = gain * skin_gain                                                    # crop as it came → balanced
    l_star, a_star, b_star = lab(lin_n, axis=1)

    # §5 per-pixel features against the local skin: the three mask-normalised blurs
    # (σ LOCAL_SIGMA of L* and C*, and the two of the texture band) in one blur call.
    chroma = tf.sqrt(a_star * a_star + b_star * b_star)
    lum_skin = l_star * skin
    sig_local, (sig_fine, sig_coarse) = LOCAL_SIGMA, TEXTURE_SIGMAS
    blurred = blur(tf.concat([lum_skin, chroma * skin, skin, lum_skin, skin, lum_skin, skin], 1),
                   (sig_local, sig_local, sig_local, sig_fine, sig_fine, sig_coarse, sig_coarse))
    local_skin = tf.maximum(blurred[:, 2:3], EPS)
    darker = blurred[:, 0:1] / local_skin - l_star
    spot = tf.cast(darker > SPOT_DELTA_L, tf.float32)
    shine = tf.cast(-darker > SHINE_DELTA_L, tf.float32) \
        * tf.cast(chroma < SHINE_CHROMA_RATIO * (blurred[:, 1:2] / local_skin), tf.float32)
    band = blurred[:, 3:4] / tf.maximum(blurred[:, 4:5], EPS) - blurred[:, 5:6] / tf.maximum(blurred[:, 6:7], EPS)

    # §6 region statistics: every masked sum over the seven regions and the face in one
    # matrix product. L* and b* are centred on the face's means first, so the spreads come
    # from Σx and Σx² of the same product without cancellation (values about the face's
    # mean are of the order of the spread itself).
    rows = tf.concat([*regions, face], axis=1)                                 # (N, 8, H, W)
    unclipped = 1.0 - clipped
    centre_l, centre_b = masked_mean(l_star, face), masked_mean(b_star, face)
    lc = l_star - centre_l[:, :, None, None]
    bc = b_star - centre_b[:, :, None, None]
    feats = tf.concat([tf.ones_like(l_star), lc, lc * lc, bc, bc * bc, spot, spot * darker, band * band, shine,
                       a_star * unclipped, b_star * unclipped, unclipped], 1)
    sums = region_sums(feats, rows)                                            # (N, 8, 12)
    count = sums[..., 0]
    denom = tf.maximum(count, 1.0)
    denom_c = tf.maximum(sums[..., 11], 1.0)                                   # a clipped pixel's colour is unknown
    mean_lc, mean_bc = sums[..., 1] / denom, sums[..., 3] / denom
    mean_l = mean_lc + centre_l * tf.cast(count > 0.0, tf.float32)
    mean_a, mean_b = sums[..., 9] / denom_c, sums[..., 10] / denom_c
    spot_n = sums[..., 5]
    spot_fraction = spot_n / denom
    spot_contrast = sums[..., 6] / tf.maximum(spot_n, 1.0)
    texture = tf.sqrt(tf.maximum(sums[..., 7] / denom, 0.0))
    shine_fraction = sums[..., 8] / denom
    sd_l = tf.sqrt(tf.maximum(sums[..., 2] / denom - mean_lc * mean_lc, 0.0))
    sd_b = tf.sqrt(tf.maximum(sums[..., 4] / denom - mean_bc * mean_bc, 0.0))
    # redness baseline: mean a* of the face pixels at or below the face's mean a* (its calm skin)
    face_a = mean_a[:, N_ROWS - 1:N_ROWS]
    calm = face * unclipped * tf.cast(a_star <= face_a[:, :, None, None], tf.float32)
    calm_pixels = tf.reduce_sum(calm, axis=[2, 3])
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
