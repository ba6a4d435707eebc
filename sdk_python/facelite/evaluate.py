"""Measure a bundle on a data folder, with the runtime's own preprocessing and engine.

What is measured is the task's business (`facelite.tasks`); the metrics are
`facelite.metrics`, the folder layouts `facelite.datasets`. Keys (the DESIGN.md contract):

- classification — folder layout `<data>/<label>/...` (searched recursively); the folders
  may cover only some of the bundle's labels, but a folder that is not a label is an
  error. Keys: `n`, `accuracy`, `per_class_recall` (label → recall, null for a label with
  no samples), `confusion` (rows = true label, columns = predicted), `labels` (the
  bundle's). With `classes` (`--classes a,b,...`) the arg-max runs over those labels
  only — for a folder holding a subset of the model's labels, scored as a classifier of
  that subset — and the result says so: `classes`, `restricted_argmax: true`;
  `per_class_recall` and `confusion` then cover `classes`, in that order.
- classification with FER+ votes (`labels_file`, `--labels ferplus_votes.csv`) — the
  truth is each image's FER+ majority label (`facelite.datasets.ferplus_majority`: single
  votes dropped, then more than half of the remaining votes), not its folder. Rows are
  matched to images by `file`, the path under `data`; when the file has a `split`
  column, the rows of the split named like the `data` folder (`fer2013/val` → `val`).
  Left out, and counted in `ground_truth.excluded`: rows without a majority
  (`no_majority`), with an unknown or not-a-face majority (`unknown`, `not_face`),
  whose image is not under `data` (`missing_file`), and whose majority emotion the
  bundle has no label for (`not_in_bundle`: contempt for a FER2013 7-class bundle,
  which is then scored on the 7 classes both share, as `ground_truth.note` says). A
  bundle label matches a FER+ emotion by name or by its FER2013 name (happy, sad,
  angry). Images under `data` without a row are counted as `unlabelled_images`. The
  per-variant keys are the classification ones: `accuracy` is majority-label accuracy.
- classification of a bundle with `output.test_time_flip` — each sample is scored by the
  mean of its crop's and its mirror's probabilities (`ClassificationTask.run_scores`, what
  the runtime classifier and the C core compute), and `psnr_db` compares those scores.
- landmarks — `.pts` files (300W format) beside their images, searched recursively. The
  face box handed to the model is the extent (min/max) of the annotated points — the
  convention the landmarker is trained on — so this measures the landmarker alone,
  not the detector. Keys: `nme`, the mean over faces of (mean point error ÷ distance
  between the outer eye corners, points 36 and 45), `nme_median`, `failure_rate_nme_0.1`.
- detection — the same `.pts` folders; the ground truth is the points' extent box, and
  each detection is converted to that convention first (the manifest's `box_margin`
  removed). Greedy matching by score at IoU ≥ 0.5. Keys: `recall`, `precision`,
  `false_boxes_per_image`. AFW photos can show unannotated faces, which count as false
  boxes.

For every task and variant, against the fp32 variant on the same samples:

- `psnr_db` of the variant's raw model outputs, PSNR = 10·log10(peak² / MSE), peak = 1
  for outputs in [0, 1] (probabilities, normalised points, sigmoid heatmap channels),
  else the fp32 output range;
- `agreement_vs_fp32`: classification, the share of samples with the same top-1 (within
  `classes` when given); detection, the share of images where the variant found the
  annotated face exactly when fp32 did; landmarks, null (points have no verdict to agree
  on; `max_abs_err_vs_fp32` of the normalised points is reported instead).

fp32 against itself has MSE 0: `psnr_db` is then **null** (JSON has no infinity) and
`agreement_vs_fp32` 1.0 (null for landmarks). Bundles without an fp32 variant report both
as null.

Ratios (accuracy, recall, precision, agreement, NME) are reported rounded to 5 decimals
(1/3 → 0.33333), PSNR to 3.

With a file list (`files`, `--files LIST`; `facelite.datasets.read_file_list`: one path
per line, relative to `data`) only the listed samples are evaluated — e.g. the
deduplicated validation split `facelite-build splits` writes — and the result's `files`
says how many were listed, evaluated, and listed but not a sample (`not_samples`: no
annotation, or left out by a FER+ label file).

Files that cannot be read are not silently dropped: they are listed in `skipped` with
the reason, and `n` counts only what was evaluated. Duplicate images (FER2013 has some)
are evaluated as they are unless a file list leaves them out.

Inference is batched (`batch_size`, default 64) and images are decoded on a thread
pool, so FER2013 val (3,589 images) takes seconds per variant.

Example:

    >>> from facelite.evaluate import evaluate
    >>> r = evaluate("models/acne/acne.flb", "val_folder", variant="int8")    # doctest: +SKIP
    >>> r["accuracy"], r["agreement_vs_fp32"]                                   # doctest: +SKIP
    (0.725, 0.95)
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .bundle import VARIANT_NAMES, Bundle
from .datasets import (FER2013_NAMES, FERPLUS_EMOTIONS, FERPLUS_VOTES, NO_MAJORITY, FerPlusVotes,
                       ferplus_majority, list_images, read_ferplus_votes, read_file_list)
from .errors import DataError, UserError
from .image import load_image
from .signing import SignaturePolicy, enforce_signature_policy
from .tasks import get_task, require_engine

BATCH_SIZE = 64


def evaluate(bundle_path: str | os.PathLike, data_dir: str | os.PathLike, variant: str = "fp32",
             batch_size: int = BATCH_SIZE, num_threads: int = 2, accelerator: str = "cpu",
             progress: Callable[[str], None] | None = None,
             classes: Sequence[str] | None = None, policy: SignaturePolicy | None = None,
             labels_file: str | os.PathLike | None = None,
             files: str | os.PathLike | None = None) -> dict[str, Any]:
    """Evaluate one variant (flat result) or `variant="all"` (`{"variants": {...}}`).

    `classes` restricts a classifier's arg-max to those labels (see the module docstring);
    a name that is not a label of the bundle is a DataError listing the labels.
    `labels_file`, a FER+ vote file, scores a classifier against FER+ majority labels
    instead of folder names (the result's `ground_truth` says what was left out). `files`,
    a file list, restricts evaluation to the listed samples (the result's `files`). The
    bundle must pass the signature `policy` (default: `SignaturePolicy()`) like any bundle
    a task runs.
    """
    from .engine import Engine

    bundle = Bundle.open(bundle_path)
    signature = enforce_signature_policy(bundle, policy)
    data = Path(data_dir)
    if not data.is_dir():
        raise DataError(f"{data}: no such data folder; pass --data a folder of labelled images")
    if variant == "all":
        names = [v for v in VARIANT_NAMES if v in bundle.variants] + sorted(set(bundle.variants) - set(VARIANT_NAMES))
    else:
        bundle.variant(variant)  # BundleError naming the available variants
        names = [variant]
    run = names if "fp32" in names or "fp32" not in bundle.variants else ["fp32", *names]
    task = get_task(bundle.task)
    t0 = time.perf_counter()
    ground_truth = None
    if labels_file is not None:
        if bundle.task != "classification" or classes:
            raise UserError(f"{labels_file}: FER+ vote labels score an expression classifier on its own labels; "
                            + ("leave out --classes" if classes else f"this is a '{bundle.task}' bundle"))
        items, ground_truth = ferplus_items(data, read_ferplus_votes(labels_file), bundle.labels)
        context = bundle.labels
    else:
        items, context = task.eval_items(data, bundle, list(classes) if classes else None)
    selection = None
    if files is not None:
        items, selection = _listed(items, read_file_list(files, data), files, data)
    engines = {n: Engine(bundle, n, accelerator, num_threads) for n in run}
    for engine in engines.values():
        require_engine(bundle, engine)
    spec = bundle.input_spec

    def prepare(item):
        return task.eval_input(load_image(item[0]), item[1], spec)

    chunks: dict[str, list[list[np.ndarray]]] = {n: [] for n in run}
    states: list = []
    skipped: list[dict[str, str]] = []
    done = 0
    for prepared, batch in _batched(items, prepare, batch_size, num_threads):
        keep = [p for p in prepared if not isinstance(p, Exception)]
        skipped += [_skip(item[0], p) for p, item in zip(prepared, batch) if isinstance(p, Exception)]
        if keep:
            x = np.stack([p[0] for p in keep])
            for n, engine in engines.items():
                chunks[n].append(task.eval_run(engine, x, bundle.manifest["output"]))
            states += [p[1] for p in keep]
        done += len(batch)
        if progress:
            progress(f"{done}/{len(items)}")
    if not states:
        raise DataError(f"{data}: none of the {len(items)} samples could be read "
                        f"(first: {skipped[0]['file']}: {skipped[0]['reason']}); check the data folder")
    outputs = {n: [np.concatenate(parts) for parts in zip(*c)] for n, c in chunks.items()}
    per_variant = task.eval_score(bundle, engines, outputs, states, context)
    seconds = time.perf_counter() - t0
    for v in per_variant.values():
        v["skipped"] = skipped
    head = {"bundle": str(bundle.path), "task": bundle.task, "data": str(data), "seconds": round(seconds, 2),
            "signature": signature.to_json()}
    if ground_truth is not None:
        head["ground_truth"] = ground_truth
    if selection is not None:
        head["files"] = selection
    if variant == "all":
        return {**head, "variants": {n: per_variant[n] for n in names}}
    return {**head, "variant": variant, **per_variant[variant]}


def ferplus_items(data: Path, votes: FerPlusVotes, labels: Sequence[str]) -> tuple[list[tuple[Path, int]], dict]:
    """FER+ vote rows → ([(image under `data`, index into `labels` of its majority label)],
    the `ground_truth` report: what was scored and what was left out, and why)."""
    rows = votes.split(data.name) if any(votes.splits) else votes
    to_label = {}
    for emotion in FERPLUS_EMOTIONS:
        for name in (emotion, FER2013_NAMES.get(emotion)):
            if name in labels:
                to_label[emotion] = list(labels).index(name)
                break
    if not to_label:
        raise DataError(f"{votes.path}: FER+ votes name expressions ({', '.join(FERPLUS_EMOTIONS)}); the bundle's "
                        f"labels ({', '.join(labels)}) are none of them")
    majority = ferplus_majority(rows.votes)
    excluded = {"no_majority": 0, "unknown": 0, "not_face": 0, "missing_file": 0}
    not_in_bundle = {e: 0 for e in FERPLUS_EMOTIONS if e not in to_label}
    items = []
    for file, winner in zip(rows.files, majority):
        path = data / file
        if winner == NO_MAJORITY:
            excluded["no_majority"] += 1
        elif FERPLUS_VOTES[winner] == "unknown":
            excluded["unknown"] += 1
        elif FERPLUS_VOTES[winner] == "NF":
            excluded["not_face"] += 1
        elif not path.is_file():
            excluded["missing_file"] += 1
        elif FERPLUS_VOTES[winner] not in to_label:
            not_in_bundle[FERPLUS_VOTES[winner]] += 1
        else:
            items.append((path, to_label[FERPLUS_VOTES[winner]]))
    if not items:
        raise DataError(f"{votes.path}: none of its {len(rows)} rows gives an image under {data} a majority label "
                        f"the bundle has ({excluded}); check --data and --labels")
    listed = {data / f for f in rows.files}
    report = {
        "file": str(votes.path), "rule": "ferplus_majority", "split": data.name if any(votes.splits) else None,
        "rows": len(rows), "scored": len(items), "excluded": {**excluded, "not_in_bundle": not_in_bundle},
        "unlabelled_images": sum(1 for p in list_images(data) if p not in listed),
        "classes": [label for label in labels if label in {labels[i] for i in to_label.values()}],
    }
    if not_in_bundle:
        missing = ", ".join(f"'{e}' ({n} images)" for e, n in not_in_bundle.items())
        report["note"] = (f"the bundle has no label for FER+ {missing}: those images are left out, so accuracy is "
                          f"over the {len(to_label)} classes the bundle and FER+ share")
    return sorted(items), report


def _listed(items: list, listed: list[Path], list_path, data: Path) -> tuple[list, dict]:
    """The samples whose image is listed, and the `files` report."""
    wanted = {os.path.normpath(p) for p in listed}
    kept = [item for item in items if os.path.normpath(item[0]) in wanted]
    if not kept:
        raise DataError(f"{list_path}: none of its {len(wanted)} files is a sample of {data} "
                        "(annotated image, or labelled for --labels); check --data and the list")
    report = {"list": str(list_path), "listed": len(wanted), "evaluated": len(kept),
              "not_samples": len(wanted) - len(kept)}
    return kept, report


def _batched(items: list, prepare: Callable, batch_size: int, workers: int) -> Iterator[tuple[list, list]]:
    """Yield (prepared results or UserErrors, items) per batch, decoding on `workers` threads.

    Image decoding and the integer kernels release the GIL for most of their time, so
    threads really run in parallel; the interpreter then uses the same cores for the batch.
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
