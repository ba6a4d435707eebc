"""Image classifiers over a bundle: expression (FER2013 labels) and the shared machinery.

`prepare_input` is the one path from an image to a classifier's input tensor — the
evaluator calls it too, so a score measured by `facelite evaluate` is the score
`classify` would give on the same file.

Example:

    >>> from facelite import ExpressionClassifier, ExpressionClassifierOptions
    >>> clf = ExpressionClassifier.create_from_options(
    ...     ExpressionClassifierOptions(bundle_path="models/expression/expression.flb"))  # doctest: +SKIP
    >>> clf.classify("face.jpg").top                                                  # doctest: +SKIP
    ('happy', 0.91)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .bundle import Bundle, InputSpec
from .engine import Engine
from .errors import BundleError
from .image import load_image
from .paths import MODELS_DIR
from .preprocess import crop_square, preprocess


def default_bundle(name: str) -> Path:
    """Where a shipped bundle lives: `models/<name>/<name>.flb`."""
    return MODELS_DIR / name / f"{name}.flb"


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


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def prepare_input(image, spec: InputSpec, box=None) -> np.ndarray:
    """Image (path or array) [+ face box] → float32 (H, W, C) model input.

    A `crop == "face"` bundle gets the square crop `preprocess.crop_square(box, margin)`
    when a box is given; otherwise (and for `crop == "none"`) the whole image is the input.
    """
    pixels = load_image(image)
    if spec.crop == "face" and box is not None:
        pixels, _ = crop_square(pixels, tuple(box)[:4], spec.margin)
    return preprocess(pixels, spec)


def to_classifications(outputs: np.ndarray, labels: list[str], kind: str) -> list[Classification]:
    """(N, K) model output → one Classification per row (logits are softmaxed)."""
    probs = softmax(outputs) if kind == "logits" else outputs
    result = []
    for row in np.asarray(probs, np.float32).reshape(len(probs), -1):
        i = int(np.argmax(row))
        result.append(Classification((labels[i], float(row[i])), {l: float(v) for l, v in zip(labels, row)}))
    return result


@dataclass
class ClassifierOptions:
    """Which bundle to load and how to run it.

    Attributes:
        bundle_path: the `.flb` file; None means the shipped `models/<name>/<name>.flb`.
        variant: `auto` (the accelerator's choice) or `fp32`/`fp16`/`dynamic`/`int8`.
        accelerator: `auto`, `cpu`, `gpu` or `npu` (falls back to the CPU with a reason).
        num_threads: CPU threads for the interpreter.
    """

    bundle_path: str | os.PathLike | None = None
    variant: str = "auto"
    accelerator: str = "auto"
    num_threads: int = 2


class ImageClassifier:
    """A classification bundle run on whole images or face boxes."""

    default_name = ""
    task = "classification"

    def __init__(self, options: ClassifierOptions):
        self.options = options
        path = options.bundle_path or default_bundle(self.default_name)
        self.bundle = Bundle.open(path)
        if self.bundle.task != self.task:
            raise BundleError(
                f"{self.bundle.path}: is a '{self.bundle.task}' bundle; {type(self).__name__} needs '{self.task}'"
            )
        self.engine = Engine(self.bundle, options.variant, options.accelerator, options.num_threads)
        self.spec = self.bundle.input_spec
        self.labels = self.bundle.labels
        self.output_kind = self.bundle.manifest["output"]["kind"]

    @classmethod
    def create_from_options(cls, options):
        return cls(options)

    @classmethod
    def create_from_bundle(cls, path: str | os.PathLike):
        return cls(cls._options_type()(bundle_path=path))

    @staticmethod
    def _options_type():
        return ClassifierOptions

    @property
    def info(self):
        return self.engine.info

    def classify(self, image, box=None) -> Classification:
        """One image (path or BGR array) [+ face box (x, y, w, h)] → Classification."""
        return self.classify_batch([image], [box])[0]

    def classify_batch(self, images, boxes=None) -> list[Classification]:
        boxes = boxes or [None] * len(images)
        x = np.stack([prepare_input(im, self.spec, b) for im, b in zip(images, boxes)])
        return self.classify_tensor(x)

    def classify_tensor(self, x: np.ndarray) -> list[Classification]:
        """Already-preprocessed float32 (N, H, W, C) → Classifications."""
        return to_classifications(self.engine.run(x)[0], self.labels, self.output_kind)


@dataclass
class ExpressionClassifierOptions(ClassifierOptions):
    """Options for `ExpressionClassifier` (defaults to `models/expression/expression.flb`)."""


class ExpressionClassifier(ImageClassifier):
    """Facial expression (angry … surprise) from a face crop; best on an aligned crop."""

    default_name = "expression"

    @staticmethod
    def _options_type():
        return ExpressionClassifierOptions
