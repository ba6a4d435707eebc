"""The runtime's task registry: what a bundle's `task` means, said once per task.

A bundle's manifest names its task (`classification`, `landmarks`, `detection` or
`image_to_image`). Each task is one object here that says, for that task only:

- how its model outputs are **decoded** (per-label scores; 68 normalised points; boxes;
  pixels, by the manifest's `OutputImageSpec`);
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
    facelite.errors.BundleError: unknown task 'segmentation'; facelite knows classification, detection, image_to_image, landmarks, skin_metrics
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Sequence

import numpy as np

from . import metrics
from .datasets import extent_box, labelled_images, list_images, pts_pairs, read_pts
from .detection import Box, box_to_extent, decode_heatmap, decode_output
from .errors import BundleError, DataError
from .image import load_image
from .preprocess import InputSpec, Placement, normalize, prepare_pixels, to_color

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

    def eval_run(self, engine, x: np.ndarray, output_spec: Mapping[str, Any]) -> list[np.ndarray]:
        """One batch of stacked `eval_input` tensors through `engine` → the outputs
        `eval_score` reads: the model's own, unless the task reads them otherwise at run time."""
        return engine.run(x)

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

    def test_time_flip(self, output_spec: Mapping[str, Any]) -> bool:
        """True when the bundle's scores are the mean over the crop and its left-right mirror
        (`output.test_time_flip`, set by the recipe's `head.test_time_flip`): the model then
        runs twice per crop, for the accuracy and int8 agreement its card measured."""
        return output_spec.get("test_time_flip") is True

    def run_scores(self, run: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                   output_spec: Mapping[str, Any]) -> np.ndarray:
        """(N, K) per-label probabilities of the NHWC batch `x` (pixels or normalised), `run`
        giving the model's first output for a batch. With `test_time_flip`: the float32 mean
        of the scores of `x` and of its mirror `x[:, :, ::-1]` — the prepared input mirrored,
        exact, with no second resampling (the C core mirrors the same pixels)."""
        scores = self.scores(run(x), output_spec)
        if not self.test_time_flip(output_spec):
            return scores
        return (scores + self.scores(run(np.ascontiguousarray(x[:, :, ::-1])), output_spec)) / np.float32(2)

    def eval_run(self, engine, x, output_spec):
        if not self.test_time_flip(output_spec):
            return engine.run(x)
        return [self.run_scores(lambda batch: engine.run(batch)[0], x, output_spec)]

    def psnr_peak(self, output_spec):
        return 1.0 if output_spec.get("kind") == "probabilities" or self.test_time_flip(output_spec) else None

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
    manifest names in `output.channels`. `containment_threshold` is the manifest's
    `output.containment_threshold` (None: NMS by IoU only, as bundles before it).
    """

    output_spec: Mapping[str, Any]
    roles: Mapping[str, int]
    input_size: tuple[int, int]
    score_threshold: float
    iou_threshold: float
    max_boxes: int
    containment_threshold: float | None = None

    def boxes(self, outputs: Sequence[np.ndarray]) -> list[Box]:
        """One image's outputs (each without the batch axis) → boxes in model-input pixels."""
        if "packed" in self.roles:
            out = outputs[self.roles["packed"]]
            spec = dict(self.output_spec)
            spec.setdefault("channels", list(PACKED_CHANNELS[: np.shape(out)[-1]]))
            return decode_output(out, spec, self.input_size, self.score_threshold, self.iou_threshold,
                                 self.max_boxes, self.containment_threshold)
        r = self.roles
        return decode_heatmap(
            outputs[r["heatmap"]], outputs[r["size"]], int(self.output_spec["stride"]), self.input_size,
            offset=outputs[r["offset"]] if "offset" in r else None,
            score_threshold=self.score_threshold, iou_threshold=self.iou_threshold, max_boxes=self.max_boxes,
            logits=self.output_spec.get("heatmap_activation", "sigmoid") == "logits",
            containment_threshold=self.containment_threshold,
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
        contained = out.get("containment_threshold")
        if contained is not None and not (isinstance(contained, (int, float)) and 0 < contained <= 1):
            problems.append(f"output.containment_threshold {contained!r} must be a number in (0, 1]: the share of "
                            "the smaller box inside a better one at which NMS drops it")
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

    def score_threshold(self, output_spec: Mapping[str, Any], variant: str | None) -> float:
        """The operating point `variant` runs at: `output.score_threshold_by_variant[variant]`
        (the build chooses one per variant on the training split, because a quantized
        variant's heatmap peaks sit lower than fp32's), else `output.score_threshold`, else
        0.5. The C core's `fl_detection_decoder_init` applies the same rule.

            >>> det, out = get_task("detection"), {"score_threshold": 0.4, "score_threshold_by_variant": {"int8": 0.36}}
            >>> det.score_threshold(out, "int8"), det.score_threshold(out, "fp16")
            (0.36, 0.4)
        """
        by_variant = output_spec.get("score_threshold_by_variant") or {}
        if variant in by_variant:
            return float(by_variant[variant])
        return float(output_spec.get("score_threshold", 0.5))

    def decoder(self, bundle, engine, score_threshold: float | None = None,
                iou_threshold: float | None = None, max_boxes: int = MAX_FACES) -> HeatmapDecoder:
        """The decoder of `bundle` run by `engine`; a `score_threshold` given (the user's
        `min_score`) wins over the manifest's operating point for the engine's variant
        (`score_threshold`), `iou_threshold` over `output.iou_threshold`, else 0.4; NMS also
        drops contained boxes when the manifest gives `output.containment_threshold`."""
        out = bundle.manifest["output"]
        spec = bundle.input_spec
        channels = [d.shape[-1] for d in engine.output_details]
        roles = self.output_roles(out, engine.output_names, channels, str(bundle.path))
        contained = out.get("containment_threshold")
        return HeatmapDecoder(
            dict(out), roles, (spec.width, spec.height),
            self.score_threshold(out, engine.variant) if score_threshold is None else float(score_threshold),
            float(out.get("iou_threshold", 0.4) if iou_threshold is None else iou_threshold),
            int(max_boxes), None if contained is None else float(contained))

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
                "score_threshold": decoders[n].score_threshold,
            }
            if ref is None or not len(ref):
                entry.update(psnr_db=None, agreement_vs_fp32=None)
            else:
                entry.update(psnr_db=metrics.psnr_db(flat[n], ref, peak),
                             agreement_vs_fp32=_ratio(_mean_equal(m["found"], matches["fp32"]["found"])))
            result[n] = entry
        return result


