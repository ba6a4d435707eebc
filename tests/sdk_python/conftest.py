"""Session fixtures: tiny real bundles (built by tests/fixture_bundles.py) and bundle folders.

TensorFlow is imported only inside the bundle builders (after `facelite_build`), never by
the runtime under test; the no-TensorFlow guarantee is checked in a fresh subprocess.

Two bundle folders for the analyzer and `facelite analyze`:
- `shipped_bundles_dir`: the repo's shipped face_detector, landmarks and acne bundles plus
  the fixture expression bundle (so tests never depend on models/expression existing);
- `stand_in_bundles_dir`: only the fixture expression bundle, so detector and landmarks
  are the stand-ins.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import fixture_bundles as fb
from facelite.paths import MODELS_DIR

ACNE_PHOTO = "acne04/level0/level0_1.jpg"
SHIPPED = ("face_detector", "landmarks", "acne")
"""Bundles committed under models/ that the runtime tests use as they ship."""


@pytest.fixture(scope="session")
def data(shared_data) -> Path:
    if not (shared_data / "fer2013").is_dir():
        pytest.skip(f"no fer2013 under {shared_data} (set FACELITE_DATA)")
    return shared_data


@pytest.fixture(scope="session")
def bundles(tmp_path_factory, data) -> dict[str, Path]:
    """{"expression": fp32+int8 classifier, "landmarks": fp32, "detector": fp32 heatmap} bundle paths."""
    out = tmp_path_factory.mktemp("bundles")
    return {
        "expression": fb.build_classifier(out / "expression.flb", data),
        "landmarks": fb.build_landmarks(out / "landmarks.flb"),
        "detector": fb.build_detector(out / "face_detector.flb"),
    }


@pytest.fixture(scope="session")
def expression_bundle(bundles) -> Path:
    return bundles["expression"]


def _models_dir(root: Path, bundles: dict[str, Path]) -> Path:
    for name, src in bundles.items():
        (root / name).mkdir()
        (root / name / f"{name}.flb").symlink_to(src)
    return root


@pytest.fixture(scope="session")
def shipped() -> dict[str, Path]:
    """The shipped (committed) bundles: {name: models/<name>/<name>.flb}."""
    paths = {name: MODELS_DIR / name / f"{name}.flb" for name in SHIPPED}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    assert not missing, f"shipped bundles missing from the checkout: {missing}"
    return paths


@pytest.fixture(scope="session")
def shipped_bundles_dir(tmp_path_factory, shipped, expression_bundle) -> Path:
    """A models/ layout: the shipped detector, landmarks and acne bundles + the fixture expression."""
    return _models_dir(tmp_path_factory.mktemp("models_shipped"), {**shipped, "expression": expression_bundle})


@pytest.fixture(scope="session")
def stand_in_bundles_dir(tmp_path_factory, expression_bundle) -> Path:
    """A models/ layout with only the expression bundle: detector and landmarks use stand-ins."""
    return _models_dir(tmp_path_factory.mktemp("models_stand_in"), {"expression": expression_bundle})


@pytest.fixture(scope="session")
def acne_photo(data) -> Path:
    return data / ACNE_PHOTO
