"""Training stage: compile, fit with checkpoints, resume after an interruption.

A checkpoint (weights + optimizer state, so the learning-rate schedule continues where
it stopped) is written after every epoch under `<out>/train/ckpt`; running the stage
again picks up from the last finished epoch. The finished model's weights go to
`<out>/train/weights.h5`, which later stages and the Keras benchmark load.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import tensorflow as tf
import tf_keras as keras

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
    """Saves model + optimizer and the epoch count after each epoch."""

    def __init__(self, manager: tf.train.CheckpointManager, state_path: Path, log):
        super().__init__()
        self.manager, self.state_path, self.log = manager, state_path, log

    def on_epoch_end(self, epoch, logs=None):
        self.manager.save(checkpoint_number=epoch + 1)
        record = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        self.log.append(record)
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
) -> dict:
    """Fit `model` for `epochs`, resuming from `<out_dir>/ckpt`; return the history."""
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = int(train_ds.cardinality().numpy())
    compile_model(model, recipe, steps, epochs)
    ckpt = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    manager = tf.train.CheckpointManager(ckpt, str(out_dir / "ckpt"), max_to_keep=2)
    state_path = out_dir / "state.json"
    history: list[dict] = []
    initial_epoch = 0
    if manager.latest_checkpoint and state_path.exists():
        state = json.loads(state_path.read_text())
        ckpt.restore(manager.latest_checkpoint).expect_partial()
        initial_epoch = int(state["epochs_done"])
        history = state["history"]
        print(f"  resuming training at epoch {initial_epoch + 1}/{epochs}", file=sys.stderr)
    if initial_epoch < epochs:
        callbacks = [_EpochCheckpoint(manager, state_path, history)]
        with contextlib.redirect_stdout(sys.stderr):
            model.fit(
                train_ds,
                validation_data=val_ds,
                epochs=epochs,
                initial_epoch=initial_epoch,
                class_weight=class_weight,
                callbacks=callbacks,
                verbose=verbose,
            )
    model.save_weights(str(out_dir / WEIGHTS))
    return {"epochs": epochs, "history": history}
