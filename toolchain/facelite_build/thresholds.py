"""Re-derive a shipped bundle's per-variant operating points without retraining.

The package stage chooses them at build time (`BuildTask.operating_points`: detection's
score threshold per variant, on the training split, by `tasks.detection.choose_threshold`).
A bundle built before that, or whose variants were re-converted, gets the same choice
here: its recipe's training split is loaded as the build loads it, every variant of the
bundle runs on it as the package stage runs variants (`builder.variant_runner`), and the
result is written into the manifest — the `output` fields, `metrics.operating_points`
(the training-split evidence), and each variant's validation metrics at its new operating
point (`metrics.<variant>`, every other metric untouched) — then re-signed
(`package.rewrite_manifest`). The model bytes do not change.

Example:

    >>> from facelite_build.thresholds import record_operating_points
    >>> record_operating_points("models/face_detector/recipe.toml",
    ...                         "models/face_detector/face_detector.flb")     # doctest: +SKIP
    {'score_threshold_by_variant': {'fp32': 0.4, 'fp16': 0.4, 'dynamic': 0.38, 'int8': 0.36}}
"""

from __future__ import annotations

import os
from pathlib import Path

from facelite.bundle import Bundle
from facelite.errors import UserError

from .builder import BuildOptions, load_splits, variant_runner
from .package import rewrite_manifest
from .recipe import load_recipe
from .tasks import get_task


def record_operating_points(recipe_path: str | os.PathLike, bundle_path: str | os.PathLike,
                            data: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
                            signing_key: str | os.PathLike | None = None) -> dict:
    """Choose the operating points of every variant of the bundle at `bundle_path` on the
    training split of the recipe at `recipe_path` (data under `data`, else the recipe's),
    record them in the bundle (in place, or a copy at `out`) and return the `output` fields.

    Raises UserError when the bundle is not the recipe's (another name or task) or its task
    has no operating point to choose.
    """
    recipe = load_recipe(recipe_path)
    task = get_task(recipe.task)
    with Bundle.open(bundle_path) as bundle:
        if (bundle.name, bundle.task) != (recipe.name, recipe.task):
            raise UserError(f"{bundle_path}: is '{bundle.name}' ({bundle.task}), not the recipe's "
                            f"'{recipe.name}' ({recipe.task}); pass the recipe the bundle was built from")
        variants = {v: bytes(bundle.variant_bytes(v)) for v in bundle.variants}
        output = dict(bundle.manifest["output"])
    splits = load_splits(recipe, BuildOptions(out=Path("."), data=Path(data) if data is not None else None))
    run = variant_runner(variants, recipe.input_spec)
    fields, chosen = task.operating_points(recipe, splits.train, run)
    if not fields:
        raise UserError(f"{recipe_path}: a '{recipe.task}' bundle has no per-variant operating point to choose")
    output.update(fields)
    val_out = run(splits.val)
    reference = val_out.get("fp32")
    val_metrics = {v: task.variant_metrics(o, splits.val, recipe, reference, output, v) for v, o in val_out.items()}

    def edit(manifest: dict) -> None:
        manifest["output"].update(fields)
        manifest.setdefault("metrics", {}).update(val_metrics)
        manifest["metrics"]["operating_points"] = chosen

    rewrite_manifest(bundle_path, edit, out=out, signing_key=signing_key)
    return fields
