"""Datasets on disk → in-memory arrays the trainer and calibrator use.

Two layouts: image folders (`<split>/<label>/*.jpg`) for classification, and 300W
folders (`NAME.jpg` + `NAME.pts`, 68 points) for landmarks and detection. Pixels go
through `facelite.preprocess` — the same colour and resize code the runtime replays —
so training sees exactly what phones will feed the model. Arrays are kept as uint8
at model resolution; normalisation happens in the input pipeline.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facelite.bundle import InputSpec
from facelite.errors import DataError
from facelite.preprocess import crop_square, prepare_pixels

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}

# iBUG 68-point mirror: index i of a flipped face is point FLIP_68[i] of the original.
FLIP_68 = np.array(
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30]
    + [35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65],
    dtype=np.int32,
)


@dataclass
class Examples:
    """A split held in memory: uint8 pixels plus the task's targets."""

    x: np.ndarray
    y: np.ndarray
    names: list[str]

    def __len__(self) -> int:
        return len(self.x)

    def take(self, idx: np.ndarray) -> "Examples":
        return Examples(self.x[idx], self.y[idx], [self.names[i] for i in idx])


def read_image(path: Path, color: str) -> np.ndarray:
    """Decode an image, raising DataError with the path when it is unreadable."""
    flag = cv2.IMREAD_GRAYSCALE if color.startswith("gray") else cv2.IMREAD_COLOR
    try:
        image = cv2.imread(str(path), flag)
    except cv2.error:
        image = None
    if image is None:
        raise DataError(f"{path}: unreadable image (not an image, or corrupt); remove or replace it")
    return image


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def class_folders(root: Path, split: str, labels: list[str] | None = None) -> list[str]:
    """Labels of a split: the recipe's list, else the sorted folder names."""
    base = root / split
    if not base.is_dir():
        raise DataError(f"{base}: data folder not found; pass --data DIR or set FACELITE_DATA")
    found = sorted(p.name for p in base.iterdir() if p.is_dir())
    if not found:
        raise DataError(f"{base}: no class folders (expected {base}/<label>/*.jpg)")
    if labels:
        missing = [lab for lab in labels if lab not in found]
        if missing:
            raise DataError(f"{base}: no folder for labels {missing}")
        return list(labels)
    return found


def load_image_folder(
    root: Path,
    split: str,
    labels: list[str],
    spec: InputSpec,
    limit: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Examples:
    """Load `root/split/<label>/*` into (N, H, W, C) uint8 and int labels.

    With `limit`, a seeded stratified subset of about `limit` images is taken, so
    quick builds still see every class.
    """
    files: list[tuple[Path, int]] = []
    for index, label in enumerate(labels):
        folder = root / split / label
        if not folder.is_dir():
            raise DataError(f"{folder}: class folder not found")
        images = _images_in(folder)
        if not images:
            raise DataError(f"{folder}: class folder is empty (no .jpg/.png images)")
        files.extend((p, index) for p in images)
    if limit and limit < len(files):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(files))[:limit]
        files = [files[i] for i in sorted(order)]
    x = np.empty((len(files), spec.height, spec.width, spec.channels), np.uint8)
    y = np.empty(len(files), np.int32)
    for i, (path, label) in enumerate(files):
        x[i] = prepare_pixels(read_image(path, spec.color), spec)
        y[i] = label
        if progress and (i + 1) % 5000 == 0:
            print(f"  loaded {i + 1}/{len(files)} images from {root / split}", file=sys.stderr)
    return Examples(x, y, [str(p) for p, _ in files])


def read_pts(path: Path) -> np.ndarray:
    """Parse a 300W `.pts` file into a (68, 2) float32 array (pixels)."""
    try:
        lines = [line.strip() for line in path.read_text().splitlines()]
        start, end = lines.index("{"), lines.index("}")
        pts = np.array([[float(v) for v in line.split()] for line in lines[start + 1 : end]], np.float32)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a valid 300W .pts file ({exc})") from None
    if pts.shape != (68, 2):
        raise DataError(f"{path}: expected 68 points, found {pts.shape[0]}")
    return pts


def extent_box(points: np.ndarray, margin: float = 0.0) -> tuple[float, float, float, float]:
    """(x, y, w, h) of the points' extent, grown by `margin` of its size per side."""
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    w, h = x1 - x0, y1 - y0
    return float(x0 - margin * w), float(y0 - margin * h), float(w * (1 + 2 * margin)), float(h * (1 + 2 * margin))


def list_pts_pairs(root: Path, subsets: list[str]) -> list[tuple[Path, Path]]:
    """(image, .pts) pairs across subset folders, sorted for reproducible splits."""
    pairs = []
    for subset in subsets:
        folder = root / subset
        if not folder.is_dir():
            raise DataError(f"{folder}: landmark folder not found; pass --data DIR or set FACELITE_DATA")
        found = []
        for pts in sorted(folder.glob("*.pts")):
            image = next((pts.with_suffix(s) for s in (".jpg", ".png", ".jpeg") if pts.with_suffix(s).exists()), None)
            if image is None:
                raise DataError(f"{pts}: no image beside it (expected {pts.with_suffix('.jpg').name})")
            found.append((image, pts))
        if not found:
            raise DataError(f"{folder}: no .pts files")
        pairs.extend(found)
    return pairs


def load_landmark_crops(
    pairs: list[tuple[Path, Path]], spec: InputSpec, jitter: int = 0, seed: int = 0
) -> Examples:
    """Square face crops (the runtime's crop_square) with points normalised to [0, 1].

    `jitter` > 0 stores that many extra crops per face with the box shifted and
    scaled a little, so the model learns to tolerate an imperfect detector.
    """
    rng = np.random.default_rng(seed)
    xs, ys, names = [], [], []
    for image_path, pts_path in pairs:
        image = read_image(image_path, spec.color)
        points = read_pts(pts_path)
        box = extent_box(points)
        boxes = [box]
        for _ in range(jitter):
            x, y, w, h = box
            s = 1.0 + rng.uniform(-0.1, 0.1)
            boxes.append((x + rng.uniform(-0.08, 0.08) * w, y + rng.uniform(-0.08, 0.08) * h, w * s, h * s))
        for b in boxes:
            crop, (x0, y0, side) = crop_square(image, b, spec.margin)
            xs.append(prepare_pixels(crop, spec))
            ys.append((points - [x0, y0]) / side)
            names.append(str(image_path))
    return Examples(np.stack(xs), np.stack(ys).astype(np.float32), names)


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic seeded (train, val) index split."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * val_fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def class_weights(y: np.ndarray, n_classes: int, mode: str) -> dict[int, float] | None:
    """`balanced`: n / (k · count); `sqrt`: its square root (gentler on rare classes)."""
    if mode == "none":
        return None
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    w = len(y) / (n_classes * np.maximum(counts, 1))
    if mode == "sqrt":
        w = np.sqrt(w)
    return {i: float(v) for i, v in enumerate(w)}
