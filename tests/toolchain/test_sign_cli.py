"""`facelite-build keygen` and `facelite-build sign`, and the package stage's signing:
exit 0 on success, 2 for a missing or wrong key or a damaged bundle; the development key
by default, the build's own key when given."""

from __future__ import annotations

import json
import stat

import numpy as np
import pytest

from facelite.bundle import Bundle
from facelite.signing import SignaturePolicy, check_signature, key_id, load_public_key
from facelite_build.cli import main
from facelite_build.package import DEVELOPMENT_KEY, package
from fixture_bundles import fixture_bundle, tamper


def _run(capsys, *args):
    code = main([*map(str, args), "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


@pytest.fixture
def key(capsys, tmp_path):
    code, doc, _ = _run(capsys, "keygen", tmp_path / "keys" / "release.pem")
    assert code == 0
    return doc


def test_keygen_writes_a_private_key_only_its_owner_reads_and_a_public_key(key, tmp_path):
    private, public = tmp_path / "keys" / "release.pem", tmp_path / "keys" / "release.pub"
    assert key["private_key"] == str(private) and key["public_key"] == str(public)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert key["key_id"] == key_id(load_public_key(public))


def test_keygen_never_overwrites_a_key(capsys, key, tmp_path):
    code, doc, _ = _run(capsys, "keygen", tmp_path / "keys" / "release.pem")
    assert code == 2 and "already exists" in doc["error"]


def test_sign_with_a_key_then_verify_trusting_its_folder(capsys, key, tmp_path):
    out = tmp_path / "signed.flb"
    code, doc, _ = _run(capsys, "sign", fixture_bundle("tiny"), "--key", key["private_key"], "--out", out)
    assert code == 0 and doc == {"bundle": str(out), "key_id": key["key_id"], "development_key": False}
    code, doc, _ = _run(capsys, "verify", out, "--trusted-keys", tmp_path / "keys", "--no-development-key")
    assert code == 0 and doc["signature"]["trusted"] and doc["signature"]["key_id"] == key["key_id"]


def test_sign_in_place_replaces_the_signature(capsys, key, tmp_path):
    bundle = tmp_path / "tiny.flb"
    bundle.write_bytes(fixture_bundle("tiny").read_bytes())
    assert check_signature(bundle).development_key
    assert _run(capsys, "sign", bundle, "--key", key["private_key"])[0] == 0
    assert check_signature(bundle).key_id == key["key_id"]


@pytest.mark.parametrize("what", ["missing key", "not a key", "public key", "damaged bundle", "no bundle"])
def test_sign_exits_2_naming_what_is_wrong(capsys, key, tmp_path, what):
    bundle, private = fixture_bundle("tiny"), key["private_key"]
    if what == "missing key":
        private, expected = tmp_path / "nope.pem", "no such key file"
    elif what == "not a key":
        private, expected = fixture_bundle("tiny"), "too large for a PEM key file"
    elif what == "public key":
        private, expected = key["public_key"], "not an unencrypted PEM private key"
    elif what == "damaged bundle":
        bundle, expected = tamper(bundle, tmp_path / "bad.flb", "fp32.tflite"), "fails its own checks"
    else:
        bundle, expected = tmp_path / "none.flb", "no such bundle file"
    code, doc, err = _run(capsys, "sign", bundle, "--key", private, "--out", tmp_path / "out.flb")
    assert code == 2 and expected in doc["error"] and "Traceback" not in err
    assert not (tmp_path / "out.flb").exists()


def _package(tmp_path, **kw):
    with Bundle.open(fixture_bundle("tiny")) as b:
        inputs, outputs = b.golden_inputs(), b.golden()[1]
        return package(tmp_path / "packaged.flb", name="tiny", version="0.0.1", task="classification",
                       labels=b.labels, input_spec=b.input_spec, output={"kind": "probabilities"},
                       variants={"fp32": bytes(b.variant_bytes("fp32"))}, variant_meta={},
                       golden_inputs=inputs, golden_outputs=np.asarray(outputs), **kw)


def test_the_package_stage_signs_with_the_development_key_by_default(tmp_path):
    assert DEVELOPMENT_KEY.is_file()
    check = check_signature(_package(tmp_path))
    assert check.ok and check.development_key


def test_the_package_stage_signs_with_the_key_it_is_given(tmp_path, key):
    check = check_signature(_package(tmp_path, signing_key=key["private_key"]),
                            SignaturePolicy(trusted_keys=(key["public_key"],), trust_development_key=False))
    assert check.ok and check.trusted and check.key_id == key["key_id"]
