"""Every bundle under models/ is what its recipe builds: four verified variants, a card,
per-variant goldens, and the recipe hash of the committed recipe file."""

from __future__ import annotations

import hashlib

import pytest

from facelite.bundle import VARIANT_NAMES, Bundle
from facelite.paths import MODELS_DIR
from facelite.verify import verify_bundle

SHIPPED = sorted(p.name for p in MODELS_DIR.iterdir() if (p / "recipe.toml").is_file())


def test_the_four_reference_models_are_shipped():
    assert SHIPPED == ["acne", "expression", "face_detector", "landmarks"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_bundle_was_built_from_the_committed_recipe(name):
    folder = MODELS_DIR / name
    with Bundle.open(folder / f"{name}.flb") as b:
        assert b.manifest["build"]["recipe_sha256"] == hashlib.sha256((folder / "recipe.toml").read_bytes()).hexdigest()
        assert sorted(b.variants) == sorted(VARIANT_NAMES)
        assert b.manifest["golden"]["input_domain"] == "pixels"
        assert sorted(b.manifest["golden"]["variant_outputs"]) == ["dynamic", "fp16", "int8"]
    card = (folder / "MODEL_CARD.md").read_text()
    assert b.manifest["version"] in card.splitlines()[0]
    assert "Licence caveat" in card


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_bundle_verifies_every_variant(name):
    report = verify_bundle(MODELS_DIR / name / f"{name}.flb")
    assert report["ok"], report["problems"]
