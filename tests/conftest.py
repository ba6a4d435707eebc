"""Fixtures shared across the test folders: small, seeded, on-disk datasets.

This folder is put on sys.path so every test folder can `import fixture_bundles` (the
committed tiny bundles, their builders and bundle helpers); pytest runs with
`--import-mode=importlib` (pyproject), so same-named test files in different folders
do not clash. Nothing here needs the toolchain: the runtime tests run without TensorFlow.
"""

import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))


def data_root() -> Path:
    """`FACELITE_DATA`, else `../shared/data` beside the checkout (the toolchain's rule, without it)."""
    env = os.environ.get("FACELITE_DATA")
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / "shared" / "data"


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
