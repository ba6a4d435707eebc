"""The committed tiny test bundles (tests/fixtures/bundles/) are what
scripts/make_fixture_bundles.py builds today: rebuilt into a temporary folder, each one
verifies and has the committed one's manifest (task, labels, input, outputs, variants,
golden layout) and tensor shapes. Only the trained bytes and their checksums may differ."""

from __future__ import annotations

import pytest

from facelite.bundle import Bundle
from facelite.engine import Engine
from facelite.verify import verify_bundle
from fixture_bundles import build_fixture_bundles, fixture_bundle


def _comparable(manifest: dict) -> dict:
    """The manifest without what depends on the trained bytes (sizes and checksums)."""
    m = {k: v for k, v in manifest.items() if k not in ("build", "metrics")}
    m["variants"] = {name: {k: v for k, v in entry.items() if k not in ("bytes", "sha256")}
                     for name, entry in manifest["variants"].items()}
    if "golden" in m:
        m["golden"] = {k: v for k, v in manifest["golden"].items() if k != "sha256"}
    return m


def _shapes(bundle: Bundle, variant: str) -> tuple:
    engine = Engine(bundle, variant, "cpu", 1)
    return tuple(engine.input_shape), tuple(tuple(o.shape) for o in engine.run(bundle.golden()[0][:1]))


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory, shared_data):
    if not (shared_data / "fer2013" / "val").is_dir():
        pytest.skip(f"no fer2013/val under {shared_data} (set FACELITE_DATA)")
    return build_fixture_bundles(tmp_path_factory.mktemp("fixtures"), shared_data)


@pytest.mark.parametrize("name", ["expression", "landmarks", "face_detector", "tiny"])
def test_rebuilt_fixture_bundle_verifies_and_matches_the_committed_one(rebuilt, name):
    report = verify_bundle(rebuilt[name])
    assert report["ok"], report["problems"]
    with Bundle.open(rebuilt[name]) as new, Bundle.open(fixture_bundle(name)) as old:
        assert _comparable(new.manifest) == _comparable(old.manifest)
        assert new.golden_inputs().shape == old.golden_inputs().shape
        for variant in old.variants:
            assert _shapes(new, variant) == _shapes(old, variant)
