"""The runtime's task registry: what a bundle's `task` means, said once per task.

A bundle's manifest names its task (`classification`, `landmarks` or `detection`). Each
task is one object here that says, for that task only:

- how its model outputs are **decoded** (per-label scores; 68 normalised points; boxes);
- which **manifest** entries it needs (`needs_labels`, `check_manifest`), and what the
  loaded model must then look like (`check_engine`: a classifier outputs one score per
  label), checked by `require_engine` wherever an Engine is made for a task;
- how its outputs are **compared** — with the golden outputs by `facelite verify`
  (`compare`), with the fp32 variant's by the bench (`agreement`, `psnr_peak`);
- how `facelite evaluate` **scores** a data folder (`eval_items`, `eval_input`,
  `eval_score`; `facelite.evaluate` runs the loop, the task does the rest).

Code elsewhere asks `get_task(bundle.task)` instead of branching on the task's name, so a
new task is a new class here, not edits in every module. (The toolchain keeps its own
registry of heads, targets and losses, built on this one.)

Example:

    >>> import numpy as np
    >>> from facelite.tasks import get_task
    >>> task = get_task("classification")
    >>> task.needs_labels, task.agreement(np.array([[0.9, 0.1]]), np.array([[0.6, 0.4]]))
    (True, 1.0)
    >>> get_task("landmarks").agreement(np.zeros((1, 136)), np.zeros((1, 136))) is None
    True
    >>> get_task("segmentation")
    Traceback (most recent call last):
    ...
    facelite.errors.BundleError: unknown task 'segmentation'; facelite knows classification, detection, landmarks
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from . import metrics
from .datasets import extent_box, labelled_images, pts_pairs, read_pts
from .detection import Box, box_to_extent, decode_heatmap, decode_output
from .errors import BundleError, DataError
from .preprocess import InputSpec, Placement, normalize, prepare_pixels

RATIO_DECIMALS = 5
"""Ratios in evaluation reports (accuracy, recall, agreement, NME) are rounded to this."""


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(float(value), RATIO_DECIMALS)


def _mean_equal(a: np.ndarray, b: np.ndarray) -> float | None:
    return float(np.mean(np.asarray(a) == np.asarray(b))) if len(a) else None


class Task:
    """One task's rules; subclasses are registered in `TASKS` by `name`.

    The `eval_*` hooks split `facelite evaluate` into: list the folder's samples with
    their ground truth, turn one decoded image into a model input (plus whatever is needed
    to read the output back), and score every variant's stacked outputs at once.
    """

    name: ClassVar[str] = ""
    needs_labels: ClassVar[bool] = False
    """True when the manifest must list `labels` (one per output class)."""

    def check_manifest(self, manifest: Mapping[str, Any]) -> list[str]:
        """Problems with this task's own manifest entries (empty when fine)."""
        return []

    def check_engine(self, manifest: Mapping[str, Any], engine) -> list[str]:
        """Problems with the loaded model `engine` (a `facelite.engine.Engine`) as this
        task's model for `manifest`: what no schema can see, because it needs the model's
        tensors (empty when it fits)."""
        return []

    def psnr_peak(self, output_spec: Mapping[str, Any]) -> float | None:
        """The PSNR peak of this task's raw outputs (None: the reference's range)."""
        return None

    def agreement(self, outputs: np.ndarray, reference: np.ndarray) -> float | None:
        """How often two variants give the same answer on the same inputs (None: no such
        notion for this task's raw outputs; the bench reports PSNR and max |err| then)."""
        return None

    def compare(self, outputs: np.ndarray, golden: np.ndarray) -> dict[str, float]:
        """Task-specific parity statistics of outputs vs goldens for `facelite verify`,
        each "higher is better" and gated by the tolerance entry of the same name: the
        task's `agreement` as `top1_agreement`, where the task has one."""
        agreement = self.agreement(outputs, golden)
        return {} if agreement is None else {"top1_agreement": agreement}

    # -- facelite evaluate ----------------------------------------------------------

    def eval_items(self, data: Path, bundle, classes: Sequence[str] | None) -> tuple[list[tuple[Path, Any]], Any]:
        """(samples [(image path, ground truth)], context for `eval_score`) of a data folder."""
        raise NotImplementedError

    def eval_input(self, image: np.ndarray, truth: Any, spec: InputSpec) -> tuple[np.ndarray, Any]:
        """A decoded BGR image and its truth → (float32 model input, what `eval_score` needs
        to read this sample's output back)."""
        raise NotImplementedError

    def eval_score(self, bundle, engines: dict, outputs: dict[str, list[np.ndarray]], states: list,
                   context: Any) -> dict[str, dict[str, Any]]:
        """Every variant's model outputs over all samples (one (N, ...) array per model
        output, in `engines[variant].run` order) and each sample's state from `eval_input`
        → per-variant results, parity with fp32 included (`outputs` holds "fp32" whenever
        the bundle has it)."""
        raise NotImplementedError

    def _classes_unsupported(self, classes) -> None:
        if classes:
            raise DataError(f"--classes restricts a classifier's labels; a '{self.name}' bundle has none")


