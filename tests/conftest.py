"""Fixtures shared across the test folders: small, seeded, on-disk datasets.

This folder is put on sys.path so every test folder can `import fixture_bundles` (the
one builder of tiny real bundles and bundle helpers); pytest runs with
`--import-mode=importlib` (pyproject), so same-named test files in different folders
do not clash.
"""

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import facelite_build  # noqa: F401  (tf-keras switch before any test imports TensorFlow)
from facelite.paths import data_root

sys.path.insert(0, str(Path(__file__).parent))


def _pattern(label: int, rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """A greyscale image whose class is visible: bright band position encodes the label."""
    img = rng.integers(0, 60, (size, size), dtype=np.uint8)
    band = size // 3
    img[:, label * band : (label + 1) * band] += 150
    return img


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory) -> Path:
    """`train/` and `val/` with three classes of 48×48 greyscale JPEGs (24 + 8 per class)."""
    root = tmp_path_factory.mktemp("folder")
    rng = np.random.default_rng(0)
    for split, count in (("train", 24), ("val", 8)):
        for label, name in enumerate(("left", "middle", "right")):
            d = root / split / name
            d.mkdir(parents=True)
            for i in range(count):
                cv2.imwrite(str(d / f"{i}.jpg"), _pattern(label, rng))
    return root


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`FACELITE_DATA`, else `../shared/data` beside the checkout (skips when absent)."""
    root = data_root()
    if not root.is_dir():
        pytest.skip(f"shared data not found at {root} (set FACELITE_DATA)")
    return root
