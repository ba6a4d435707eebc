"""Magnitude pruning with TFMOT, returning a plain (stripped) Keras model.

Why: zeroed weights cost nothing to store once a bundle is compressed for download
and, with 2:4 structure, can be skipped by sparse kernels; fine-tuning while the
mask grows lets the remaining weights compensate.

What is pruned and counted: the kernels of `Conv2D` (including MobileNet's 1×1
pointwise convs and the first conv) and `Dense` layers — exactly the kernels
TFMOT's registry prunes. Biases, BatchNorm and `DepthwiseConv2D` kernels stay dense:
TFMOT registers depthwise convs with no prunable weights (9 weights per channel;
pruning them costs accuracy and saves almost nothing — a few % of a MobileNet's
weights). `sparsity_of` reports the zero fraction over the same kernels, so the
number in the manifest is the sparsity that was actually asked for and achieved.

2:4 (`two_four=True`) uses TFMOT's `sparsity_m_by_n=(2, 4)`: 2 zeros in every 4
consecutive input-channel weights, as TFLite lays kernels out. Layers whose input
channel count is not a multiple of 4 (e.g. an RGB first conv) are left dense, since
the structure cannot tile them; the mask is fixed at the first step (TFMOT's rule).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import facelite_build  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from facelite.errors import UserError

SCHEDULES = ("polynomial", "constant")
_sparsity = tfmot.sparsity.keras


def _is_counted(layer: keras.layers.Layer) -> bool:
    # tf-keras' DepthwiseConv2D is not a Conv2D subclass, but guard anyway.
    return isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) and not isinstance(
        layer, keras.layers.DepthwiseConv2D
    )


def sparsity_of(model: keras.Model) -> float:
    """Fraction of exactly-zero weights over the Conv2D and Dense kernels of `model`.

    Works on a stripped model or on one still wrapped for pruning.
    """
    zeros = total = 0
    for layer in _walk(model):
        inner = layer.layer if isinstance(layer, _wrapper_cls()) else layer
        if not _is_counted(inner):
            continue
        kernel = np.asarray(inner.kernel.numpy() if hasattr(inner.kernel, "numpy") else inner.kernel)
        zeros += int(np.count_nonzero(kernel == 0))
        total += kernel.size
    return float(zeros / total) if total else 0.0


def _wrapper_cls():
    from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import (
        PruneLowMagnitude,
    )

    return PruneLowMagnitude


def _walk(model: keras.Model) -> Iterable[keras.layers.Layer]:
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _walk(layer)
        else:
            yield layer


def steps_per_epoch(dataset: tf.data.Dataset) -> int:
    """Batches per epoch from the dataset's cardinality (counted once if unknown)."""
    card = int(dataset.cardinality())
    if card == tf.data.INFINITE_CARDINALITY:
        raise UserError(
            "pruning needs a finite training dataset (one epoch = one pass); "
            "remove .repeat() from the training pipeline"
        )
    if card == tf.data.UNKNOWN_CARDINALITY:
        card = sum(1 for _ in dataset)
    if card <= 0:
        raise UserError("pruning got an empty training dataset")
    return card


def _fresh_optimizer(optimizer) -> keras.optimizers.Optimizer:
    """A new optimizer of the same kind and settings (a trained one carries state)."""
    if optimizer is None:
        return keras.optimizers.Adam(1e-4)
    if isinstance(optimizer, str):
        return keras.optimizers.get(optimizer)
    return optimizer.__class__.from_config(optimizer.get_config())