# -- classification -------------------------------------------------------------------------


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class ClassificationTask(Task):
    """One score per label: output `kind` `probabilities` (used as they are) or `logits`
    (softmaxed). Evaluated on `DIR/<label>/*` folders; verified by max |err| and top-1
    agreement with the goldens."""

    name = "classification"
    needs_labels = True

    def check_manifest(self, manifest):
        labels = manifest.get("labels")
        if not labels or not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
            return ["a classification bundle needs a non-empty 'labels' list of names"]
        if len(set(labels)) != len(labels):
            return [f"'labels' lists a name twice: {labels}"]
        return []

    def check_engine(self, manifest, engine):
        scores = _values_per_sample(engine)
        labels = len(manifest.get("labels", []))
        if scores != labels:
            return [(f"the model outputs {scores} scores per image but the manifest lists {labels} labels; "
                     "'labels' must name every output class, in output order")]
        return []

    def scores(self, outputs: np.ndarray, output_spec: Mapping[str, Any]) -> np.ndarray:
        """(N, K) raw outputs → (N, K) per-label probabilities."""
        out = np.asarray(outputs, np.float32).reshape(len(outputs), -1)
        return softmax(out) if output_spec.get("kind") == "logits" else out

    def psnr_peak(self, output_spec):
        return 1.0 if output_spec.get("kind") == "probabilities" else None

    def agreement(self, outputs, reference):
        return metrics.top1_agreement(outputs, reference)

    def eval_items(self, data, bundle, classes):
        labels = bundle.labels
        if not classes:
            return labelled_images(data, labels)[1], labels
        unknown = [c for c in classes if c not in labels]
        if unknown:
            raise DataError(f"classes {', '.join(unknown)}: not labels of this bundle; "
                            f"choose among {', '.join(labels)}")
        classes = list(dict.fromkeys(classes))
        items = labelled_images(data, labels)[1]
        outside = sorted({labels[i] for _, i in items} - set(classes), key=labels.index)
        if outside:
            raise DataError(f"{data}: holds images of {', '.join(outside)}, outside the classes "
                            f"{', '.join(classes)}; add them to the classes or leave those folders out")
        return items, classes

    def eval_input(self, image, truth, spec):
        pixels, _ = prepare_pixels(image, spec)
        return normalize(pixels, spec), truth

    def eval_score(self, bundle, engines, outputs, states, context):
        labels, classes = bundle.labels, context
        restricted = classes != labels
        columns = [labels.index(c) for c in classes]
        truth = np.array([columns.index(t) for t in states], int)
        k = len(classes)
        outputs = {n: outs[0].reshape(len(outs[0]), -1) for n, outs in outputs.items()}
        preds = {n: out[:, columns].argmax(1) for n, out in outputs.items()}
        ref, peak = outputs.get("fp32"), self.psnr_peak(bundle.manifest["output"])
        result = {}
        for n, out in outputs.items():
            conf = metrics.confusion_matrix(truth, preds[n], k)
            entry = {
                "n": int(len(truth)),
                "accuracy": _ratio(metrics.accuracy(truth, preds[n])),
                "per_class_recall": {c: _ratio(r) for c, r in zip(classes, metrics.per_class_recall(conf))},
                "confusion": conf.tolist(),
                "labels": labels,
            }
            if restricted:
                entry.update(classes=list(classes), restricted_argmax=True)
            if ref is None or not len(ref):
                entry.update(psnr_db=None, agreement_vs_fp32=None)
            else:
                entry.update(psnr_db=metrics.psnr_db(out, ref, peak),
                             agreement_vs_fp32=_ratio(_mean_equal(preds[n], preds["fp32"])))
            result[n] = entry
        return result


# -- landmarks ----------------------------------------------------------------------------------


POINTS = 68
"""Landmarks per face (iBUG 300W scheme); a landmarks model outputs POINTS × 2 values."""


