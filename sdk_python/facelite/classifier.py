"""Image classifiers over a bundle: expression (FER2013 labels) and the shared machinery.

The input comes from `facelite.preprocess.prepare_pixels` (steps 5–6 are the engine's,
`Engine.run_pixels`, bit-identical to `prepare`), the one path from an image to a model
input — the evaluator uses it too, so a score measured by `facelite evaluate`
is the score `classify` gives on the same file. A bundle whose manifest sets
`output.test_time_flip` is run twice per crop, on the prepared pixels and their left-right
mirror, and its scores are the mean of the two (`tasks.ClassificationTask.run_scores`).

Example:

    >>> from facelite import BaseOptions, ExpressionClassifier, ExpressionClassifierOptions
    >>> clf = ExpressionClassifier.create_from_options(ExpressionClassifierOptions(
    ...     base_options=BaseOptions(bundle_path="models/expression/expression.flb")))  # doctest: +SKIP
    >>> clf.classify("face.jpg").top                                                  # doctest: +SKIP
    ('happy', 0.91)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .options import TaskOptions
from .preprocess import prepare_pixels
from .tasks import get_task
from .vision_task import VisionTask

_CLASSIFICATION = get_task("classification")


@dataclass(frozen=True)
class Classification:
    """A classifier's answer: the best (label, score) and every label's score."""

    top: tuple[str, float]
    scores: dict[str, float]

    @property
    def label(self) -> str:
        return self.top[0]

    @property
    def score(self) -> float:
        return self.top[1]

    def to_json(self) -> dict:
        return {"top": [self.top[0], round(float(self.top[1]), 4)],
                "scores": {k: round(float(v), 4) for k, v in self.scores.items()}}


def to_classifications(scores: np.ndarray, labels: list[str]) -> list[Classification]:
    """(N, K) per-label probabilities → one Classification per row."""
    result = []
    for row in np.asarray(scores, np.float32).reshape(len(scores), -1):
        i = int(np.argmax(row))
        result.append(Classification((labels[i], float(row[i])), {l: float(v) for l, v in zip(labels, row)}))
    return result


@dataclass(frozen=True, kw_only=True)
class ClassifierOptions(TaskOptions):
    """Options of a classification task: `base_options` (bundle, variant, accelerator,
    threads; no bundle path means the task's shipped bundle) and `running_mode`."""


class ImageClassifier(VisionTask):
    """A classification bundle run on whole images or face boxes."""

    shipped_name = ""
    """The shipped bundle used when `base_options.bundle_path` is None."""
    options_type = ClassifierOptions

    def __init__(self, options: ClassifierOptions):
        super().__init__(options)
        self.bundle = self._open_bundle(self.shipped_name, "classification")
        self._engine(self.bundle)
        self.spec = self.bundle.input_spec
        self.labels = self.bundle.labels

    def classify(self, image, box=None) -> Classification:
        """One image (path or BGR array) [+ face box (x, y, w, h)] → Classification."""
        return self.classify_batch([image], [box])[0]

    def classify_batch(self, images, boxes=None) -> list[Classification]:
        """Several images [+ one face box each] in one batched model call."""
        self._check_open()
        boxes = boxes or [None] * len(images)
        pixels = np.stack([prepare_pixels(im, self.spec, b)[0] for im, b in zip(images, boxes)])
        return self._classifications(lambda p: self.engine.run_pixels(p, self.spec)[0], pixels)

    def classify_tensor(self, x: np.ndarray) -> list[Classification]:
        """Already-preprocessed float32 (N, H, W, C) → Classifications (outputs read by the
        classification task's rules, `tasks.ClassificationTask.run_scores`: logits
        softmaxed; with the bundle's `output.test_time_flip`, averaged with the mirror's)."""
        self._check_open()
        return self._classifications(lambda t: self.engine.run(t)[0], x)

    def _classifications(self, run, x: np.ndarray) -> list[Classification]:
        scores = _CLASSIFICATION.run_scores(run, x, self.bundle.manifest["output"])
        return to_classifications(scores, self.labels)


@dataclass(frozen=True, kw_only=True)
class ExpressionClassifierOptions(ClassifierOptions):
    """Options for `ExpressionClassifier` (no bundle path: the shipped `expression` bundle)."""


class ExpressionClassifier(ImageClassifier):
    """Facial expression (angry … surprise) from a face crop; best on an aligned crop."""

    shipped_name = "expression"
    options_type = ExpressionClassifierOptions
