"""Measure a bundle on a labelled folder, with the runtime's own preprocessing.

What is measured, per task (keys are the DESIGN.md contract):

- classification — folder layout `<data>/<label>/*.jpg`; the folders may cover only some
  of the bundle's labels, but a folder that is not a label is an error. Keys: `n`,
  `accuracy`, `per_class_recall` (label → recall, null for a label with no samples),
  `confusion` (rows = true label, columns = predicted, in `labels` order), `labels`.
- landmarks — `.pts` files (300W format) beside their images, searched recursively. The
  face box handed to the model is the extent (min/max) of the annotated points — the
  convention the landmarker is trained on — so this measures the landmarker alone,
  not the detector. Key: `nme`, the mean over faces of (mean point error ÷ distance
  between the outer eye corners, points 36 and 45), plus `nme_median`.
- detection — the same `.pts` folders; the ground truth is the points' extent box, and
  each detection is converted to that convention first (`FaceDetector.to_extent`, which
  removes the training `box_margin`). Greedy matching by score at IoU ≥ 0.5. Keys:
  `recall`, `precision`, `false_boxes_per_image`. AFW photos can show unannotated
  faces, which count as false boxes.

For every task and variant: `agreement_vs_fp32` (classification: share of samples with
the same top-1 as fp32) and `psnr_db` of the variant's raw outputs against the fp32
variant's over all samples, PSNR = 10·log10(peak² / MSE), peak = 1 (probabilities and
normalised points) or the fp32 output range otherwise. fp32 against itself has MSE 0:
`psnr_db` is then **null** (JSON has no infinity) and `agreement_vs_fp32` 1.0. Bundles
without an fp32 variant report both as null.

Ratios (accuracy, recall, precision, agreement, NME) are reported rounded to 5 decimals
(1/3 → 0.33333), PSNR to 3.

Files that cannot be read are not silently dropped: they are listed in `skipped` with
the reason, and `n` counts only what was evaluated. Duplicate images (FER2013 has some)
are evaluated as they are — deduplicating is the dataset's job.

Inference is batched (`batch_size`, default 64) and images are decoded on a thread
pool, so FER2013 val (3,589 images) takes seconds per variant.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .bundle import Bundle, VARIANT_NAMES
from .classifier import prepare_input
from .detection import Box, iou
from .errors import DataError, UserError
from .image import list_images, load_image

BATCH_SIZE = 64
IOU_MATCH = 0.5


def evaluate(bundle_path: str | os.PathLike, data_dir: str | os.PathLike, variant: str = "fp32",
             batch_size: int = BATCH_SIZE, num_threads: int = 2, accelerator: str = "cpu",
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Evaluate one variant (flat result) or `variant="all"` (`{"variants": {...}}`)."""
    bundle = Bundle.open(bundle_path)
    data = Path(data_dir)
    if not data.is_dir():
        raise DataError(f"{data}: no such data folder; pass --data a folder of labelled images")
    if variant == "all":
        names = [v for v in VARIANT_NAMES if v in bundle.variants] + sorted(set(bundle.variants) - set(VARIANT_NAMES))
    else:
        bundle.variant(variant)  # BundleError naming the available variants
        names = [variant]
    run = names if "fp32" in names or "fp32" not in bundle.variants else ["fp32", *names]
    t0 = time.perf_counter()
    task = bundle.task
    fn = {"classification": _classification, "landmarks": _landmarks, "detection": _detection}[task]
    per_variant, skipped = fn(bundle, data, run, batch_size, num_threads, accelerator, progress)
    seconds = time.perf_counter() - t0
    for v in per_variant.values():
        v["skipped"] = skipped
    head = {"bundle": str(bundle.path), "task": task, "data": str(data), "seconds": round(seconds, 2)}
    if variant == "all":
        return {**head, "variants": {n: per_variant[n] for n in names}}
    return {**head, "variant": variant, **per_variant[variant]}


# -- shared -----------------------------------------------------------------------


def _engines(bundle: Bundle, names, num_threads: int, accelerator: str):
    from .engine import Engine

    return {n: Engine(bundle, n, accelerator, num_threads) for n in names}


def _batched(items: list, prepare: Callable, batch_size: int, workers: int) -> Iterator[tuple[list, list]]:
    """Yield (prepared results or UserErrors, items) per batch, decoding on `workers` threads.

    OpenCV releases the GIL while decoding and resizing, so threads really run in parallel;
    the interpreter then uses the same cores for the batch.
    """
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for i in range(0, len(items), batch_size):
            batch = items[i : i + batch_size]
            yield list(pool.map(_safe(prepare), batch)), batch


def _safe(prepare: Callable) -> Callable:
    def run(item):
        try:
            return prepare(item)
        except UserError as exc:
            return exc
    return run