class LandmarksTask(Task):
    """68 (x, y) points in [0, 1] of the model input (the square face crop), 136 values.
    Evaluated on 300W folders with the annotated points' extent as the face box (so the
    landmarker alone is measured), by NME over the outer eye corners."""

    name = "landmarks"

    def check_manifest(self, manifest):
        out = manifest.get("output", {})
        n = out.get("points", out.get("num_points", POINTS))
        return [] if n == POINTS else [f"a landmarks bundle outputs {POINTS} points; manifest output says {n}"]

    def check_engine(self, manifest, engine):
        values = _values_per_sample(engine)
        if values != POINTS * 2:
            return [f"a landmarks model outputs {POINTS * 2} values per face ({POINTS} points), this one {values}"]
        return []

    def points(self, outputs: np.ndarray) -> np.ndarray:
        """(N, 136) raw outputs → (N, 68, 2) points in [0, 1] of the model input."""
        out = np.asarray(outputs, np.float32)
        if out.size != len(out) * POINTS * 2:
            raise BundleError(f"a landmarks model must output {POINTS * 2} values per face, got shape {out.shape}")
        if not np.isfinite(out).all():  # NaN points would reach OpenCV's polygon fill as INT_MIN (a hang)
            raise BundleError("the landmarks model output NaN or infinite coordinates; its bundle is damaged: "
                              "rebuild or re-download it")
        return out.reshape(len(out), POINTS, 2)

    def to_image(self, points: np.ndarray, placement: Placement, spec: InputSpec) -> np.ndarray:
        """One face's (68, 2) normalised points → source-image pixels."""
        return placement.to_image(np.asarray(points) * np.array([spec.width, spec.height], np.float32))

    def psnr_peak(self, output_spec):
        return 1.0

    def eval_items(self, data, bundle, classes):
        self._classes_unsupported(classes)
        return [(image, pts) for image, pts in pts_pairs(data)], None

    def eval_input(self, image, truth, spec):
        points = read_pts(truth)
        pixels, placement = prepare_pixels(image, spec, box=extent_box(points))
        return normalize(pixels, spec), (placement, points)

    def eval_score(self, bundle, engines, outputs, states, context):
        spec = bundle.input_spec
        gts = np.array([s[1] for s in states]).reshape(-1, POINTS, 2)
        outputs = {n: outs[0] for n, outs in outputs.items()}
        ref = outputs.get("fp32")
        result = {}
        for n, out in outputs.items():
            pts = self.points(out)
            preds = np.array([self.to_image(p, s[0], spec) for p, s in zip(pts, states)]).reshape(-1, POINTS, 2)
            nmes = metrics.per_face_nme(preds, gts) if len(gts) else np.zeros(0)
            entry = {
                "n": int(len(nmes)),
                "nme": _ratio(np.mean(nmes)) if len(nmes) else None,
                "nme_median": _ratio(np.median(nmes)) if len(nmes) else None,
                "failure_rate_nme_0.1": _ratio(np.mean(nmes > 0.1)) if len(nmes) else None,
                "normalisation": f"outer eye corners (points {metrics.LEFT_EYE_OUTER}, {metrics.RIGHT_EYE_OUTER})",
                "face_box": "extent of the annotated points",
            }
            if ref is None or not len(ref):
                entry.update(psnr_db=None, agreement_vs_fp32=None)
            else:
                entry.update(psnr_db=metrics.psnr_db(out, ref, 1.0), agreement_vs_fp32=None,
                             max_abs_err_vs_fp32=round(metrics.max_abs_err(out, ref), 6))
            result[n] = entry
        return result


# -- detection ----------------------------------------------------------------------------------


PACKED_CHANNELS = ("heatmap", "size_w", "size_h", "offset_x", "offset_y")
"""Channel roles of a single packed output when the manifest gives no `output.channels`."""
ROLE_KEYWORDS = {"heatmap": ("heatmap", "heat", "center", "centre"), "size": ("size", "wh", "box"),
                 "offset": ("offset", "off", "reg")}
MAX_FACES = 10
"""Boxes kept per image, best first, unless the caller asks for another number."""


