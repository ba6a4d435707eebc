"""Signed bundles (facelite.signing): a re-sealed tamper or a manifest edit is refused by
name, untrusted and unsigned bundles follow the policy, the development key is trusted
only with a warning, and signing changes nothing but the added `signature.json`.

Keys are generated per test; the only committed private key is the development key."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import warnings
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from facelite import BaseOptions
from facelite.bundle import ALIGNMENT, MANIFEST, Bundle, sha256_bytes, write_members
from facelite.classifier import ExpressionClassifier, ExpressionClassifierOptions
from facelite.cli import main
from facelite.errors import BundleError, UserError
from facelite.signing import (SIGNATURE_MEMBER, TRUSTED_KEYS_ENV, SignaturePolicy, SignatureWarning,
                              check_signature, development_public_key, enforce_signature_policy,
                              generate_key_pair, key_id, load_public_key, sign_bundle)
from fixture_bundles import tamper

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(REPO.glob("models/*/*.flb"))


@pytest.fixture
def key(tmp_path):
    """(private key file, public key file) of a fresh key pair."""
    return generate_key_pair(tmp_path / "keys" / "me.pem")


@pytest.fixture
def signed(tmp_path, key, expression_bundle) -> Path:
    """The fixture expression bundle, signed with the test's own key."""
    return sign_bundle(expression_bundle, key[0], out=tmp_path / "signed.flb")


def _members(path) -> dict[str, bytes]:
    with Bundle.open(path) as b:
        return {name: bytes(b.member_view(name)) for name in b.member_offsets()}


def _rewrite(src: Path, dst: Path, **changed: bytes | None) -> Path:
    """`src` with members replaced (or dropped, for None), in the same order: the old
    signature is kept unless dropped. Member names use `__` for `.` (`fp32__tflite`)."""
    changed = {k.replace("__", "."): v for k, v in changed.items()}
    members = [(n, changed.get(n, d)) for n, d in _members(src).items() if changed.get(n, d) is not None]
    return write_members(dst, members)


def _classifier(path, **trust):
    return ExpressionClassifier.create_from_options(ExpressionClassifierOptions(
        base_options=BaseOptions(bundle_path=path, accelerator="cpu", **trust)))


def _resealed_tamper(src: Path, dst: Path) -> Path:
    """The finding: fp32 weights zeroed, the manifest's sha256 recomputed, the old signature kept."""
    members = _members(src)
    model = bytearray(members["fp32.tflite"])
    quarter = len(model) // 4
    model[quarter:3 * quarter] = bytes(2 * quarter)
    manifest = json.loads(members[MANIFEST])
    manifest["variants"]["fp32"]["sha256"] = sha256_bytes(bytes(model))
    return _rewrite(src, dst, fp32__tflite=bytes(model),
                    manifest__json=json.dumps(manifest, indent=2).encode())


