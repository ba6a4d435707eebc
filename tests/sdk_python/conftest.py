"""Session fixtures: the committed tiny bundles (tests/fixtures/bundles/) and bundle folders.

The tiny bundles are files in the repo, written by `scripts/make_fixture_bundles.py`, so
these tests run without TensorFlow; the no-TensorFlow guarantee of the runtime itself is
checked in a fresh subprocess (test_no_tensorflow.py).

Two bundle folders for the analyzer and `facelite analyze`:
- `shipped_bundles_dir`: the shipped face_detector, landmarks, acne and skin_metrics bundles plus the
  fixture expression bundle (so tests never depend on the shipped expression model);
- `stand_in_bundles_dir`: only the fixture expression bundle, so detector and landmarks
  are the stand-ins.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixture_bundles import fixture_bundle
from facelite.paths import shipped_bundle

ACNE_PHOTO = "acne04/level0/level0_1.jpg"
SHIPPED = ("face_detector", "landmarks", "acne", "skin_metrics")
"""Shipped bundles (package data, see facelite.paths) that the runtime tests use as they ship."""


@pytest.fixture(scope="session")
def data(shared_data) -> Path:
    if not (shared_data / "fer2013").is_dir():
        pytest.skip(f"no fer2013 under {shared_data} (set FACELITE_DATA)")
    return shared_data


@pytest.fixture(scope="session")
def bundles() -> dict[str, Path]:
    """{"expression": fp32+int8 classifier, "landmarks": fp32, "detector": fp32 heatmap} bundle paths."""
    return {"expression": fixture_bundle("expression"), "landmarks": fixture_bundle("landmarks"),
            "detector": fixture_bundle("face_detector")}


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
    """The shipped bundles as facelite finds them: {name: facelite.paths.shipped_bundle(name)}."""
    paths = {name: shipped_bundle(name) for name in SHIPPED}
    missing = [name for name, p in paths.items() if p is None]
    assert not missing, f"shipped bundles not found by facelite.paths.shipped_bundle: {missing}"
    return paths


@pytest.fixture(scope="session")
def shipped_bundles_dir(tmp_path_factory, shipped, expression_bundle) -> Path:
    """A bundles folder: the shipped detector, landmarks, acne and skin_metrics bundles + the fixture expression."""
    return _models_dir(tmp_path_factory.mktemp("models_shipped"), {**shipped, "expression": expression_bundle})


@pytest.fixture(scope="session")
def stand_in_bundles_dir(tmp_path_factory, expression_bundle) -> Path:
    """A bundles folder with only the expression bundle: detector and landmarks use stand-ins."""
    return _models_dir(tmp_path_factory.mktemp("models_stand_in"), {"expression": expression_bundle})


@pytest.fixture(scope="session")
def acne_photo(data) -> Path:
    return data / ACNE_PHOTO
