"""Task metrics the toolchain writes into the manifest, per variant.

Outputs come from `verify.run_tflite`, which runs the `.tflite` bytes exactly as
shipped (integer I/O included), so the manifest's numbers are the phone's numbers.
"""

from __future__ import annotations

import numpy as np

from facelite.evaluate import per_face_nme, psnr_db


def classification_metrics(probs: np.ndarray, y: np.ndarray, reference: np.ndarray | None = None) -> dict:
    pred = probs.argmax(1)
    out = {"n": int(len(y)), "accuracy": round(float((pred == y).mean()), 4)}
    if reference is not None:
        out["agreement_vs_fp32"] = round(float((pred == reference.argmax(1)).mean()), 4)
        out["psnr_db"] = psnr_db(probs, reference)
    return out


def landmark_metrics(pred: np.ndarray, y: np.ndarray, reference: np.ndarray | None = None) -> dict:
    out = {"n": int(len(y)), "nme": round(float(per_face_nme(pred.reshape(-1, 68, 2), y.reshape(-1, 68, 2)).mean()), 5)}
    if reference is not None:
        out["max_abs_err_vs_fp32"] = round(float(np.abs(pred - reference).max()), 5)
    return out