# -- image to image ------------------------------------------------------------------------------


IMAGE_COLORS = ("rgb", "bgr")
"""Channel orders an image-to-image bundle may output."""


@dataclass(frozen=True)
class OutputImageSpec:
    """How an image-to-image model's outputs become pixels: its manifest `output` block.

    The model outputs (1, scale·H, scale·W, C) values in the units of a normalised input
    (`preprocess.normalize` with this `mean` and `std`), channels in `color` order. Each
    value v becomes the pixel clamp(floor(v·std + mean + 0.5), 0, 255), in float32 with
    each operation rounded on its own (v·std, then + mean, then + 0.5; no fused
    multiply-add), so the C core gives the same bytes (docs/bundle.md, "Image outputs").

    `context`: input pixels along each edge of a tile whose outputs are dropped when an
    image larger than the model input is restored in overlapping tiles
    (`facelite.restoration.tile_starts`); at least the model's receptive-field radius, so
    the stitched image is what one run over the whole image would give.

        >>> spec = OutputImageSpec(2, "rgb", (128.0,) * 3, (128.0,) * 3, 6)
        >>> spec.to_pixels(np.array([[[[-1.0, 0.0, 0.9999]]]], np.float32)).tolist()
        [[[[0, 128, 255]]]]
    """

    scale: int
    color: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    context: int

    @classmethod
    def from_manifest(cls, output: Mapping[str, Any]) -> "OutputImageSpec":
        return cls(int(output["scale"]), str(output["color"]), tuple(float(v) for v in output["mean"]),
                   tuple(float(v) for v in output["std"]), int(output["context"]))

    def to_manifest(self) -> dict[str, Any]:
        return {"kind": "image", "scale": self.scale, "color": self.color, "mean": list(self.mean),
                "std": list(self.std), "context": self.context}

    def to_pixels(self, outputs: np.ndarray) -> np.ndarray:
        """Model outputs (..., C) → uint8 pixels of the same shape, in the output's colours."""
        v = np.asarray(outputs, np.float32)
        if not np.isfinite(v).all():
            raise BundleError("the image-to-image model output NaN or infinite values; its bundle is damaged: "
                              "rebuild or re-download it")
        v = v * np.asarray(self.std, np.float32)
        v = v + np.asarray(self.mean, np.float32)
        return np.clip(np.floor(v + np.float32(0.5)), 0, 255).astype(np.uint8)


