"""Dataset files → the in-memory examples the trainer, calibrator and packager share.

Files are listed and parsed by `facelite.datasets` and turned into model pixels by
`facelite.preprocess.prepare_pixels` — the runtime's own decoder, colour conversion,
crop/letterbox and resize — so training sees exactly the pixels a phone feeds the model.
Pixels are kept as uint8 at model resolution; normalisation happens at the end of the
input pipeline (`dataset.py`), with the runtime's `normalize`.

What the targets `y` are is the task's business (`facelite_build.tasks`): class indices,
landmark coordinates, face boxes.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facelite.datasets import labelled_images
from facelite.preprocess import InputSpec, prepare_pixels

from .splits import seeded_subset


@dataclass
class Examples:
    """A split held in memory: uint8 pixels (N, H, W, C), the task's targets, file names."""

    x: np.ndarray
    y: np.ndarray
    names: list[str]

    def __len__(self) -> int:
        return len(self.x)

    def take(self, idx: np.ndarray) -> "Examples":
        return Examples(self.x[idx], self.y[idx], [self.names[i] for i in idx])

    @staticmethod
    def concat(parts: list["Examples"]) -> "Examples":
        if len(parts) == 1:
            return parts[0]
        return Examples(
            np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]), sum((p.names for p in parts), [])
        )


@dataclass
class Splits:
    """Training and validation examples of one recipe, and its labels (empty unless classes).

    `info`: what the loader has to report about the data (e.g. duplicates kept together,
    photos left out), written to the build log and the bundle's report.
    """

    train: Examples
    val: Examples
    labels: list[str]
    info: dict = field(default_factory=dict)


def load_image_folder(
    folder: Path,
    labels: list[str] | None,
    spec: InputSpec,
    limit: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> tuple[list[str], Examples]:
    """`folder/<label>/...` images → (labels, Examples with (N, H, W, C) uint8 and int labels).

    `labels` (the recipe's list) must each have a folder; without it the labels are the
    sorted folder names. With `limit`, a seeded subset of about `limit` images is taken
    (drawn across the whole list, so quick builds still see every class).
    """
    labels, files = labelled_images(folder, labels or None, require_all=True)
    files = seeded_subset(files, limit, seed)
    x = np.empty((len(files), spec.height, spec.width, spec.channels), np.uint8)
    y = np.empty(len(files), np.int32)
    for i, (path, label) in enumerate(files):
        x[i] = prepare_pixels(path, spec)[0]
        y[i] = label
        if progress and (i + 1) % 5000 == 0:
            print(f"  loaded {i + 1}/{len(files)} images from {folder}", file=sys.stderr)
    return labels, Examples(x, y, [str(p) for p, _ in files])
