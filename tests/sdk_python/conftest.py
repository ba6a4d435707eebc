"""Session fixtures: tiny real bundles built with tf-keras + the TFLite converter.

TensorFlow is imported here only (inside bundle_factory, after `facelite_build`), never by
the runtime under test; the no-TensorFlow guarantee is checked in a fresh subprocess.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from facelite.paths import data_root  # noqa: E402

ACNE_PHOTO = "acne04/level0/level0_1.jpg"


@pytest.fixture(scope="session")
def data() -> Path:
    root = data_root()
    if not (root / "fer2013").is_dir():
        pytest.skip(f"shared data not found at {root} (set FACELITE_DATA)")
    return root


@pytest.fixture(scope="session")
def bundles(tmp_path_factory, data) -> dict[str, Path]:
    """{"expression": fp32+int8 classifier, "landmarks": fp32, "detector": fp32 heatmap} bundle paths."""
    import bundle_factory as bf

    out = tmp_path_factory.mktemp("bundles")
    return {
        "expression": bf.build_classifier(out / "expression.flb", data),
        "landmarks": bf.build_landmarks(out / "landmarks.flb"),
        "detector": bf.build_detector(out / "face_detector.flb"),
    }


@pytest.fixture(scope="session")
def expression_bundle(bundles) -> Path:
    return bundles["expression"]


@pytest.fixture(scope="session")
def bundles_dir(tmp_path_factory, bundles) -> Path:
    """A models/ layout with only the expression bundle: detector and landmarks use stand-ins."""
    root = tmp_path_factory.mktemp("models")
    (root / "expression").mkdir()
    shutil.copy(bundles["expression"], root / "expression" / "expression.flb")
    return root


@pytest.fixture(scope="session")
def acne_photo(data) -> Path:
    return data / ACNE_PHOTO