def bicubic_upscale(pixels: np.ndarray, scale: int) -> np.ndarray:
    """The baseline a restoration must beat: OpenCV's bicubic ×`scale` (INTER_CUBIC)."""
    import cv2

    h, w = pixels.shape[:2]
    return cv2.resize(pixels, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC).reshape(
        h * scale, w * scale, *pixels.shape[2:])


PSNR_CAP_DB = 100.0
"""The PSNR an image identical to its target counts as in a mean over images."""


def restoration_scores(restored: Sequence[np.ndarray], inputs: Sequence[np.ndarray],
                       targets: Sequence[np.ndarray], scale: int) -> dict[str, Any]:
    """PSNR (peak 255) and SSIM of restored images and of the bicubic ×`scale` of their
    inputs against the clean targets, each the mean over images (the usual
    super-resolution convention), and the gain of the restoration over bicubic.

    All uint8 (H, W, C) in the same colours; `restored[i]` and `targets[i]` are
    `scale`× `inputs[i]`. An image identical to its target counts as PSNR_CAP_DB (PSNR is
    infinite there). Shared by `facelite evaluate` and the build's manifest metrics.
    """
    if not len(targets):
        return {"n": 0, "target_psnr_db": None, "target_ssim": None, "bicubic_psnr_db": None,
                "bicubic_ssim": None, "psnr_gain_db": None, "ssim_gain": None}
    bicubic = [bicubic_upscale(x, scale) for x in inputs]
    psnr = [metrics.psnr_db(r, t, 255.0, None) or PSNR_CAP_DB for r, t in zip(restored, targets)]
    base = [metrics.psnr_db(b, t, 255.0, None) or PSNR_CAP_DB for b, t in zip(bicubic, targets)]
    ssim = [metrics.ssim(r, t) for r, t in zip(restored, targets)]
    base_ssim = [metrics.ssim(b, t) for b, t in zip(bicubic, targets)]
    return {
        "n": len(targets),
        "target_psnr_db": round(float(np.mean(psnr)), metrics.PSNR_DECIMALS),
        "target_ssim": _ratio(np.mean(ssim)),
        "bicubic_psnr_db": round(float(np.mean(base)), metrics.PSNR_DECIMALS),
        "bicubic_ssim": _ratio(np.mean(base_ssim)),
        "psnr_gain_db": round(float(np.mean(psnr) - np.mean(base)), metrics.PSNR_DECIMALS),
        "ssim_gain": _ratio(np.mean(ssim) - np.mean(base_ssim)),
    }