def prune_model(
    model: keras.Model,
    train_ds: tf.data.Dataset,
    val_ds: tf.data.Dataset | None = None,
    *,
    target_sparsity: float,
    epochs: int,
    schedule: str = "polynomial",
    begin_step: int = 0,
    frequency: int | None = None,
    two_four: bool = False,
    optimizer=None,
    loss=None,
    metrics: Sequence | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 0,
) -> keras.Model:
    """Fine-tune `model` while pruning it to `target_sparsity`; return it stripped.

    `train_ds` yields (x, y) batches and is passed through one pass per epoch; its
    cardinality sets the step count. The polynomial schedule ramps sparsity from 0
    at `begin_step` to the target at the last pruning step, which is aligned to
    `frequency` (default: about ten mask updates over the run, at most every 100
    steps) so the final mask really reaches the target. `constant` prunes to the
    target at `begin_step` and re-applies it every `frequency` steps. Optimizer,
    loss and metrics default to the model's compile settings (a fresh optimizer
    of the same config); the input model is left untouched.
    """
    if not 0.0 < target_sparsity < 1.0:
        raise UserError(f"pruning target_sparsity must be in (0, 1), got {target_sparsity}")
    if schedule not in SCHEDULES:
        raise UserError(f"pruning schedule '{schedule}' is not one of {', '.join(SCHEDULES)}")
    if two_four and abs(target_sparsity - 0.5) > 1e-9:
        raise UserError(
            f"2:4 pruning is exactly 50% sparse; set target_sparsity = 0.5 (got {target_sparsity})"
        )
    if epochs < 1:
        raise UserError(f"pruning epochs must be >= 1, got {epochs}")

    total = steps_per_epoch(train_ds) * epochs
    if begin_step >= total:
        raise UserError(f"pruning begin_step {begin_step} is past the last step ({total - 1})")
    span = max(total - 1 - begin_step, 0)
    if frequency is None:
        frequency = int(min(100, max(1, span // 10)))
    end_step = begin_step + (span // frequency) * frequency  # last step that updates the mask

    if schedule == "polynomial" and end_step > begin_step:
        pruning_schedule = _sparsity.PolynomialDecay(
            initial_sparsity=0.0,
            final_sparsity=target_sparsity,
            begin_step=begin_step,
            end_step=end_step,
            frequency=frequency,
        )
    else:
        pruning_schedule = _sparsity.ConstantSparsity(
            target_sparsity, begin_step=begin_step, frequency=frequency
        )

    params = {"pruning_schedule": pruning_schedule}
    if two_four:
        params["sparsity_m_by_n"] = (2, 4)

    def wrap(layer):
        if isinstance(layer, keras.Model):  # a nested backbone: wrap inside it too
            return keras.models.clone_model(layer, clone_function=wrap)
        if not _is_counted(layer):
            return layer
        if two_four and _input_channels(layer) % 4:
            return layer
        return _sparsity.prune_low_magnitude(layer, **params)

    # Work on a copy: TFMOT wraps layers in place, sharing their variables.
    base = keras.models.clone_model(model)
    base.set_weights(model.get_weights())
    pruned = keras.models.clone_model(base, clone_function=wrap)

    optimizer = _fresh_optimizer(optimizer if optimizer is not None else getattr(model, "optimizer", None))
    loss = loss if loss is not None else getattr(model, "loss", None)
    if loss is None:
        raise UserError("prune_model needs a loss: compile the model first or pass loss=")
    if metrics is None:
        metrics = compiled_metrics(model)
    pruned.compile(optimizer=optimizer, loss=loss, metrics=list(metrics))
    pruned.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        callbacks=[_sparsity.UpdatePruningStep(), *callbacks],
        verbose=verbose,
    )
    stripped = _sparsity.strip_pruning(pruned)
    stripped.compile(optimizer=_fresh_optimizer(optimizer), loss=loss, metrics=compiled_metrics(pruned))
    return stripped


def _input_channels(layer) -> int:
    shape = layer.input_shape if hasattr(layer, "input_shape") else None
    return int(shape[-1]) if shape and shape[-1] is not None else 0


def compiled_metrics(model: keras.Model) -> list:
    """The metrics `model` was compiled with, as fresh objects (metric state is per model)."""
    compiled = getattr(model, "compiled_metrics", None)
    user = getattr(compiled, "_user_metrics", None) if compiled is not None else None
    if user is None:
        return []
    if isinstance(user, dict):
        user = [m for ms in user.values() for m in (ms if isinstance(ms, (list, tuple)) else [ms])]
    user = list(user) if isinstance(user, (list, tuple)) else [user]
    fresh = []
    for m in user:
        if isinstance(m, keras.metrics.Metric):
            m = m.__class__.from_config(m.get_config())
        fresh.append(m)
    return fresh
