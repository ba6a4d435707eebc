"""Every bundle under models/ is what its recipe builds: four verified variants (the float
ones only for a fixed graph such as skin_metrics, docs/skin.md §7), a card,
per-variant goldens, and the recipe hash of the committed recipe file; and facelite
finds exactly these files as its shipped bundles."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from facelite.bundle import VARIANT_NAMES, Bundle
from facelite.paths import BUNDLES_ENV, shipped_bundle
from facelite.verify import verify_bundle

MODELS = Path(__file__).resolve().parents[2] / "models"
SHIPPED = sorted(p.name for p in MODELS.iterdir() if (p / "recipe.toml").is_file())
FLOAT_ONLY = {"skin_metrics": ["fp32"]}
"""Bundles that ship fewer variants than the four, and which."""


def test_the_reference_models_are_shipped():
    assert {"acne", "expression", "face_detector", "landmarks", "skin_metrics"} <= set(SHIPPED)


@pytest.mark.skipif(BUNDLES_ENV in os.environ, reason=f"{BUNDLES_ENV} points facelite at other bundles")
@pytest.mark.parametrize("name", SHIPPED)
def test_facelite_finds_the_committed_bundle_as_its_shipped_bundle(name):
    found = shipped_bundle(name)
    assert found is not None and found.read_bytes() == (MODELS / name / f"{name}.flb").read_bytes()


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_bundle_was_built_from_the_committed_recipe(name):
    folder = MODELS / name
    with Bundle.open(folder / f"{name}.flb") as b:
        assert b.manifest["build"]["recipe_sha256"] == hashlib.sha256((folder / "recipe.toml").read_bytes()).hexdigest()
        variants = FLOAT_ONLY.get(name, sorted(VARIANT_NAMES))
        assert sorted(b.variants) == variants
        assert b.manifest["golden"]["input_domain"] == "pixels"
        assert sorted(b.manifest["golden"].get("variant_outputs", {})) == [v for v in variants if v != "fp32"]
    card = (folder / "MODEL_CARD.md").read_text()
    assert b.manifest["version"] in card.splitlines()[0]
    assert "Licence caveat" in card


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_bundle_verifies_every_variant(name):
    report = verify_bundle(MODELS / name / f"{name}.flb")
    assert report["ok"], report["problems"]
