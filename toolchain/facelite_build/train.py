"""Training stage: compile, fit with checkpoints, resume after an interruption.

A checkpoint (weights + optimizer state, so the learning-rate schedule continues where
it stopped) is written after every epoch under `<out>/train/ckpt`; running the stage
again picks up from the last finished epoch. The finished model's weights go to
`<out>/train/weights.h5`, which later stages and the Keras benchmark load.

Training runs under a `facelite_build.distribute.Distribution` (one device, this
machine's GPUs, or several machines): the recipe's batch is the global batch, split
across replicas; only the chief writes the checkpoint, state and weights files, the
other workers write theirs to a temporary folder of their own (distribute.py says why).
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import tensorflow as tf
import tf_keras as keras

from .distribute import Distribution, distribution
from .recipe import Recipe
from .tasks import get_task

WEIGHTS = "weights.h5"


def learning_rate(recipe: Recipe, steps_per_epoch: int, epochs: int, base: float | None = None):
    """Cosine (with linear warm-up), step (÷10 at 60% and 85%) or constant."""
    t = recipe.training
    lr = base if base is not None else t.learning_rate
    total = max(1, steps_per_epoch * epochs)
    if t.schedule == "constant":
        return lr
    if t.schedule == "step":
        bounds = [int(total * 0.6), int(total * 0.85)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(bounds, [lr, lr / 10, lr / 100])
    warmup = min(int(t.warmup_epochs * steps_per_epoch), total - 1)
    if warmup > 0:
        return keras.optimizers.schedules.CosineDecay(
            lr / 20, total - warmup, alpha=0.01, warmup_target=lr, warmup_steps=warmup
        )
    return keras.optimizers.schedules.CosineDecay(lr, total, alpha=0.01)


def make_optimizer(recipe: Recipe, schedule) -> keras.optimizers.Optimizer:
    t = recipe.training
    if t.optimizer == "adamw":
        return keras.optimizers.AdamW(schedule, weight_decay=t.weight_decay or 1e-4)
    if t.optimizer == "sgd":
        return keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True)
    return keras.optimizers.Adam(schedule)


def loss_and_metrics(recipe: Recipe):
    """The recipe task's Keras loss and the metrics logged while training."""
    return get_task(recipe.task).loss(recipe)


def compile_model(model, recipe: Recipe, steps_per_epoch: int, epochs: int, base_lr: float | None = None):
    loss, metrics = loss_and_metrics(recipe)
    optimizer = make_optimizer(recipe, learning_rate(recipe, steps_per_epoch, epochs, base_lr))
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model


class _EpochCheckpoint(keras.callbacks.Callback):
    """Saves model + optimizer and the epoch count after each epoch.

    Every worker saves (the save reads synchronised variables, an all-reduce), each to
    its own manager's folder; the state file is written by the chief only (`state_path`
    None elsewhere).
    """

    def __init__(self, manager: tf.train.CheckpointManager, state_path: Path | None, log):
        super().__init__()
        self.manager, self.state_path, self.log = manager, state_path, log

    def on_epoch_end(self, epoch, logs=None):
        self.manager.save(checkpoint_number=epoch + 1)
        record = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        self.log.append(record)
        if self.state_path is not None:
            self.state_path.write_text(json.dumps({"epochs_done": epoch + 1, "history": self.log}, indent=1))


def train(
    model: keras.Model,
    recipe: Recipe,
    train_ds: tf.data.Dataset,
    val_ds: tf.data.Dataset | None,
    out_dir: Path,
    epochs: int,
    class_weight: dict[int, float] | None = None,
    verbose: int = 1,
    dist: Distribution | None = None,
) -> dict:
    """Fit `model` for `epochs`, resuming from `<out_dir>/ckpt`; return the history.

    `model` must have been built inside `dist.scope()` (the default: one device). The
    datasets are batched with the recipe's (global) batch; Keras `fit` splits each batch
    across `dist.replicas` replicas.
    """
    dist = dist or distribution("default")
    steps = int(train_ds.cardinality().numpy())
    dist.synchronize_batch_norm(model)
    with dist.scope():
        compile_model(model, recipe, steps, epochs)
        ckpt = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    chief_manager = tf.train.CheckpointManager(ckpt, str(out_dir / "ckpt"), max_to_keep=2)
    state_path = out_dir / "state.json"
    history: list[dict] = []
    initial_epoch = 0
    if chief_manager.latest_checkpoint and state_path.exists():
        state = json.loads(state_path.read_text())
        ckpt.restore(chief_manager.latest_checkpoint).expect_partial()
        initial_epoch = int(state["epochs_done"])
        history = state["history"]
    dist.agree(initial_epoch, f"{out_dir}: finished epochs")
    if initial_epoch:
        print(f"  resuming training at epoch {initial_epoch + 1}/{epochs}", file=sys.stderr)
    with dist.writable(out_dir) as write_dir:
        manager = chief_manager if dist.is_chief else tf.train.CheckpointManager(
            ckpt, str(write_dir / "ckpt"), max_to_keep=1)
        if initial_epoch < epochs:
            callbacks = [_EpochCheckpoint(manager, state_path if dist.is_chief else None, history)]
            with contextlib.redirect_stdout(sys.stderr):
                model.fit(
                    dist.distributable(train_ds),
                    validation_data=dist.distributable(val_ds),
                    epochs=epochs,
                    initial_epoch=initial_epoch,
                    class_weight=class_weight,
                    callbacks=callbacks,
                    verbose=verbose,
                )
        model.save_weights(str(write_dir / WEIGHTS))
    return {"epochs": epochs, "history": history, **({} if dist.name == "default" else dist.describe())}
