"""Scores a model is judged by, defined once for the evaluator, verifier, toolchain and bench.

Every number facelite reports about a model — the manifest's metrics, `facelite
evaluate`, `facelite verify`, the bench's parity block — comes from these functions, so
two tools can never disagree on what "accuracy" or "PSNR" means. They take plain numpy
arrays (or anything with box attributes) and return plain floats, `None` where a ratio
is undefined (no samples), so results go straight into JSON. Rounding for display is the
caller's job, except `psnr_db`, which reports decibels to `PSNR_DECIMALS` everywhere.

Example:

    >>> import numpy as np
    >>> from facelite.metrics import accuracy, confusion_matrix, per_class_recall, psnr_db
    >>> truth, pred = np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2])
    >>> accuracy(truth, pred)
    0.75
    >>> confusion_matrix(truth, pred, 3).tolist()
    [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    >>> per_class_recall(confusion_matrix(truth, pred, 4))
    [0.5, 1.0, 1.0, None]
    >>> psnr_db(np.array([0.51, 0.49]), np.array([0.5, 0.5]), peak=1.0)
    40.0
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

import numpy as np

PSNR_DECIMALS = 3
"""Decimals of every reported PSNR (dB): far below any difference that matters."""

LEFT_EYE_OUTER, RIGHT_EYE_OUTER = 36, 45
"""iBUG 68-point indices of the outer eye corners, the NME normaliser."""

IOU_MATCH = 0.5
"""A detection matches an annotated face at IoU ≥ this (the usual face-detection rule)."""


class BoxLike(Protocol):
    """Anything with x, y, w, h in the same pixel units (e.g. `facelite.detection.Box`)."""

    x: float
    y: float
    w: float
    h: float


# -- parity between two sets of outputs ------------------------------------------------


def psnr_db(outputs, reference, peak: float | None = None,
            decimals: int | None = PSNR_DECIMALS) -> float | None:
    """Peak signal-to-noise ratio 10·log10(peak² / MSE) of `outputs` against `reference`.

    `peak` defaults to the reference's range (max − min; 1.0 for a constant reference);
    pass 1.0 for probabilities or normalised coordinates. Identical arrays have an
    infinite PSNR, returned as None because JSON has no infinity. Rounded to `decimals`
    (None: exact).

    >>> import numpy as np
    >>> psnr_db(np.ones(3), np.ones(3)) is None
    True
    >>> psnr_db(np.array([0.0, 2.1]), np.array([0.0, 2.0]))     # peak = range 2.0
    29.031
    """
    out = np.asarray(outputs, np.float64)
    ref = np.asarray(reference, np.float64)
    if out.shape != ref.shape:
        raise ValueError(f"psnr_db: outputs {out.shape} and reference {ref.shape} differ in shape")
    mse = float(np.mean((out - ref) ** 2)) if ref.size else 0.0
    if mse == 0.0:
        return None
    if peak is None:
        peak = float(ref.max() - ref.min()) or 1.0
    value = 10.0 * float(np.log10(peak * peak / mse))
    return value if decimals is None else round(value, decimals)


SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03
"""SSIM's constants as Wang et al. (2004) define them: an 11×11 Gaussian window of σ 1.5,
C1 = (K1·peak)², C2 = (K2·peak)²."""


def ssim(image, reference, peak: float = 255.0) -> float:
    """Mean structural similarity of `image` against `reference` (Wang et al. 2004).

    Both (H, W) or (H, W, C), the same shape, at least SSIM_WINDOW pixels a side. Local
    means, variances and covariance come from the Gaussian window over the positions
    where it fits inside the image (no padding); the SSIM map is averaged over those
    positions and over channels. PSNR says how far pixels moved; SSIM says whether edges
    and texture kept their shape, which is what a blurry upscale loses. 1.0 is identical.

    >>> import numpy as np
    >>> ramp = np.tile(np.arange(16.0) * 16, (16, 1))
    >>> ssim(ramp, ramp), round(ssim(ramp + 8.0, ramp), 4)
    (1.0, 0.9976)
    """
    x = np.asarray(image, np.float64)
    y = np.asarray(reference, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"ssim: image {x.shape} and reference {y.shape} differ in shape")
    if x.ndim == 2:
        x, y = x[:, :, None], y[:, :, None]
    if x.ndim != 3 or min(x.shape[:2]) < SSIM_WINDOW:
        raise ValueError(f"ssim: needs (H, W[, C]) images at least {SSIM_WINDOW} pixels a side, got {x.shape}")
    t = np.arange(SSIM_WINDOW) - (SSIM_WINDOW - 1) / 2.0
    g = np.exp(-(t * t) / (2.0 * SSIM_SIGMA**2))
    g /= g.sum()

    def blur(a: np.ndarray) -> np.ndarray:  # separable Gaussian over the valid positions
        a = np.lib.stride_tricks.sliding_window_view(a, SSIM_WINDOW, axis=0) @ g
        return np.lib.stride_tricks.sliding_window_view(a, SSIM_WINDOW, axis=1) @ g

    c1, c2 = (SSIM_K1 * peak) ** 2, (SSIM_K2 * peak) ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    num = (2.0 * mx * my + c1) * (2.0 * cxy + c2)
    den = (mx * mx + my * my + c1) * (vx + vy + c2)
    return float(np.mean(num / den))


def cohens_d(a, b) -> float | None:
    """Effect size of the difference of means, (mean(b) − mean(a)) / pooled SD (Cohen's d).

    The pooled SD is √(((nₐ − 1)·sₐ² + (n_b − 1)·s_b²) / (nₐ + n_b − 2)) with sample SDs;
    None when either group has fewer than 2 values or both are constant. How far apart two
    groups' scores are in units of their spread: 0.2 small, 0.5 medium, 0.8 large.

    >>> cohens_d([1.0, 2.0, 3.0], [3.0, 4.0, 5.0])
    2.0
    """
    x, y = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if len(x) < 2 or len(y) < 2:
        return None
    pooled = np.sqrt(((len(x) - 1) * x.var(ddof=1) + (len(y) - 1) * y.var(ddof=1)) / (len(x) + len(y) - 2))
    return None if pooled == 0 else float((y.mean() - x.mean()) / pooled)


def max_abs_err(outputs, reference) -> float:
    """Largest |outputs − reference| over all elements (0.0 for empty arrays).

    >>> max_abs_err([0.1, 0.5], [0.1, 0.2])
    0.3
    """
    err = np.abs(np.asarray(outputs, np.float64) - np.asarray(reference, np.float64))
    return float(err.max()) if err.size else 0.0


def mean_abs_err(outputs, reference) -> float:
    """Mean |outputs − reference| over all elements (0.0 for empty arrays)."""
    err = np.abs(np.asarray(outputs, np.float64) - np.asarray(reference, np.float64))
    return float(err.mean()) if err.size else 0.0


def top1_agreement(outputs, reference) -> float | None:
    """Share of rows whose arg-max class is the same in both (None without rows).

    Each array is (N, ...) scores, flattened per row.

    >>> import numpy as np
    >>> top1_agreement(np.array([[0.9, 0.1], [0.4, 0.6]]), np.array([[0.8, 0.2], [0.7, 0.3]]))
    0.5
    """
    out, ref = np.asarray(outputs), np.asarray(reference)
    if len(ref) == 0:
        return None
    return float(np.mean(out.reshape(len(out), -1).argmax(1) == ref.reshape(len(ref), -1).argmax(1)))


# -- classification ---------------------------------------------------------------------


def accuracy(truth, pred) -> float | None:
    """Share of samples whose predicted class index equals the true one (None without samples)."""
    truth, pred = np.asarray(truth), np.asarray(pred)
    return float(np.mean(truth == pred)) if truth.size else None


def confusion_matrix(truth, pred, k: int) -> np.ndarray:
    """(k, k) int counts: row = true class, column = predicted class."""
    conf = np.zeros((k, k), np.int64)
    np.add.at(conf, (np.asarray(truth, int), np.asarray(pred, int)), 1)
    return conf


def per_class_recall(confusion) -> list[float | None]:
    """Recall of each class from a confusion matrix: diagonal ÷ row sum (None for an empty row)."""
    conf = np.asarray(confusion)
    support = conf.sum(1)
    return [float(conf[i, i] / support[i]) if support[i] else None for i in range(len(conf))]


# -- landmarks ----------------------------------------------------------------------------


def per_face_nme(points, truth) -> np.ndarray:
    """Normalised mean error of each face: mean point distance ÷ outer-eye-corner distance.

    Both (N, 68, 2) in the same units (pixels, or crop fractions); the normaliser is the
    distance between the annotated points 36 and 45 (the iBUG/300W "inter-ocular" rule).
    Returns (N,) float64.

    >>> import numpy as np
    >>> truth = np.zeros((1, 68, 2)); truth[0, 45] = (10.0, 0.0)
    >>> per_face_nme(truth + 0.5, truth).round(4).tolist()        # every point off by 0.707
    [0.0707]
    """
    points = np.asarray(points, np.float64)
    truth = np.asarray(truth, np.float64)
    iod = np.linalg.norm(truth[:, LEFT_EYE_OUTER] - truth[:, RIGHT_EYE_OUTER], axis=1)
    return np.linalg.norm(points - truth, axis=2).mean(axis=1) / np.maximum(iod, 1e-6)


# -- detection ----------------------------------------------------------------------------


def intersection(a: BoxLike, b: BoxLike) -> float:
    """Area of the overlap of two boxes (0 when they do not overlap)."""
    ix = max(0.0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0.0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    return ix * iy


def iou(a: BoxLike, b: BoxLike) -> float:
    """Intersection over union of two boxes (0 when either is empty).

    >>> from types import SimpleNamespace as B
    >>> iou(B(x=0, y=0, w=2, h=2), B(x=1, y=0, w=2, h=2))
    0.3333333333333333
    """
    inter = intersection(a, b)
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


def match_detections(found_per_image: Sequence[Sequence[BoxLike]],
                     truth_per_image: Sequence[Sequence[BoxLike]],
                     iou_threshold: float = IOU_MATCH) -> dict[str, Any]:
    """Score detections against annotated faces, image by image.

    In each image the detections are taken best score first (a box without `score`
    counts as 1.0); each claims the still-unclaimed annotated face it overlaps most, if
    that IoU is ≥ `iou_threshold`. A detection that claims nothing is a false box —
    including one on a real but unannotated face (300W labels one face per photo).

    Returns `n` (images), `n_truth`, `n_pred`, `tp`, `recall` (tp / n_truth),
    `precision` (tp / n_pred), `false_boxes_per_image` ((n_pred − tp) / n) — None where
    the denominator is 0 — and `found` (faces matched in each image, for comparing two
    detectors image by image).

    >>> from facelite.detection import Box
    >>> r = match_detections([[Box(0, 0, 10, 10, 0.9), Box(50, 50, 10, 10, 0.8)], []],
    ...                      [[Box(1, 1, 10, 10)], [Box(0, 0, 5, 5)]])
    >>> r["recall"], r["precision"], r["false_boxes_per_image"], r["found"]
    (0.5, 0.5, 0.5, [1, 0])
    """
    if len(found_per_image) != len(truth_per_image):
        raise ValueError(f"match_detections: {len(found_per_image)} images of detections "
                         f"but {len(truth_per_image)} of annotations")
    found_counts: list[int] = []
    n_pred = n_truth = 0
    for found, truth in zip(found_per_image, truth_per_image):
        free = list(truth)
        matched = 0
        for box in sorted(found, key=lambda b: getattr(b, "score", 1.0), reverse=True):
            overlaps = [iou(box, t) for t in free]
            best = int(np.argmax(overlaps)) if overlaps else -1
            if best >= 0 and overlaps[best] >= iou_threshold:
                free.pop(best)
                matched += 1
        found_counts.append(matched)
        n_pred += len(found)
        n_truth += len(truth)
    n, tp = len(found_counts), sum(found_counts)
    return {
        "n": n, "n_truth": n_truth, "n_pred": n_pred, "tp": tp,
        "recall": tp / n_truth if n_truth else None,
        "precision": tp / n_pred if n_pred else None,
        "false_boxes_per_image": (n_pred - tp) / n if n else None,
        "found": found_counts,
    }