class ImageToImageTask(Task):
    """An image in, an image `scale`× as large out (`output.kind: image`): restoration
    (denoise and super-resolve a face crop). The output block is an `OutputImageSpec`.

    Verified by max |err| against the goldens (PSNR reported beside it); evaluated on a
    folder of pairs, `DIR/input/NAME` (model-input size) and `DIR/target/NAME` (the clean
    image, `scale`× as large), by PSNR and SSIM against the targets, next to the bicubic
    upscale of the same inputs (`target_psnr_db`, `bicubic_psnr_db`, `psnr_gain_db`, and
    the same for SSIM), and by `psnr_db`: each variant's pixels against fp32's, as the
    other tasks report parity.
    """

    name = "image_to_image"

    def output_spec(self, manifest: Mapping[str, Any]) -> OutputImageSpec:
        return OutputImageSpec.from_manifest(manifest["output"])

    def check_manifest(self, manifest):
        out = manifest.get("output", {})
        if out.get("kind") != "image":
            return [f"an image_to_image bundle needs output kind 'image', not '{out.get('kind')}'"]
        missing = [k for k in ("scale", "color", "mean", "std", "context") if k not in out]
        if missing:
            return [f"an image_to_image bundle's output needs {', '.join(missing)}"]
        spec, shape = self.output_spec(manifest), manifest["input"]["shape"]
        problems = []
        if spec.color not in IMAGE_COLORS:
            problems.append(f"output.color '{spec.color}': use one of {', '.join(IMAGE_COLORS)}")
        if len(spec.mean) != shape[3] or len(spec.std) != shape[3]:
            problems.append(f"output.mean and output.std need {shape[3]} values each, one per channel")
        if not 2 * spec.context < min(shape[1], shape[2]):
            problems.append(f"output.context {spec.context} leaves nothing of a {shape[2]}×{shape[1]} tile; "
                            "it must be under half the input side")
        return problems

    def check_engine(self, manifest, engine):
        _, h, w, c = manifest["input"]["shape"]
        s = int(manifest["output"]["scale"])
        want, got = (1, h * s, w * s, c), tuple(engine.output_details[0].shape)
        return [] if got == want else [f"an image_to_image model with a {w}×{h} input and output.scale {s} "
                                       f"outputs {want}, this one {got}"]

    def psnr_peak(self, output_spec):
        return 255.0 / min(float(s) for s in output_spec["std"])

    def compare(self, outputs, golden):
        return {"psnr_db": metrics.psnr_db(outputs, golden)}

    def eval_items(self, data, bundle, classes):
        self._classes_unsupported(classes)
        inputs, targets = Path(data) / "input", Path(data) / "target"
        if not inputs.is_dir() or not targets.is_dir():
            raise DataError(f"{data}: an image_to_image bundle is evaluated on pairs: put the degraded images "
                            "in DIR/input/ and the clean ones, under the same names, in DIR/target/")
        items = []
        for path in list_images(inputs):
            target = targets / path.relative_to(inputs)
            if not target.is_file():
                raise DataError(f"{path}: no clean image {target} beside it; every input needs its target")
            items.append((path, target))
        return items, None

    def eval_input(self, image, truth, spec):
        h, w = image.shape[:2]
        if (h, w) != (spec.height, spec.width):
            raise DataError(f"input is {w}×{h}; this bundle evaluates model-size inputs of "
                            f"{spec.width}×{spec.height} (cut larger images into tiles first)")
        pixels, _ = prepare_pixels(image, spec)
        return normalize(pixels, spec), (pixels, load_image(truth), truth)

    def eval_score(self, bundle, engines, outputs, states, context):
        spec = self.output_spec(bundle.manifest)
        inputs = [s[0] for s in states]
        targets = [to_color(s[1], spec.color) for s in states]
        for x, t, (_, _, path) in zip(inputs, targets, states):
            if t.shape[:2] != (x.shape[0] * spec.scale, x.shape[1] * spec.scale):
                raise DataError(f"{path}: {t.shape[1]}×{t.shape[0]}; a target is output.scale "
                                f"({spec.scale})× its input, {x.shape[1] * spec.scale}×{x.shape[0] * spec.scale}")
        pixels = {n: spec.to_pixels(outs[0]) for n, outs in outputs.items()}
        ref = pixels.get("fp32")
        result = {}
        for n, restored in pixels.items():
            entry = restoration_scores(list(restored), inputs, targets, spec.scale)
            entry["psnr_db"] = None if ref is None or not len(ref) else metrics.psnr_db(restored, ref, 255.0)
            entry["agreement_vs_fp32"] = None
            result[n] = entry
        return result


