"""Keras MobileNet backbones (v1, v2, v3 small/large), the pooled dense head, and the
model factory that puts the recipe's task head on a backbone.

Any alpha and input size. ImageNet weights are never downloaded: when the recipe
names a weights file (e.g. the shared MobileNet v1 α0.25 no-top `.h5`) it is loaded
by layer name, and the number of layers it seeded is reported so a wrong file cannot
pass silently.
"""

from __future__ import annotations

import sys

import tf_keras as keras

from .errors import RecipeError

from .recipe import Recipe

_APPS = {
    "mobilenet_v1": lambda shape, r: keras.applications.MobileNet(
        input_shape=shape, alpha=r.backbone.alpha, include_top=False, weights=None
    ),
    "mobilenet_v2": lambda shape, r: keras.applications.MobileNetV2(
        input_shape=shape, alpha=r.backbone.alpha, include_top=False, weights=None
    ),
    "mobilenet_v3_small": lambda shape, r: keras.applications.MobileNetV3Small(
        input_shape=shape, alpha=r.backbone.alpha, include_top=False, weights=None,
        minimalistic=r.backbone.minimalistic, include_preprocessing=False,
    ),
    "mobilenet_v3_large": lambda shape, r: keras.applications.MobileNetV3Large(
        input_shape=shape, alpha=r.backbone.alpha, include_top=False, weights=None,
        minimalistic=r.backbone.minimalistic, include_preprocessing=False,
    ),
}


def build_backbone(recipe: Recipe) -> keras.Model:
    """The recipe's MobileNet without top, seeded from its weights file when given."""
    shape = (recipe.input.size, recipe.input.size, recipe.input.channels)
    backbone = _APPS[recipe.backbone.arch](shape, recipe)
    path = recipe.weights_path()
    if path is not None:
        if not path.is_file():
            raise RecipeError(
                f"backbone.weights: {path} not found; set FACELITE_WEIGHTS or give an absolute path"
            )
        before = [w.numpy().copy() for w in backbone.weights]
        backbone.load_weights(str(path), by_name=True, skip_mismatch=True)
        changed = sum(int((a != w.numpy()).any()) for a, w in zip(before, backbone.weights))
        if changed == 0:
            raise RecipeError(
                f"backbone.weights: {path.name} seeded no layer of {recipe.backbone.arch} "
                f"alpha {recipe.backbone.alpha}; it is for another architecture or width"
            )
        print(f"  init: {changed}/{len(before)} backbone tensors from {path.name}", file=sys.stderr)
    return _cut(backbone, recipe.backbone.output_layer)


def _cut(backbone: keras.Model, layer: str) -> keras.Model:
    """The backbone up to `layer` (all of it when empty): fewer parameters, same init."""
    if not layer:
        return backbone
    names = [lay.name for lay in backbone.layers]
    if layer not in names:
        cuts = [n for n in names if n.endswith("relu") or n.endswith("_add") or n.endswith("out")]
        raise RecipeError(
            f"backbone.output_layer: '{layer}' is not a layer of this backbone; "
            f"pick one of {', '.join(cuts[-12:])} (last 12 shown)"
        )
    return keras.Model(backbone.input, backbone.get_layer(layer).output, name=f"{backbone.name}_to_{layer}")


def dense_head(recipe: Recipe, backbone: keras.Model, units: int, activation: str | None, name: str) -> keras.Model:
    """Backbone → pooling → [hidden] → dropout → Dense(`units`, `activation`) named `name`.

    Pooling is global average, or with `head.pool = "flatten"` a 1×1 conv to
    `head.channels` then flatten, which keeps the spatial layout of the last feature
    map (what points regression needs). The classifier and landmark heads are this.
    """
    head = recipe.head
    if head.pool == "flatten":
        x = keras.layers.Conv2D(head.channels, 1, activation="relu", name="reduce")(backbone.output)
        x = keras.layers.Flatten(name="pool")(x)
    else:
        x = keras.layers.GlobalAveragePooling2D(name="pool")(backbone.output)
    if head.hidden:
        x = keras.layers.Dense(head.hidden, activation="relu", name="hidden")(x)
    if head.dropout:
        x = keras.layers.Dropout(head.dropout, name="head_dropout")(x)
    out = keras.layers.Dense(units, activation=activation, name=name)(x)
    return keras.Model(backbone.input, out, name=recipe.name)


def build_model(recipe: Recipe, n_outputs: int) -> keras.Model:
    """Backbone + the head of the recipe's task (`facelite_build.tasks`), `n_outputs` wide;
    the head alone for a task without a backbone (`BuildTask.backbone` False)."""
    from .tasks import get_task

    task = get_task(recipe.task)
    return task.build_head(recipe, build_backbone(recipe) if task.backbone else None, n_outputs)
