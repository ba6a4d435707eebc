"""facelite.paths finds the shipped bundles as installed package data, or where
FACELITE_BUNDLES says; it never guesses from the source tree and never falls back silently."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest

from facelite import paths
from facelite.errors import BundleError
from facelite.paths import BUNDLES_ENV, shipped_bundle, shipped_bundles_dir


@pytest.fixture(autouse=True)
def no_override(monkeypatch):
    monkeypatch.delenv(BUNDLES_ENV, raising=False)


def test_the_shipped_bundles_are_the_installed_facelite_models_package():
    root = shipped_bundles_dir()
    assert root == Path(importlib.resources.files("facelite_models"))
    assert shipped_bundle("face_detector") == root / "face_detector" / "face_detector.flb"


def test_an_unknown_bundle_name_is_none():
    assert shipped_bundle("no-such-model") is None


def test_facelite_bundles_overrides_the_installed_bundles(monkeypatch, tmp_path):
    (tmp_path / "acne").mkdir()
    (tmp_path / "acne" / "acne.flb").write_bytes(b"stand-in bytes")
    monkeypatch.setenv(BUNDLES_ENV, str(tmp_path))
    assert shipped_bundles_dir() == tmp_path
    assert shipped_bundle("acne") == tmp_path / "acne" / "acne.flb"
    assert shipped_bundle("expression") is None


def test_facelite_bundles_naming_no_folder_is_an_error_not_a_stand_in(monkeypatch, tmp_path):
    monkeypatch.setenv(BUNDLES_ENV, str(tmp_path / "missing"))
    with pytest.raises(BundleError, match=f"{BUNDLES_ENV}=.*missing: no such folder"):
        shipped_bundle("acne")


def test_bundles_not_installed_is_an_error_that_says_how_to_fix_it(monkeypatch):
    def not_installed(package):
        raise ModuleNotFoundError(package)

    monkeypatch.setattr(paths.importlib.resources, "files", not_installed)
    with pytest.raises(BundleError, match="not installed .*pip install .*FACELITE_BUNDLES"):
        shipped_bundles_dir()