@dataclass(frozen=True)
class HeatmapDecoder:
    """How one detection bundle's outputs become boxes (see `facelite.detection`).

    `roles` maps `heatmap`, `size` and optionally `offset` to positions in the engine's
    output list, or is `{"packed": i}` for one (Hs, Ws, C) output whose channels the
    manifest names in `output.channels`.
    """

    output_spec: Mapping[str, Any]
    roles: Mapping[str, int]
    input_size: tuple[int, int]
    score_threshold: float
    iou_threshold: float
    max_boxes: int

    def boxes(self, outputs: Sequence[np.ndarray]) -> list[Box]:
        """One image's outputs (each without the batch axis) → boxes in model-input pixels."""
        if "packed" in self.roles:
            out = outputs[self.roles["packed"]]
            spec = dict(self.output_spec)
            spec.setdefault("channels", list(PACKED_CHANNELS[: np.shape(out)[-1]]))
            return decode_output(out, spec, self.input_size, self.score_threshold, self.iou_threshold,
                                 self.max_boxes)
        r = self.roles
        return decode_heatmap(
            outputs[r["heatmap"]], outputs[r["size"]], int(self.output_spec["stride"]), self.input_size,
            offset=outputs[r["offset"]] if "offset" in r else None,
            score_threshold=self.score_threshold, iou_threshold=self.iou_threshold, max_boxes=self.max_boxes,
            logits=self.output_spec.get("heatmap_activation", "sigmoid") == "logits",
        )

    def to_image(self, boxes: Sequence[Box], placement: Placement, image_size: tuple[int, int]) -> list[Box]:
        """Model-input boxes → source-image boxes, clipped to the image, slivers (≤ 1 px) and
        boxes under the score threshold dropped, at most `max_boxes`."""
        w, h = image_size
        mapped = [Box(*placement.to_image_box(b.xywh), b.score).clipped(w, h) for b in boxes
                  if b.score >= self.score_threshold]
        return [b for b in mapped if b.w > 1 and b.h > 1][: self.max_boxes]


