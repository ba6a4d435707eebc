"""Accuracy parity of a variant against fp32: goldens plus an optional labelled folder.

- `top1_agreement`: fraction of samples whose arg-max equals fp32's (classification).
- `psnr_db`: 10·log10(peak² / MSE) of the variant's outputs against fp32's, with peak the
  fp32 outputs' dynamic range (max − min; 1.0 for probabilities). 30 dB and above is good.
- `max_abs_err`: largest absolute output difference.
- `accuracy`: task accuracy on the labelled folder (`DIR/<label>/*.png|jpg`), which is
  preprocessed with `facelite.preprocess` exactly as the runtime does; `fp32_accuracy`
  beside it.

The goldens' fp32 outputs are the ones recorded at build time (so a drifted runtime shows
up too); the folder's fp32 outputs are computed here with the bundle's fp32 variant.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from facelite.bundle import Bundle
from facelite.errors import DataError
from facelite.preprocess import preprocess

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
GOOD_PSNR_DB = 30.0
Predict = Callable[[np.ndarray], np.ndarray]


def psnr_db(ref: np.ndarray, test: np.ndarray, peak: float | None = None) -> float:
    ref = np.asarray(ref, np.float64)
    test = np.asarray(test, np.float64)
    mse = float(np.mean((ref - test) ** 2))
    if peak is None:
        peak = float(ref.max() - ref.min()) or 1.0
    if mse == 0.0:
        return float("inf")
    return 10.0 * math.log10(peak * peak / mse)


def load_labelled_folder(root: str | Path, bundle: Bundle, limit: int | None = None):
    """(float32 inputs (N, H, W, C), label indices (N,)) from DIR/<label>/<image>."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; --data takes DIR/<label>/<image> folders")
    labels = bundle.labels
    xs, ys = [], []
    unknown = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        if sub.name not in labels:
            unknown.append(sub.name)
            continue
        for img_path in sorted(sub.iterdir()):
            if img_path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            img = cv2.imread(str(img_path), cv2.IMREAD_COLOR)
            if img is None:
                raise DataError(f"{img_path}: unreadable image; remove it or re-export it")
            xs.append(preprocess(img, bundle.input_spec))
            ys.append(labels.index(sub.name))
            if limit and len(xs) >= limit:
                break
    if unknown:
        raise DataError(f"{root}: folder(s) {unknown} are not labels of bundle '{bundle.name}' "
                        f"(labels: {', '.join(labels)})")
    if not xs:
        raise DataError(f"{root}: no images found under DIR/<label>/ (labels: {', '.join(labels)})")
    return np.stack(xs).astype(np.float32), np.asarray(ys)


def compare(ref: np.ndarray, out: np.ndarray, task: str, output_kind: str) -> dict[str, Any]:
    ref = ref.reshape(len(ref), -1)
    out = out.reshape(len(out), -1)
    peak = 1.0 if output_kind == "probabilities" else None
    res = {
        "psnr_db": round(psnr_db(ref, out, peak), 3),
        "max_abs_err": round(float(np.max(np.abs(ref - out))), 6),
    }
    if task == "classification":
        res["top1_agreement"] = round(float(np.mean(ref.argmax(1) == out.argmax(1))), 4)
    else:
        res["top1_agreement"] = None
    return res


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
    accuracy = fp32_accuracy = None
    if data_dir:
        x, y = load_labelled_folder(data_dir, bundle)
        out = predict(x)
        n_images = len(x)
        if fp32_predict is not None:
            ref = fp32_predict(x)
            refs.append(ref)
            outs.append(out)
            if bundle.task == "classification":
                fp32_accuracy = round(float(np.mean(ref.reshape(len(ref), -1).argmax(1) == y)), 4)
        if bundle.task == "classification":
            accuracy = round(float(np.mean(out.reshape(len(out), -1).argmax(1) == y)), 4)
    res: dict[str, Any] = {"top1_agreement": None, "psnr_db": None, "max_abs_err": None}
    if refs:
        ref = np.concatenate([r.reshape(len(r), -1) for r in refs])
        out = np.concatenate([o.reshape(len(o), -1) for o in outs])
        res = compare(ref, out, bundle.task, bundle.manifest["output"].get("kind", ""))
    res.update({
        "accuracy": accuracy,
        "fp32_accuracy": fp32_accuracy,
        "n_golden": n_golden,
        "n_images": n_images,
        "psnr_good": None if res.get("psnr_db") is None else res["psnr_db"] >= GOOD_PSNR_DB,
    })
    if res.get("psnr_db") == float("inf"):
        res["psnr_db"] = None  # identical outputs; JSON has no infinity
        res["identical"] = True
    return res