# -- skin metrics --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasuresLayout:
    """Where each value lies in a measures output (`output.kind: measures`): a table of
    `rows` × `columns` row by row, then `globals`, in one (1, P) vector.

        >>> layout = MeasuresLayout(("face",), ("pixels", "lightness"), ("sharpness",))
        >>> layout.decode(np.array([[10.0, 55.0, 300.0]]))
        ({'face': {'pixels': 10.0, 'lightness': 55.0}}, {'sharpness': 300.0})
    """

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    globals: tuple[str, ...]

    @classmethod
    def from_manifest(cls, output: Mapping[str, Any]) -> "MeasuresLayout":
        return cls(*(tuple(str(v) for v in output.get(k, ())) for k in ("rows", "columns", "globals")))

    @property
    def size(self) -> int:
        return len(self.rows) * len(self.columns) + len(self.globals)

    def decode(self, outputs: np.ndarray) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
        """One sample's output ((1, P) or (P,)) → ({row: {column: value}}, {global: value})."""
        v = np.asarray(outputs, np.float32).reshape(-1)
        if v.size != self.size:
            raise BundleError(f"a measures output holds {v.size} values; its manifest lays out {self.size}")
        if not np.isfinite(v).all():
            raise BundleError("the skin_metrics model output NaN or infinite values; its bundle is damaged: "
                              "rebuild or re-download it")
        c = len(self.columns)
        table = {r: {m: float(v[i * c + k]) for k, m in enumerate(self.columns)} for i, r in enumerate(self.rows)}
        tail = v[len(self.rows) * c:]
        return table, {g: float(x) for g, x in zip(self.globals, tail)}


class SkinMetricsTask(Task):
    """Skin measures computed by a fixed graph (`output.kind: measures`, a `MeasuresLayout`):
    the input is a face crop's pixels plus its region masks (`input.extra_channels`),
    built by `facelite.skin_measures`; the output one vector of named measures
    (docs/skin.md). Verified by max |err| against the goldens; there is no labelled data
    to evaluate, so `facelite evaluate` refuses it."""

    name = "skin_metrics"

    def layout(self, manifest: Mapping[str, Any]) -> MeasuresLayout:
        return MeasuresLayout.from_manifest(manifest["output"])

    def check_manifest(self, manifest):
        out = manifest.get("output", {})
        if out.get("kind") != "measures":
            return [f"a skin_metrics bundle needs output kind 'measures', not '{out.get('kind')}'"]
        layout = self.layout(manifest)
        problems = []
        if not layout.columns or not layout.rows:
            problems.append("a skin_metrics bundle's output needs 'rows' and 'columns' (the table of measures)")
        for key in ("rows", "columns", "globals"):
            names = getattr(layout, key)
            if len(set(names)) != len(names):
                problems.append(f"output.{key} repeats a name: {list(names)}")
        if not manifest["input"].get("extra_channels"):
            problems.append("a skin_metrics bundle's input needs extra_channels (the mask channels it reads)")
        return problems

    def check_engine(self, manifest, engine):
        want, got = self.layout(manifest).size, _values_per_sample(engine)
        return [] if got == want else [f"its output.rows, columns and globals lay out {want} values; "
                                       f"the model outputs {got}"]

    def eval_items(self, data, bundle, classes):
        raise DataError("a skin_metrics bundle has no labelled data to evaluate: it computes measures; "
                        "run `facelite verify` to check it, or measure photos with facelite.skin_measures")


# -- the registry ---------------------------------------------------------------------------------


TASKS: dict[str, Task] = {t.name: t for t in (ClassificationTask(), LandmarksTask(), DetectionTask(),
                                              ImageToImageTask(), SkinMetricsTask())}
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