def test_a_bundle_signed_with_a_trusted_key_verifies_and_names_its_signer(signed, key):
    check = check_signature(signed, SignaturePolicy(require_signature=True, trusted_keys=(key[1],),
                                                    trust_development_key=False))
    assert check.ok and check.valid and check.trusted and not check.development_key and check.warning is None
    assert check.key_id == key_id(load_public_key(key[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a trusted signature loads silently
        with _classifier(signed, trusted_keys=(key[1],)) as clf:
            assert clf.bundle.labels


def test_signing_adds_only_an_aligned_signature_member(signed, expression_bundle):
    before, after = _members(expression_bundle), _members(signed)
    assert {n: d for n, d in after.items() if n != SIGNATURE_MEMBER} == {
        n: d for n, d in before.items() if n != SIGNATURE_MEMBER}
    with Bundle.open(expression_bundle) as old, Bundle.open(signed) as new:
        old_offsets, new_offsets = old.member_offsets(), new.member_offsets()
        assert list(new_offsets)[-1] == SIGNATURE_MEMBER
        assert all(new_offsets[n] == off for n, off in old_offsets.items())
        assert all(off % ALIGNMENT == 0 for off in new_offsets.values())
        assert new.verify_checksums() == []


def test_a_resealed_tamper_passes_the_checksums_but_is_refused_naming_the_member(signed, key, tmp_path):
    bad = _resealed_tamper(signed, tmp_path / "resealed.flb")
    with Bundle.open(bad) as b:
        assert b.verify_checksums() == []          # the manifest's own hashes are no defence
    with pytest.raises(BundleError, match=r"member fp32\.tflite differs from the signed bytes") as err:
        _classifier(bad, require_signature=True, trusted_keys=(key[1],))
    assert "member manifest.json differs" in str(err.value) and "changed after it was signed" in str(err.value)


def test_a_manifest_label_swap_is_refused_naming_the_manifest(signed, key, tmp_path):
    manifest = json.loads(_members(signed)[MANIFEST])
    manifest["labels"] = manifest["labels"][::-1]
    bad = _rewrite(signed, tmp_path / "swapped.flb", manifest__json=json.dumps(manifest, indent=2).encode())
    with pytest.raises(BundleError, match=r"member manifest\.json differs from the signed bytes"):
        _classifier(bad, require_signature=True, trusted_keys=(key[1],))


def test_a_broken_signature_is_refused_even_where_none_is_required(signed, tmp_path):
    doc = json.loads(_members(signed)[SIGNATURE_MEMBER])
    sig = bytearray(base64.b64decode(doc["signature"]))
    sig[0] ^= 1
    doc["signature"] = base64.b64encode(bytes(sig)).decode()
    bad = _rewrite(signed, tmp_path / "forged.flb", signature__json=json.dumps(doc).encode())
    with pytest.raises(BundleError, match="signature does not verify"):
        _classifier(bad, require_signature=False)


def test_a_member_added_after_signing_is_named(signed, tmp_path):
    members = list(_members(signed).items())
    bad = write_members(tmp_path / "added.flb", [*members[:-1], ("extra.bin", b"\0" * 8), members[-1]])
    assert "member extra.bin was added after signing" in check_signature(bad).problem


def test_an_untrusted_key_is_refused_where_a_signature_is_required(signed, tmp_path):
    _, other_public = generate_key_pair(tmp_path / "other.pem")
    with pytest.raises(BundleError, match=r"signed by untrusted key [0-9a-f]{16}; to trust it"):
        _classifier(signed, require_signature=True, trusted_keys=(other_public,))
    with pytest.warns(SignatureWarning, match="signed by untrusted key"):
        _classifier(signed, require_signature=False).close()


def test_an_unsigned_bundle_from_outside_the_package_is_refused_by_default(signed, tmp_path):
    unsigned = _rewrite(signed, tmp_path / "unsigned.flb", signature__json=None)
    with pytest.raises(BundleError, match="is not signed, and a signature is required") as err:
        _classifier(unsigned)
    assert "facelite-build sign" in str(err.value) and "require_signature=False" in str(err.value)


def test_an_unsigned_bundle_loads_with_a_warning_where_the_policy_allows(signed, tmp_path):
    unsigned = _rewrite(signed, tmp_path / "unsigned.flb", signature__json=None)
    with pytest.warns(SignatureWarning, match="is not signed: nothing vouches for its contents"):
        with _classifier(unsigned, require_signature=False) as clf:
            assert clf.bundle.labels


def test_the_development_key_is_trusted_with_a_warning_and_can_be_distrusted(expression_bundle):
    with pytest.warns(SignatureWarning, match="signed with the facelite development key: not for production"):
        _classifier(expression_bundle).close()
    with pytest.raises(BundleError, match="the facelite development key, which this policy distrusts"):
        _classifier(expression_bundle, trust_development_key=False)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_bundles_are_signed_with_the_development_key_and_load_without_a_warning(path):
    check = check_signature(path)
    assert check.ok and check.shipped and not check.required and check.development_key
    assert "not for production" in check.warning   # what `facelite verify` reports
    with Bundle.open(path) as b, warnings.catch_warnings():
        warnings.simplefilter("error")
        enforce_signature_policy(b)


def test_trusted_keys_come_from_folders_and_the_environment(signed, key, monkeypatch):
    strict = dict(require_signature=True, trust_development_key=False)
    assert check_signature(signed, SignaturePolicy(trusted_keys=(key[1].parent,), **strict)).trusted
    assert not check_signature(signed, SignaturePolicy(**strict)).ok
    monkeypatch.setenv(TRUSTED_KEYS_ENV, str(key[1]))
    assert check_signature(signed, SignaturePolicy(**strict)).trusted


def test_a_missing_trusted_key_is_an_options_error(tmp_path):
    with pytest.raises(UserError, match="no such trusted key file or folder"):
        BaseOptions(trusted_keys=(tmp_path / "nope.pub",))


def test_the_signature_covers_the_documented_canonical_bytes(signed):
    """What the C core will do with libsodium: hash every member, build the canonical JSON
    by hand (docs/bundle.md), check the Ed25519 signature over it."""
    members = _members(signed)
    doc = json.loads(members.pop(SIGNATURE_MEMBER))
    hashes = {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}
    body = ",".join(f'"{name}":"{hashes[name]}"' for name in sorted(hashes, key=lambda n: n.encode()))
    canonical = f'{{"manifest_sha256":"{hashes[MANIFEST]}","members":{{{body}}}}}'.encode()
    public = base64.b64decode(doc["public_key"])
    Ed25519PublicKey.from_public_bytes(public).verify(base64.b64decode(doc["signature"]), canonical)
    assert doc["key_id"] == hashlib.sha256(public).hexdigest()[:16]
    assert doc["format"] == "facelite-signature-v1" and doc["algorithm"] == "ed25519"


def test_signing_refuses_a_bundle_that_fails_its_own_checksums(expression_bundle, tmp_path, key):
    bad = tamper(expression_bundle, tmp_path / "bad.flb", "fp32.tflite")
    with pytest.raises(BundleError, match="will not sign a bundle that fails its own checks"):
        sign_bundle(bad, key[0])


def test_the_development_public_key_is_package_data():
    import tomllib

    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "development_key.pub" in cfg["facelite"]
    assert len(development_public_key()) == 32


# -- the CLI -------------------------------------------------------------------------------


def _verify(capsys, *args):
    code = main(["verify", *map(str, args), "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_verify_reports_the_signer_and_trusts_keys_from_a_folder(capsys, signed, key):
    code, doc, _ = _verify(capsys, signed, "--trusted-keys", key[1].parent, "--no-development-key")
    assert code == 0 and doc["ok"]
    signature = doc["signature"]
    assert signature["signed"] and signature["trusted"] and signature["ok"] and not signature["development_key"]
    assert signature["key_id"] == key_id(load_public_key(key[1]))


def test_verify_refuses_a_resealed_tamper_with_exit_2_naming_the_member(capsys, signed, key, tmp_path):
    bad = _resealed_tamper(signed, tmp_path / "resealed.flb")
    code, doc, err = _verify(capsys, bad, "--trusted-keys", key[1])
    assert code == 2 and not doc["ok"] and doc["signature"]["signed"] and not doc["signature"]["ok"]
    assert "member fp32.tflite differs" in doc["signature"]["problem"] and "fp32.tflite differs" in err


def test_verify_of_an_unsigned_bundle_fails_unless_allowed_then_warns(capsys, signed, tmp_path):
    unsigned = _rewrite(signed, tmp_path / "unsigned.flb", signature__json=None)
    code, doc, err = _verify(capsys, unsigned)
    assert code == 2 and doc["signature"]["signed"] is False and "is not signed" in err
    code, doc, err = _verify(capsys, unsigned, "--allow-unsigned")
    assert code == 0 and doc["ok"] and "warning:" in err and "is not signed" in doc["signature"]["warning"]


def test_verify_warns_about_the_development_key(capsys, expression_bundle):
    code, doc, err = _verify(capsys, expression_bundle)
    assert code == 0 and doc["signature"]["development_key"] and "not for production" in err


def test_analyze_refuses_an_unsigned_bundle_and_allow_unsigned_warns(capsys, tmp_path, acne_photo, signed):
    (tmp_path / "models" / "expression").mkdir(parents=True)
    _rewrite(signed, tmp_path / "models" / "expression" / "expression.flb", signature__json=None)
    args = ["analyze", str(acne_photo), "--json", "--bundles", str(tmp_path / "models"), "--stand-ins"]
    assert main(args) == 2
    assert "is not signed" in capsys.readouterr().err
    assert main([*args, "--allow-unsigned"]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "is not signed" in err and "SignatureWarning" not in err


@pytest.fixture
def no_litert(monkeypatch):
    """LiteRT's interpreter replaced by a tripwire: LiteRT's parser is not hardened against
    hostile model bytes, so nothing the signature policy refuses may reach it."""
    import facelite.engine

    def never(*args, **kwargs):
        raise AssertionError("a model reached LiteRT before the signature policy was applied")

    monkeypatch.setattr(facelite.engine, "Interpreter", never)


def _inspect(capsys, *args):
    code = main(["inspect", *map(str, args), "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_inspect_refuses_an_untrusted_signer_before_any_model_reaches_litert(capsys, signed, no_litert):
    code, doc, err = _inspect(capsys, signed)
    assert code == 2 and "signed by untrusted key" in doc["error"] and str(signed) in doc["error"]
    assert "Traceback" not in err


def test_inspect_refuses_a_resealed_tamper_naming_the_member_before_litert(capsys, signed, key, tmp_path, no_litert):
    bad = _resealed_tamper(signed, tmp_path / "resealed.flb")
    code, doc, _ = _inspect(capsys, bad, "--trusted-keys", key[1])
    assert code == 2 and "member fp32.tflite differs from the signed bytes" in doc["error"]


def test_inspect_takes_the_trust_flags_and_reports_the_signer(capsys, signed, key, tmp_path):
    code, doc, err = _inspect(capsys, signed, "--trusted-keys", key[1], "--no-development-key")
    assert code == 0 and doc["signature"]["trusted"] and doc["signature"]["key_id"] == key_id(load_public_key(key[1]))
    assert "tensors" in doc["variants"]["fp32"] and "warning" not in err
    unsigned = _rewrite(signed, tmp_path / "unsigned.flb", signature__json=None)
    code, doc, err = _inspect(capsys, unsigned)
    assert code == 2 and "is not signed" in doc["error"]
    code, doc, err = _inspect(capsys, unsigned, "--allow-unsigned")
    assert code == 0 and doc["signature"]["signed"] is False and "warning:" in err and "is not signed" in err


def test_verify_stops_at_a_signature_the_policy_refuses_without_replaying_goldens(capsys, signed, key, tmp_path,
                                                                                 no_litert):
    bad = _resealed_tamper(signed, tmp_path / "resealed.flb")
    code, doc, err = _verify(capsys, bad, "--trusted-keys", key[1])
    assert code == 2 and doc["variants"] == {} and doc["problems"] == [doc["signature"]["problem"]]
    code, doc, err = _verify(capsys, signed)  # valid, but signed by a key nobody trusts
    assert code == 2 and doc["variants"] == {} and "signed by untrusted key" in err


def _signed_anyway(members: list[tuple[str, bytes]], private: Path, out: Path) -> Path:
    """`members` signed with `private` as `sign_bundle` would, without its refusal of a
    bundle that fails its own checksums (what a careless or hostile key holder can do)."""
    from facelite.signing import load_private_key, raw_public_key, signed_payload

    key = load_private_key(private)
    payload = signed_payload({name: sha256_bytes(data) for name, data in members})
    public = raw_public_key(key.public_key())
    doc = {"format": "facelite-signature-v1", "algorithm": "ed25519", "key_id": key_id(public),
           "public_key": base64.b64encode(public).decode(), "signed": json.loads(payload),
           "signature": base64.b64encode(key.sign(payload)).decode()}
    return write_members(out, [*members, (SIGNATURE_MEMBER, json.dumps(doc).encode())])


def test_a_signed_manifest_that_lies_about_an_unused_variant_is_refused(capsys, signed, key, tmp_path):
    """The int8 sha256 zeroed and the bundle signed anyway: a run on the CPU loads fp32 only,
    so int8's own sha256 check would never come; the signature check, which hashes every
    member, refuses a signed manifest that contradicts the signed bytes (fuzz seed 18)."""
    members = {n: d for n, d in _members(signed).items() if n != SIGNATURE_MEMBER}
    manifest = json.loads(members[MANIFEST])
    manifest["variants"]["int8"]["sha256"] = "0" * 64
    members[MANIFEST] = json.dumps(manifest, indent=2).encode()
    bad = _signed_anyway(list(members.items()), key[0], tmp_path / "lying.flb")
    check = check_signature(bad, SignaturePolicy(trusted_keys=(key[1],)))
    assert check.valid and not check.ok
    assert "the signed manifest does not describe the signed members: variant 'int8' has sha256" in check.problem
    with pytest.raises(BundleError, match="variant 'int8' has sha256 .* the manifest says 000000000000"):
        _classifier(bad, trusted_keys=(key[1],), variant="fp32")


def test_copying_a_signed_bundle_keeps_it_signed(signed, key, tmp_path):
    copy = shutil.copy(signed, tmp_path / "copy.flb")
    assert check_signature(copy, SignaturePolicy(trusted_keys=(key[1],))).trusted


def test_signing_docstring_examples_run():
    import doctest

    import facelite.signing

    assert doctest.testmod(facelite.signing, optionflags=doctest.ELLIPSIS).failed == 0
