"""What the build asks of a task: the interface every toolchain task entry implements.

An entry wraps the runtime's entry for the same task (`facelite.tasks.get_task`, which
says how outputs are decoded, scored and verified) and adds what only a build needs.
The builder, trainer, model factory and recipe validator call these methods and never
branch on the task's name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np

from facelite.tasks import get_task as runtime_task

from ..errors import RecipeError

if TYPE_CHECKING:
    import tensorflow as tf
    import tf_keras as keras

    from ..data import Examples, Splits
    from ..recipe import Recipe


class BuildTask(ABC):
    """One task's build recipe: data, head, targets, loss, manifest metrics and output block.

    Class attributes say which recipes the task accepts: `head` (the recipe's
    `head.type`), `layout` (`data.layout`; `other_layouts` when the task reads more than
    one) and `crops` (allowed `input.crop` values); `backbone` False when the head is
    the whole model (no MobileNet is built and `build_head` gets None for it).
    """

    name: str = ""
    head: str = ""
    layout: str = ""
    other_layouts: tuple[str, ...] = ()
    crops: tuple[str, ...] = ()
    backbone: bool = True
    trained: bool = True
    """False for a fixed graph (`build_head` makes the whole model, with no weights to
    learn): the builder skips training and pruning, and the goldens' reference outputs are
    the reference runtime's fp32 run (`reference_outputs`)."""
    operating_point_fields: tuple[str, ...] = ()
    """Fields of the manifest's `output` block chosen on data (`operating_points`), not
    written by `output` from the recipe alone."""
    golden_count: int | None = None
    """Golden samples the bundle carries (None: the builder's default)."""
    losses: tuple[str, ...] = ()
    """`training.loss.kind` values the task's `loss` understands (none: only its default)."""
    test_time_flip: bool = False
    """Whether `head.test_time_flip` applies: the runtime averages the task's scores over
    the crop and its mirror (only scores that do not move with a mirror, i.e. classes)."""
    grade_decision: bool = False
    """Whether `head.grade_decision` applies: the runtime picks a label from the task's
    per-label probabilities (`facelite.acne.grade_index`), so only a task with labels."""

    @property
    def layouts(self) -> tuple[str, ...]:
        """Every `data.layout` the task reads, its main one first."""
        return (self.layout, *self.other_layouts)

    def __init__(self) -> None:
        self.runtime = runtime_task(self.name)

    def check_recipe(self, recipe: "Recipe", file: str) -> None:
        """Raise RecipeError when the recipe's head, data layout or crop do not fit the task."""
        if recipe.head.type != self.head:
            raise RecipeError(f"{file}: task '{self.name}' needs head.type = '{self.head}'")
        if recipe.data.layout not in self.layouts:
            allowed = " or ".join(f"'{layout}'" for layout in self.layouts)
            raise RecipeError(f"{file}: task '{self.name}' reads data.layout = {allowed}")
        if recipe.input.crop not in self.crops:
            allowed = " or ".join(f'"{c}"' for c in self.crops)
            raise RecipeError(f"{file}: a {self.name} recipe needs input.crop = {allowed}")
        kind = recipe.training.loss.kind
        if kind and kind not in self.losses:
            offered = f"one of: {', '.join(self.losses)}" if self.losses else "only its default; remove the key"
            raise RecipeError(f"{file}: training.loss.kind '{kind}' is not a loss of task '{self.name}' ({offered})")
        if recipe.head.test_time_flip and not self.test_time_flip:
            raise RecipeError(f"{file}: head.test_time_flip averages a classifier's scores over the crop and its "
                              f"mirror; a '{self.name}' bundle has no such scores: remove it")
        if recipe.head.grade_decision != "argmax" and not self.grade_decision:
            raise RecipeError(f"{file}: head.grade_decision picks one of a classifier's ordered labels from its "
                              f"probabilities; a '{self.name}' bundle has no labels to pick: remove it")

    @abstractmethod
    def load_splits(self, recipe: "Recipe", root: Path, limit: int | None = None) -> "Splits":
        """Training and validation examples (uint8 model pixels + targets) under `root`."""

    @abstractmethod
    def n_outputs(self, labels: list[str]) -> int:
        """Values the model outputs per position: the last axis of its output tensor."""

    @abstractmethod
    def build_head(self, recipe: "Recipe", backbone: "keras.Model | None", n_outputs: int) -> "keras.Model":
        """The whole Keras model: `backbone` + this task's head (the head alone when the
        task has no backbone)."""

    @abstractmethod
    def datasets(self, recipe: "Recipe", splits: "Splits") -> tuple["tf.data.Dataset", "tf.data.Dataset"]:
        """(training, validation) tf.data pipelines: training augmented, validation not."""

    @abstractmethod
    def loss(self, recipe: "Recipe") -> tuple[Any, list]:
        """(Keras loss, Keras metrics logged during training)."""

    def class_weights(self, recipe: "Recipe", splits: "Splits") -> dict[int, float] | None:
        """Per-class loss weights for `fit`, or None (the default: every example counts once)."""
        return None

    @abstractmethod
    def metrics(self, outputs: np.ndarray, val: "Examples", recipe: "Recipe",
                reference: np.ndarray | None = None) -> dict:
        """The manifest's metrics of one variant: flat (N, ...) outputs on `val`, vs `reference`."""

    def variant_metrics(self, outputs: np.ndarray, val: "Examples", recipe: "Recipe",
                        reference: np.ndarray | None, output: Mapping[str, Any], variant: str) -> dict:
        """`metrics` of variant `variant` decoded as the runtime decodes it with the packaged
        `output` block: the same as `metrics` unless the task's decoding depends on the
        variant (detection's per-variant score threshold)."""
        return self.metrics(outputs, val, recipe, reference)

    @abstractmethod
    def output(self, recipe: "Recipe") -> dict:
        """The manifest's `output` block (its `kind` first); `shape` defaults to the goldens'."""

    def operating_points(self, recipe: "Recipe", train: "Examples",
                         run: Callable[["Examples"], Mapping[str, np.ndarray]]) -> tuple[dict, dict]:
        """(fields for the manifest's `output` block, the record for `metrics.operating_points`)
        that the build chooses per variant on the training split, without retraining: `run`
        gives every variant's flat outputs on the examples it is handed. Detection chooses
        each variant's score threshold; the default chooses nothing (and runs nothing)."""
        return {}, {}

    def reference_outputs(self, keras_outputs: np.ndarray, fp32_outputs: np.ndarray) -> np.ndarray:
        """The fp32 goldens: the trained Keras model's outputs (a fixed graph's: the fp32
        variant's in the reference runtime, see `trained`)."""
        return keras_outputs if self.trained else fp32_outputs


def rounded(value: float | None, digits: int) -> float | None:
    """`round` that lets None (an undefined ratio) through, for the manifest's metrics."""
    return None if value is None else round(float(value), digits)
