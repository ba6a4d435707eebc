"""CenterNet-style single-class face detector: the Keras model and its output tensor's layout.

A MobileNet v1 backbone with a small top-down merge (stride 32 → 16 [→ 8]) and three
1×1 heads, all sigmoid and concatenated into ONE output tensor (Hs, Ws, 5):

    channel 0   heatmap   face-centre probability per cell
    channel 1-2 size      box (w, h) as fractions of the input side
    channel 3-4 offset    sub-cell centre (dx, dy) in cells from the cell's top-left

Every channel lies in [0, 1], so the int8 variant has one output scale/zero-point that
suits all of them. The manifest's `output` names the channels (`output_layout`, merged
into the detection task's output block), and the runtime splits and decodes them with
`facelite.detection` — the same decoder the toolchain's detection metrics use.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .errors import RecipeError

if TYPE_CHECKING:
    import tf_keras as keras

    from .recipe import Recipe

CHANNELS = ["heatmap", "size_w", "size_h", "offset_x", "offset_y"]
_TAPS = {8: "conv_pw_5_relu", 16: "conv_pw_11_relu", 32: "conv_pw_13_relu"}


def grid_size(recipe: "Recipe") -> int:
    """Cells per side of the output grid: input size ÷ head stride."""
    return recipe.input.size // recipe.head.stride


def build_centernet(recipe: "Recipe", backbone: "keras.Model") -> "keras.Model":
    """Backbone → top-down merge to `head.stride` → packed sigmoid (heatmap, size, offset)."""
    import tf_keras as keras

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


def output_layout(recipe: "Recipe") -> dict:
    """Manifest `output` entries describing the packed tensor: how the runtime splits it."""
    g = grid_size(recipe)
    return {
        "shape": [1, g, g, len(CHANNELS)],  # the model's output tensor (goldens are stored flat)
        "stride": recipe.head.stride,
        "grid": [g, g],
        "channels": list(CHANNELS),
        "heatmap_activation": "sigmoid",
        "size": "box (w, h) as fractions of the input width and height",
        "offset": "centre (dx, dy) in cells from the cell's top-left corner",
    }
