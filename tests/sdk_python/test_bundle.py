"""The bundle format itself: aligned stored members, checksums before LiteRT, atomic writes.

These run on the committed tiny bundles and on bundles written here from their bytes, so
they need neither TensorFlow nor the shared data.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

import fixture_bundles as fb
from facelite.bundle import ALIGNMENT, Bundle, write_bundle
from facelite.errors import BundleError
from facelite.preprocess import InputSpec, normalize


def _parts(path):
    """(manifest without the fields write_bundle fills in, variant bytes) of a bundle."""
    with Bundle.open(path) as b:
        manifest = {k: v for k, v in b.manifest.items() if k not in ("golden", "schema_version")}
        manifest["variants"] = {n: {k: v for k, v in e.items() if k not in ("file", "bytes", "sha256")}
                                for n, e in b.manifest["variants"].items()}
        return manifest, {n: bytes(b.variant_bytes(n)) for n in b.variants}


def test_every_member_is_stored_at_an_aligned_offset():
    with Bundle.open(fb.fixture_bundle("expression")) as b:
        offsets = b.member_offsets()
        assert offsets and all(off % ALIGNMENT == 0 for off in offsets.values())
        with zipfile.ZipFile(b.path) as z:
            assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_STORED}


def test_written_bundle_round_trips_its_variants_and_fills_size_and_sha256(tmp_path):
    manifest, variants = _parts(fb.fixture_bundle("tiny"))
    out = write_bundle(tmp_path / "copy.flb", manifest, variants)
    with Bundle.open(out) as b:
        for name, data in variants.items():
            assert bytes(b.variant_bytes(name)) == data
            assert b.variants[name].bytes == len(data)
        assert b.verify_checksums() == []


def test_a_variant_whose_bytes_changed_is_refused_before_it_reaches_litert(tmp_path):
    bad = fb.tamper(fb.fixture_bundle("expression"), tmp_path / "bad.flb", member="fp32.tflite")
    with Bundle.open(bad) as b, pytest.raises(BundleError, match="sha256"):
        b.variant_bytes("fp32")


def test_an_interrupted_write_leaves_neither_bundle_nor_temp_file(tmp_path):
    manifest, variants = _parts(fb.fixture_bundle("tiny"))
    manifest["variants"]["ghost"] = {"target": "cpu", "input_dtype": "float32"}  # no bytes for it
    with pytest.raises(BundleError, match="ghost"):
        write_bundle(tmp_path / "never.flb", manifest, variants)
    assert os.listdir(tmp_path) == []


def test_pixel_goldens_are_normalised_with_the_manifests_own_spec():
    with Bundle.open(fb.fixture_bundle("expression")) as b:
        pixels = b.golden_inputs()
        assert pixels.dtype == np.uint8
        inputs, _ = b.golden()
        assert np.array_equal(inputs, normalize(pixels, b.input_spec))
        assert isinstance(b.input_spec, InputSpec)


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"PK\x03\x04 not really a zip", "not a zip"),
])
def test_a_file_that_is_not_a_bundle_is_named_as_such(tmp_path, content, message):
    path = tmp_path / "x.flb"
    path.write_bytes(content)
    with pytest.raises(BundleError, match=message):
        Bundle.open(path)


def test_each_member_is_hashed_once_per_open_bundle(monkeypatch):
    """The signature check, the variant checksum and the golden checksums share one sha256 per member."""
    import facelite.bundle as bundle_module
    from facelite.signing import check_signature

    hashed = []
    real = bundle_module.sha256_bytes
    monkeypatch.setattr(bundle_module, "sha256_bytes", lambda data: hashed.append(len(data)) or real(data))
    with Bundle.open(fb.fixture_bundle("expression")) as b:
        assert check_signature(b).valid
        for name in b.variants:
            b.variant_bytes(name)
            b.variant_bytes(name)
        b.golden()
        assert len(hashed) == len([n for n in b.member_offsets() if n != "signature.json"])