class DetectionTask(Task):
    """Face boxes from a CenterNet-style heatmap (`output.kind: heatmap`). Evaluated on 300W
    folders against the annotated points' extent (detections lose the training
    `box_margin` first), by recall, precision and false boxes per image."""

    name = "detection"

    def check_manifest(self, manifest):
        out = manifest.get("output", {})
        problems = []
        if out.get("kind") != "heatmap":
            problems.append(f"a detection bundle needs output kind 'heatmap', not '{out.get('kind')}'")
        if "stride" not in out:
            problems.append("a detection bundle's output needs 'stride' (input pixels per heatmap cell)")
        channels = out.get("channels")
        if channels is not None and not {"heatmap", "size_w", "size_h"} <= set(channels):
            problems.append(f"output.channels {channels} must name heatmap, size_w and size_h")
        return problems

    def check_engine(self, manifest, engine):
        channels = [d.shape[-1] if d.shape else 0 for d in engine.output_details]
        try:
            self.output_roles(manifest["output"], engine.output_names, channels, "the model")
        except BundleError as exc:
            return [str(exc)]
        return []

    def output_roles(self, output_spec: Mapping[str, Any], names: Sequence[str],
                     channels: Sequence[int], where: str = "bundle") -> dict[str, int]:
        """Map heatmap/size/offset to output positions; TFLite may reorder outputs.

        In order: one output with manifest `output.channels` (packed); the manifest's
        `output.outputs` as {role: output name}; output names containing a role keyword;
        channel counts (one output of 3 or 5 channels is packed; otherwise 1 → heatmap,
        a single 2 → size).
        """
        mapping = output_spec.get("outputs")
        if output_spec.get("channels"):
            return {"packed": 0}
        if isinstance(mapping, dict) and all(v in names for v in mapping.values()):
            return {role: list(names).index(n) for role, n in mapping.items()}
        roles: dict[str, int] = {}
        for role, words in ROLE_KEYWORDS.items():
            for i, n in enumerate(names):
                if i not in roles.values() and any(w in n.lower() for w in words):
                    roles[role] = i
                    break
        if "heatmap" in roles and "size" in roles:
            return roles
        if len(channels) == 1 and channels[0] in (3, 5):
            return {"packed": 0}
        ones = [i for i, c in enumerate(channels) if c == 1]
        twos = [i for i, c in enumerate(channels) if c == 2]
        if len(ones) == 1 and len(twos) == 1:
            return {"heatmap": ones[0], "size": twos[0]}
        raise BundleError(
            f"{where}: cannot tell the heatmap/size/offset outputs apart (outputs {list(names)}); "
            "name the model outputs 'heatmap', 'size', 'offset' or map them in manifest "
            "output.outputs as {role: output name}")

    def decoder(self, bundle, engine, score_threshold: float | None = None,
                iou_threshold: float | None = None, max_boxes: int = MAX_FACES) -> HeatmapDecoder:
        """The decoder of `bundle` run by `engine`; thresholds default to the manifest's
        operating point (`output.score_threshold`, `output.iou_threshold`), else 0.5 / 0.4."""
        out = bundle.manifest["output"]
        spec = bundle.input_spec
        channels = [d.shape[-1] for d in engine.output_details]
        roles = self.output_roles(out, engine.output_names, channels, str(bundle.path))
        return HeatmapDecoder(
            dict(out), roles, (spec.width, spec.height),
            float(out.get("score_threshold", 0.5) if score_threshold is None else score_threshold),
            float(out.get("iou_threshold", 0.4) if iou_threshold is None else iou_threshold),
            int(max_boxes))

    def to_extent(self, box: Box, output_spec: Mapping[str, Any]) -> Box:
        """A detection box → the landmark extent box (the manifest's `box_margin` removed)."""
        return box_to_extent(box, float(output_spec.get("box_margin", 0.0)))

    def psnr_peak(self, output_spec):
        return None if output_spec.get("heatmap_activation") == "logits" else 1.0

    def eval_items(self, data, bundle, classes):
        self._classes_unsupported(classes)
        return [(image, pts) for image, pts in pts_pairs(data)], None

    def eval_input(self, image, truth, spec):
        box = Box(*extent_box(read_pts(truth)))
        pixels, placement = prepare_pixels(image, spec)
        h, w = image.shape[:2]
        return normalize(pixels, spec), (placement, (w, h), box)

    def eval_score(self, bundle, engines, outputs, states, context):
        decoders = {n: self.decoder(bundle, engine) for n, engine in engines.items()}
        truth = [[s[2]] for s in states]                      # one annotated face per photo
        matches = {}
        for n, outs in outputs.items():
            dec = decoders[n]
            found = [[self.to_extent(b, dec.output_spec)
                      for b in dec.to_image(dec.boxes([o[i] for o in outs]), s[0], s[1])]
                     for i, s in enumerate(states)]
            matches[n] = metrics.match_detections(found, truth)
        flat = {n: np.concatenate([o.reshape(len(o), -1) for o in outs], axis=1) for n, outs in outputs.items()}
        ref, peak = flat.get("fp32"), self.psnr_peak(bundle.manifest["output"])
        result = {}
        for n, m in matches.items():
            entry = {
                "n": m["n"],
                "recall": _ratio(m["recall"]),
                "precision": _ratio(m["precision"]),
                "false_boxes_per_image": _ratio(m["false_boxes_per_image"]),
                "iou_threshold": metrics.IOU_MATCH,
            }
            if ref is None or not len(ref):
                entry.update(psnr_db=None, agreement_vs_fp32=None)
            else:
                entry.update(psnr_db=metrics.psnr_db(flat[n], ref, peak),
                             agreement_vs_fp32=_ratio(_mean_equal(m["found"], matches["fp32"]["found"])))
            result[n] = entry
        return result


# -- the registry ---------------------------------------------------------------------------------


TASKS: dict[str, Task] = {t.name: t for t in (ClassificationTask(), LandmarksTask(), DetectionTask())}
"""Every task the runtime knows, by manifest name."""


def get_task(name: str) -> Task:
    """The task called `name`, or a BundleError naming the known tasks."""
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        raise BundleError(f"unknown task '{name}'; facelite knows {', '.join(sorted(TASKS))}") from None


def _values_per_sample(engine) -> int:
    """Values the engine's first output holds per sample (all axes but the batch)."""
    return math.prod(engine.output_details[0].shape[1:])


def require_engine(bundle, engine) -> None:
    """Raise a BundleError naming the bundle, the variant and what does not fit when
    `engine`'s model cannot be `bundle`'s task's model (`Task.check_engine`): e.g. a label
    list shorter than the classifier's output, which would otherwise surface later as an
    IndexError. Called wherever an Engine is made for a task (`VisionTask`, `evaluate`);
    `facelite verify` reports the same problems."""
    problems = get_task(bundle.task).check_engine(bundle.manifest, engine)
    if problems:
        raise BundleError(f"{bundle.path}: variant '{engine.variant}': {'; '.join(problems)}; rebuild the bundle")


def require_task(bundle, name: str, who: str) -> Task:
    """`bundle`'s task if it is `name`, else a BundleError saying who needs what."""
    if bundle.task != name:
        raise BundleError(f"{bundle.path}: is a '{bundle.task}' bundle; {who} needs '{name}'")
    return get_task(name)
