"""Accuracy parity of a variant against fp32: goldens plus an optional labelled folder.

Every figure comes from the runtime, so the bench can never disagree with `facelite
evaluate`/`verify` about what a number means:

- `top1_agreement`: the task's `agreement` of the variant's outputs with fp32's
  (`facelite.tasks`: the share of equal arg-max classes for a classifier; null for tasks
  without that notion).
- `psnr_db`: `facelite.metrics.psnr_db` of the variant's outputs against fp32's, with the
  task's `psnr_peak` (1.0 for probabilities, heatmaps and normalised points, else fp32's
  dynamic range), as `facelite evaluate` computes it. 30 dB and above is good
  (`psnr_good`). Identical outputs have an infinite PSNR: `psnr_db` is then null,
  `identical` true and `psnr_good` true.
- `max_abs_err`: `facelite.metrics.max_abs_err`, the largest absolute output difference.
- `accuracy`: `facelite.metrics.accuracy` of the arg-max label on a labelled folder
  (`DIR/<label>/...`, for tasks with labels), read with `facelite.datasets.labelled_images`
  and every image prepared with `facelite.preprocess.prepare` exactly as the runtime
  does; `fp32_accuracy` beside it.

The goldens' fp32 outputs are the ones recorded at build time (so a drifted runtime shows
up too); the folder's fp32 outputs are computed here with the bundle's fp32 variant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from facelite.bundle import Bundle
from facelite.datasets import labelled_images
from facelite.errors import DataError
from facelite.metrics import accuracy, max_abs_err, psnr_db
from facelite.preprocess import prepare
from facelite.tasks import get_task

GOOD_PSNR_DB = 30.0
Predict = Callable[[np.ndarray], np.ndarray]


def load_labelled_folder(root: str | Path, bundle: Bundle):
    """(float32 inputs (N, H, W, C), label indices (N,)) from DIR/<label>/... of the
    bundle's labels (each label folder searched recursively)."""
    task = get_task(bundle.task)
    if not task.needs_labels:
        raise DataError(f"--data {root}: bundle '{bundle.name}' is a {bundle.task} model without labels; "
                        "a labelled folder (DIR/<label>/...) scores classifiers only, so drop --data")
    _, items = labelled_images(root, bundle.labels)
    x = np.stack([prepare(path, bundle.input_spec) for path, _ in items]).astype(np.float32)
    return x, np.asarray([index for _, index in items])


def compare(outputs: np.ndarray, reference: np.ndarray, bundle: Bundle) -> dict[str, Any]:
    """Parity figures of `outputs` against `reference` (both (N, ...), flattened per row)."""
    out = outputs.reshape(len(outputs), -1)
    ref = reference.reshape(len(reference), -1)
    task = get_task(bundle.task)
    agreement = task.agreement(out, ref)
    return {
        "top1_agreement": None if agreement is None else round(agreement, 4),
        "psnr_db": psnr_db(out, ref, task.psnr_peak(bundle.manifest["output"])),
        "max_abs_err": round(max_abs_err(out, ref), 6),
    }


def _accuracy(outputs: np.ndarray, truth: np.ndarray) -> float | None:
    value = accuracy(truth, outputs.reshape(len(outputs), -1).argmax(1))
    return None if value is None else round(value, 4)


def parity(bundle: Bundle, predict: Predict, fp32_predict: Predict | None = None,
           data_dir: str | Path | None = None) -> dict[str, Any]:
    """Parity figures of `predict` (the variant under test) against fp32."""
    refs, outs = [], []
    n_golden = n_images = 0
    if bundle.has_golden:
        gin, gout = bundle.golden()
        refs.append(gout)
        outs.append(predict(gin))
        n_golden = len(gin)
    accuracy_ = fp32_accuracy = None
    if data_dir:
        x, y = load_labelled_folder(data_dir, bundle)
        out = predict(x)
        n_images = len(x)
        accuracy_ = _accuracy(out, y)
        if fp32_predict is not None:
            ref = fp32_predict(x)
            refs.append(ref)
            outs.append(out)
            fp32_accuracy = _accuracy(ref, y)
    res: dict[str, Any] = {"top1_agreement": None, "psnr_db": None, "max_abs_err": None}
    if refs:
        res = compare(np.concatenate([o.reshape(len(o), -1) for o in outs]),
                      np.concatenate([r.reshape(len(r), -1) for r in refs]), bundle)
        if res["psnr_db"] is None:
            res["identical"] = True  # infinite PSNR; JSON has no infinity
    res.update({
        "accuracy": accuracy_,
        "fp32_accuracy": fp32_accuracy,
        "n_golden": n_golden,
        "n_images": n_images,
        "psnr_good": True if res.get("identical") else (
            None if res["psnr_db"] is None else res["psnr_db"] >= GOOD_PSNR_DB),
    })
    return res