def _skip(path, exc) -> dict[str, str]:
    reason = str(exc)
    prefix = f"{path}: "
    return {"file": str(path), "reason": reason[len(prefix):] if reason.startswith(prefix) else reason}


def per_face_nme(points: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Mean point error of each face over its outer-eye-corner distance (points 36, 45).

    Both (N, 68, 2) in the same units; the one NME rule for the runtime and toolchain.
    """
    iod = np.linalg.norm(truth[:, 36] - truth[:, 45], axis=1)
    return np.linalg.norm(points - truth, axis=2).mean(axis=1) / np.maximum(iod, 1e-6)


def psnr_db(outputs: np.ndarray, reference: np.ndarray, peak: float | None = None) -> float | None:
    """PSNR of outputs vs reference; None when identical (infinite)."""
    ref = np.asarray(reference, np.float64)
    mse = float(np.mean((np.asarray(outputs, np.float64) - ref) ** 2)) if ref.size else 0.0
    if mse == 0.0:
        return None
    if peak is None:
        peak = float(ref.max() - ref.min()) or 1.0
    return round(10.0 * np.log10(peak * peak / mse), 3)


def _parity(outputs: dict[str, np.ndarray], names, peak: float | None, top1: bool) -> dict[str, dict]:
    ref = outputs.get("fp32")
    result = {}
    for n in names:
        if ref is None or len(ref) == 0:
            result[n] = {"agreement_vs_fp32": None, "psnr_db": None}
            continue
        out = outputs[n]
        entry = {"psnr_db": psnr_db(out, ref, peak)}
        if top1:
            entry["agreement_vs_fp32"] = round(float(np.mean(out.argmax(1) == ref.argmax(1))), 5)
        else:
            entry["agreement_vs_fp32"] = None
            entry["max_abs_err_vs_fp32"] = round(float(np.abs(out - ref).max()), 6)
        result[n] = entry
    return result


# -- classification -----------------------------------------------------------------


def _classification(bundle, data: Path, names, batch_size, num_threads, accelerator, progress):
    labels = bundle.labels
    folders = sorted(p for p in data.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise DataError(f"{data}: no label folders; expected <data>/<label>/*.jpg with labels {', '.join(labels)}")
    unknown = [p.name for p in folders if p.name not in labels]
    if unknown:
        raise DataError(
            f"{data}: folder(s) {', '.join(unknown)} are not labels of this bundle "
            f"({', '.join(labels)}); point --data at a folder whose subfolders are label names"
        )
    items = [(f, labels.index(p.name)) for p in folders for f in list_images(p)]
    if not items:
        raise DataError(f"{data}: the label folders hold no images")
    spec = bundle.input_spec
    engines = _engines(bundle, names, num_threads, accelerator)
    outs: dict[str, list] = {n: [] for n in names}
    truth, skipped = [], []
    done = 0
    for prepared, batch in _batched(items, lambda it: prepare_input(it[0], spec), batch_size, num_threads):
        keep = [(x, it) for x, it in zip(prepared, batch) if not isinstance(x, Exception)]
        skipped += [_skip(it[0], x) for x, it in zip(prepared, batch) if isinstance(x, Exception)]
        if keep:
            x = np.stack([k[0] for k in keep])
            for n, eng in engines.items():
                outs[n].append(eng.run(x)[0].reshape(len(x), -1))
            truth += [k[1][1] for k in keep]
        done += len(batch)
        if progress:
            progress(f"{done}/{len(items)}")
    truth = np.asarray(truth, int)
    k = len(labels)
    outputs = {n: np.concatenate(v) if v else np.zeros((0, k), np.float32) for n, v in outs.items()}
    peak = 1.0 if bundle.manifest["output"]["kind"] == "probabilities" else None
    parity = _parity(outputs, names, peak, top1=True)
    result = {}
    for n in names:
        pred = outputs[n].argmax(1) if len(truth) else np.zeros(0, int)
        conf = np.zeros((k, k), int)
        np.add.at(conf, (truth, pred), 1)
        support = conf.sum(1)
        result[n] = {
            "n": int(len(truth)),
            "accuracy": round(float(np.mean(pred == truth)), 5) if len(truth) else None,
            "per_class_recall": {
                labels[i]: (round(float(conf[i, i] / support[i]), 5) if support[i] else None) for i in range(k)
            },
            "confusion": conf.tolist(),
            "labels": labels,
            **parity[n],
        }
    return result, skipped


# -- landmarks and detection (300W .pts folders) -------------------------------------


def read_pts(path: Path) -> np.ndarray:
    """A 300W `.pts` file → (N, 2) float32 points; DataError if malformed."""
    try:
        text = path.read_text()
        body = text.split("{", 1)[1].split("}", 1)[0]
        pts = np.array(body.split(), np.float32).reshape(-1, 2)
    except (OSError, IndexError, ValueError) as exc:
        raise DataError(f"{path}: not a 300W .pts file ({exc})") from None
    if len(pts) != 68:
        raise DataError(f"{path}: has {len(pts)} points, expected 68")
    return pts


def _pts_pairs(data: Path) -> list[tuple[Path, Path]]:
    pairs = []
    for pts in sorted(data.rglob("*.pts")):
        image = next((pts.with_suffix(s) for s in (".jpg", ".jpeg", ".png", ".JPG", ".PNG")
                      if pts.with_suffix(s).exists()), pts.with_suffix(".jpg"))
        pairs.append((image, pts))
    if not pairs:
        raise DataError(f"{data}: no .pts files; expected 300W folders (NAME.jpg + NAME.pts)")
    return pairs


def extent_box(points: np.ndarray) -> tuple[float, float, float, float]:
    """(x, y, w, h) of the points' min/max extent."""
    lo, hi = points.min(0), points.max(0)
    return float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])


def _landmarks(bundle, data: Path, names, batch_size, num_threads, accelerator, progress):
    from .landmarker import FaceLandmarker, FaceLandmarkerOptions, landmark_input

    spec = bundle.input_spec
    marks = {n: FaceLandmarker(FaceLandmarkerOptions(bundle_path=bundle.path, variant=n,
                                                     accelerator=accelerator, num_threads=num_threads))
             for n in names}
    pairs = _pts_pairs(data)

    def prepare(pair):
        gt = read_pts(pair[1])
        x, origin = landmark_input(load_image(pair[0]), extent_box(gt), spec)
        return x, origin, gt

    preds: dict[str, list] = {n: [] for n in names}
    raw: dict[str, list] = {n: [] for n in names}
    gts, skipped = [], []
    for prepared, batch in _batched(pairs, prepare, batch_size, num_threads):
        ok = [p for p in prepared if not isinstance(p, Exception)]
        skipped += [_skip(b[0], p) for p, b in zip(prepared, batch) if isinstance(p, Exception)]
        if ok:
            x = np.stack([p[0] for p in ok])
            origins = [p[1] for p in ok]
            for n, lm in marks.items():
                out = lm.engine.run(x)[0].reshape(len(x), -1, 2)
                raw[n].append(out)
                preds[n] += [o[:2] + pts * o[2] for pts, o in zip(out, origins)]
            gts += [p[2] for p in ok]
    raw_all = {n: np.concatenate(v) if v else np.zeros((0, 68, 2), np.float32) for n, v in raw.items()}
    parity = _parity(raw_all, names, 1.0, top1=False)
    result = {}
    for n in names:
        nmes = per_face_nme(np.asarray(preds[n]), np.asarray(gts)).tolist() if gts else []
        result[n] = {
            "n": len(nmes),
            "nme": round(float(np.mean(nmes)), 5) if nmes else None,
            "nme_median": round(float(np.median(nmes)), 5) if nmes else None,
            "failure_rate_nme_0.1": round(float(np.mean(np.asarray(nmes) > 0.1)), 5) if nmes else None,
            "normalisation": "outer eye corners (points 36, 45)",
            "face_box": "extent of the annotated points",
            **parity[n],
        }
    return result, skipped


def _detection(bundle, data: Path, names, batch_size, num_threads, accelerator, progress):
    from .face_detector import FaceDetector, FaceDetectorOptions

    detectors = {n: FaceDetector(FaceDetectorOptions(bundle_path=bundle.path, variant=n,
                                                     accelerator=accelerator, num_threads=num_threads))
                 for n in names}
    pairs = _pts_pairs(data)

    def prepare(pair):
        return load_image(pair[0]), Box(*extent_box(read_pts(pair[1])))

    stats = {n: {"tp": 0, "pred": 0, "scores": []} for n in names}
    skipped, n_images = [], 0
    for prepared, batch in _batched(pairs, prepare, batch_size, num_threads):
        for p, pair in zip(prepared, batch):
            if isinstance(p, Exception):
                skipped.append(_skip(pair[0], p))
                continue
            image, gt = p
            n_images += 1
            for n, det in detectors.items():
                boxes = det.detect(image).boxes
                extents = [Box(*det.to_extent(b), b.score) for b in boxes]
                matched = any(iou(b, gt) >= IOU_MATCH for b in extents)  # one annotated face per file
                stats[n]["tp"] += int(matched)
                stats[n]["pred"] += len(extents)
    result = {}
    for n in names:
        s = stats[n]
        result[n] = {
            "n": n_images,
            "recall": round(s["tp"] / n_images, 5) if n_images else None,
            "precision": round(s["tp"] / s["pred"], 5) if s["pred"] else None,
            "false_boxes_per_image": round((s["pred"] - s["tp"]) / n_images, 5) if n_images else None,
            "iou_threshold": IOU_MATCH,
            "agreement_vs_fp32": None,
            "psnr_db": None,
        }
    return result, skipped
