"""Bundle signatures: is every byte of this bundle what a trusted key signed?

The manifest lists each variant's sha256, but the manifest is itself just a member:
whoever edits a model can recompute its hash ("re-seal" the bundle), and labels,
thresholds and tolerances are covered by nothing. A signature closes that. The member
`signature.json` holds an Ed25519 signature (through `cryptography`) over the sha256 of
every other member, the manifest's exact bytes included, so changing any byte, renaming,
adding or removing a member breaks it, and only the private key's holder can sign anew.
Verifying recomputes every hash from the bytes in the file; the hashes written in
`signature.json` only serve to name the member that changed. The format, byte for byte
(so the C core can check it with libsodium), is written down in docs/bundle.md.

Who is trusted, and whether a signature is required, is a `SignaturePolicy`:

- `require_signature`: None (default) requires one for every bundle loaded from outside
  the installed package (`facelite.paths.shipped_bundles_dir()`) and not for the shipped
  bundles, which are still checked when signed; True or False force it either way.
- `trusted_keys`: public key files (PEM), or folders whose `*.pub` files are keys; the
  keys named by `FACELITE_TRUSTED_KEYS` (paths separated by `os.pathsep`) are added.
- `trust_development_key`: the facelite development key (`development_key.pub`, whose
  private key is committed in the toolchain and so proves nothing) is trusted unless
  this is False; a bundle from outside the package that verifies through it loads with a
  `SignatureWarning`.

A signature that does not verify is always refused, required or not: it means the bundle
changed after it was signed. So is a valid one over a manifest whose sha256s are not its
members' (`sign_bundle` refuses to sign such a bundle; a signature over it vouches for
damage). Where a signature is not required, an unsigned bundle or one
signed by an untrusted key loads with a `SignatureWarning`.

Example (a throwaway key pair, as `facelite-build keygen` writes; the shipped
expression bundle re-signed with it):

    >>> import pathlib, tempfile
    >>> from facelite.paths import shipped_bundle
    >>> from facelite.signing import SignaturePolicy, check_signature, generate_key_pair, sign_bundle
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> private, public = generate_key_pair(folder / "me.pem")
    >>> signed = sign_bundle(shipped_bundle("expression"), private, out=folder / "signed.flb")
    >>> check = check_signature(signed, SignaturePolicy(trusted_keys=(public,)))
    >>> check.ok, check.trusted, check.development_key
    (True, True, False)
    >>> print(check_signature(signed, SignaturePolicy(trust_development_key=False)).problem)  # doctest: +ELLIPSIS
    /.../signed.flb: signed by untrusted key ...; to trust it, pass its public key in trusted_keys ...
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import importlib.resources
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .bundle import MANIFEST, Bundle, sha256_bytes, write_members
from .errors import BundleError, UserError

SIGNATURE_MEMBER = "signature.json"
SIGNATURE_FORMAT = "facelite-signature-v1"
ALGORITHM = "ed25519"
TRUSTED_KEYS_ENV = "FACELITE_TRUSTED_KEYS"
"""Environment variable: public key files or folders (separated by `os.pathsep`) to trust."""

DEVELOPMENT_PUBLIC_KEY = "development_key.pub"
"""Package data of `facelite`: the development key's public half."""

DEVELOPMENT_KEY_WARNING = ("signed with the facelite development key: not for production; "
                           "pass your own trusted keys")
KEY_ID_HEX = 16
"""A key id is the first 16 hex digits of the sha256 of the raw 32-byte public key."""
MAX_SIGNATURE_BYTES = 1 << 20

_SIGNABLE_NAME = re.compile(r"[A-Za-z0-9._/-]+")
"""Member names a signature covers: never escaped in JSON, so the C core writes them as is."""


class SignatureWarning(UserWarning):
    """A bundle loads without a trusted signature: unsigned, untrusted key, or the development key."""


# -- keys ------------------------------------------------------------------------------


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey | bytes) -> str:
    """The short name of a public key: sha256 of its 32 raw bytes, first 16 hex digits."""
    raw = key if isinstance(key, bytes) else raw_public_key(key)
    return hashlib.sha256(raw).hexdigest()[:KEY_ID_HEX]


def _read_key_file(path: Path) -> bytes:
    if not path.is_file():
        raise UserError(f"{path}: no such key file")
    if path.stat().st_size > 64 * 1024:
        raise UserError(f"{path}: too large for a PEM key file")
    return path.read_bytes()


def load_private_key(path: str | os.PathLike) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file (unencrypted PKCS#8, as `facelite-build keygen` writes)."""
    path = Path(path)
    try:
        key = serialization.load_pem_private_key(_read_key_file(path), password=None)
    except (ValueError, TypeError) as exc:
        raise UserError(f"{path}: not an unencrypted PEM private key ({exc}); make one with "
                        "`facelite-build keygen OUT.pem`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UserError(f"{path}: is a {type(key).__name__}, facelite signs with Ed25519 keys; "
                        "make one with `facelite-build keygen OUT.pem`")
    return key


def load_public_key(path: str | os.PathLike) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (`-----BEGIN PUBLIC KEY-----`)."""
    path = Path(path)
    try:
        key = serialization.load_pem_public_key(_read_key_file(path))
    except (ValueError, TypeError) as exc:
        raise UserError(f"{path}: not a PEM public key ({exc}); pass the .pub file "
                        "`facelite-build keygen` wrote beside the private key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise UserError(f"{path}: is a {type(key).__name__}, facelite bundles are signed with Ed25519 keys")
    return key


def key_files(path: str | os.PathLike) -> list[Path]:
    """A key file as given, or every `*.pub` file of a folder (UserError when neither)."""
    path = Path(path).expanduser()
    if path.is_dir():
        return sorted(p for p in path.glob("*.pub") if p.is_file())
    if path.is_file():
        return [path]
    raise UserError(f"{path}: no such trusted key file or folder; pass PEM public key files "
                    "or folders of *.pub files")


def generate_key_pair(private_path: str | os.PathLike) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair: the private key at `private_path` (PEM, mode 0600) and
    its public key beside it with the suffix `.pub`. Refuses to overwrite either file."""
    private_path = Path(private_path)
    public_path = private_path.with_suffix(".pub")
    for p in (private_path, public_path):
        if p.exists():
            raise UserError(f"{p}: already exists; keys are never overwritten, choose another name")
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    public_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_path, public_path


def development_public_key() -> bytes:
    """The development key's raw public bytes (package data, so installed facelite has it)."""
    pem = importlib.resources.files("facelite").joinpath(DEVELOPMENT_PUBLIC_KEY).read_bytes()
    return raw_public_key(serialization.load_pem_public_key(pem))


# -- the signed form -------------------------------------------------------------------


def signed_payload(member_sha256: Mapping[str, str]) -> bytes:
    """The exact bytes an Ed25519 signature covers (docs/bundle.md, "Signature").

    Canonical JSON of `{"manifest_sha256": ..., "members": {name: sha256, ...}}`: keys
    sorted, no whitespace, UTF-8; `members` holds every member but `signature.json`.

    >>> signed_payload({"manifest.json": "ab", "fp32.tflite": "cd"})
    b'{"manifest_sha256":"ab","members":{"fp32.tflite":"cd","manifest.json":"ab"}}'
    """
    bad = sorted(n for n in member_sha256 if not _SIGNABLE_NAME.fullmatch(n) or n == SIGNATURE_MEMBER)
    if bad:
        raise BundleError(f"member name(s) {bad} cannot be signed: names are [A-Za-z0-9._/-]+ "
                          f"and never {SIGNATURE_MEMBER}")
    if MANIFEST not in member_sha256:
        raise BundleError(f"no {MANIFEST} among the members to sign")
    doc = {"manifest_sha256": member_sha256[MANIFEST], "members": dict(member_sha256)}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("utf-8")


def _member_hashes(bundle: Bundle) -> dict[str, str]:
    """sha256 of every member but the signature, computed from the bytes in the file."""
    return {name: bundle.member_sha256(name) for name in bundle.member_offsets() if name != SIGNATURE_MEMBER}


def sign_bundle(path: str | os.PathLike, private_key: Ed25519PrivateKey | str | os.PathLike,
                out: str | os.PathLike | None = None) -> Path:
    """Sign the bundle at `path` with `private_key` (a key or a PEM file); return the signed file.

    The bundle is rewritten atomically (at `out` when given) with the same members, same
    bytes, same offsets, plus `signature.json` last; an existing signature is replaced.
    A bundle that fails its own checksums is refused: signing would vouch for the damage.
    """
    key = private_key if isinstance(private_key, Ed25519PrivateKey) else load_private_key(private_key)
    with Bundle.open(path) as bundle:
        problems = bundle.verify_checksums()
        if problems:
            raise BundleError(f"{path}: will not sign a bundle that fails its own checks: {problems[0]}")
        members = [(name, bytes(bundle.member_view(name)))
                   for name in bundle.member_offsets() if name != SIGNATURE_MEMBER]
    hashes = {name: sha256_bytes(data) for name, data in members}
    payload = signed_payload(hashes)
    public = raw_public_key(key.public_key())
    doc = {
        "format": SIGNATURE_FORMAT,
        "algorithm": ALGORITHM,
        "key_id": key_id(public),
        "public_key": base64.b64encode(public).decode("ascii"),
        "signed": json.loads(payload),
        "signature": base64.b64encode(key.sign(payload)).decode("ascii"),
    }
    signature = json.dumps(doc, indent=2, sort_keys=True).encode("utf-8") + b"\n"
    return write_members(out if out is not None else path, [*members, (SIGNATURE_MEMBER, signature)])


# -- policy and checking -----------------------------------------------------------------


def is_shipped(path: str | os.PathLike) -> bool:
    """True when `path` (symlinks resolved) lies under `facelite.paths.shipped_bundles_dir()`."""
    from .paths import shipped_bundles_dir

    try:
        root = shipped_bundles_dir().resolve()
    except BundleError:
        return False
    return Path(path).resolve().is_relative_to(root)


@dataclass(frozen=True, kw_only=True)
class SignaturePolicy:
    """Whether a bundle must be signed, and whose signatures count (see the module's doc).

    Attributes:
        require_signature: None: required outside the installed package, not for the
            shipped bundles; True/False: always / never required.
        trusted_keys: PEM public key files, or folders of `*.pub` files, to trust (plus
            `FACELITE_TRUSTED_KEYS`); read once when the policy is made, to fail early.
        trust_development_key: trust the facelite development key (with a warning).
    """

    require_signature: bool | None = None
    trusted_keys: tuple[str | os.PathLike, ...] = ()
    trust_development_key: bool = True

    def __post_init__(self) -> None:
        if self.require_signature is not None and not isinstance(self.require_signature, bool):
            raise UserError(f"require_signature {self.require_signature!r}: use True, False or None "
                            "(None: required for bundles from outside the installed package)")
        if not isinstance(self.trust_development_key, bool):
            raise UserError(f"trust_development_key {self.trust_development_key!r}: use True or False")
        keys = self.trusted_keys
        keys = (keys,) if isinstance(keys, (str, os.PathLike)) else tuple(keys or ())
        for k in keys:
            for f in key_files(k):
                load_public_key(f)  # a missing or bad key file is a UserError now, not at the first bundle
        object.__setattr__(self, "trusted_keys", keys)

    def requires(self, path: str | os.PathLike) -> bool:
        """Whether a bundle at `path` must carry a trusted signature."""
        return (not is_shipped(path)) if self.require_signature is None else self.require_signature

    def trusted_public_keys(self) -> set[bytes]:
        """Raw public keys trusted: `trusted_keys`, `FACELITE_TRUSTED_KEYS`, the development key."""
        sources = list(self.trusted_keys)
        sources += [p for p in os.environ.get(TRUSTED_KEYS_ENV, "").split(os.pathsep) if p]
        keys = {raw_public_key(load_public_key(f)) for s in sources for f in key_files(s)}
        if self.trust_development_key:
            keys.add(development_public_key())
        return keys


@dataclass(frozen=True)
class SignatureCheck:
    """What `check_signature` found. `problem` set: the policy refuses the bundle;
    `warning` set: it loads, but without a signature that proves its origin."""

    path: str
    signed: bool
    key_id: str | None = None
    valid: bool = False
    trusted: bool = False
    development_key: bool = False
    required: bool = False
    shipped: bool = False
    problem: str | None = None
    warning: str | None = None

    @property
    def ok(self) -> bool:
        """The policy accepts the bundle (perhaps with a warning)."""
        return self.problem is None

    def to_json(self) -> dict[str, Any]:
        return {"signed": self.signed, "key_id": self.key_id, "valid": self.valid, "trusted": self.trusted,
                "development_key": self.development_key, "required": self.required, "ok": self.ok,
                "problem": self.problem, "warning": self.warning}


def _signature_doc(bundle: Bundle) -> dict[str, Any]:
    """signature.json, parsed and type-checked (BundleError naming the bad field)."""
    where = f"{bundle.path}:{SIGNATURE_MEMBER}"
    view = bundle.member_view(SIGNATURE_MEMBER)
    if len(view) > MAX_SIGNATURE_BYTES:
        raise BundleError(f"{where}: {len(view)} bytes, more than a signature ever needs")
    try:
        doc = json.loads(bytes(view))
    except (ValueError, RecursionError) as exc:
        raise BundleError(f"{where}: unreadable JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise BundleError(f"{where}: is not a JSON object")
    if doc.get("format") != SIGNATURE_FORMAT or doc.get("algorithm") != ALGORITHM:
        raise BundleError(f"{where}: format {doc.get('format')!r} / algorithm {doc.get('algorithm')!r} is not "
                          f"{SIGNATURE_FORMAT} / {ALGORITHM}; upgrade facelite or re-sign the bundle")
    for field, size in (("public_key", 32), ("signature", 64)):
        try:
            raw = base64.b64decode(str(doc.get(field, "")), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != size:
            raise BundleError(f"{where}: {field} is not {size} base64-encoded bytes")
        doc[field] = raw
    if doc.get("key_id") != key_id(doc["public_key"]):
        raise BundleError(f"{where}: key_id {doc.get('key_id')!r} does not name its public_key")
    members = doc.get("signed", {}).get("members") if isinstance(doc.get("signed"), dict) else None
    if not isinstance(members, dict) or not all(isinstance(v, str) for v in members.values()):
        raise BundleError(f"{where}: signed.members is not an object of member name to sha256")
    return doc


def _what_changed(signed: Mapping[str, str], actual: Mapping[str, str]) -> list[str]:
    """The members whose bytes differ from what was signed, and those added or removed."""
    changes = []
    for name in sorted(set(signed) | set(actual)):
        if name not in actual:
            changes.append(f"member {name} was removed")
        elif name not in signed:
            changes.append(f"member {name} was added after signing")
        elif signed[name] != actual[name]:
            changes.append(f"member {name} differs from the signed bytes (sha256 {actual[name][:12]}..., "
                           f"signed {signed[name][:12]}...)")
    return changes


def _manifest_lies(bundle: Bundle, actual: Mapping[str, str]) -> list[str]:
    """The manifest's sha256s (variants, goldens) that are not their members' `actual` ones.
    Free here (the signature check hashes every member anyway), and it covers the variants
    a run never loads, whose own sha256 check (`Bundle.variant_bytes`) never comes."""
    claims = {v.file: (f"variant '{v.name}'", v.sha256) for v in bundle.variants.values()}
    claims.update({member: (member, sha) for member, sha in bundle.manifest.get("golden", {}).get("sha256", {}).items()})
    return [f"{what} has sha256 {actual.get(member, 'missing')[:12]}..., the manifest says {sha[:12]}..."
            for member, (what, sha) in sorted(claims.items()) if actual.get(member) != sha]


def check_signature(bundle: Bundle | str | os.PathLike, policy: SignaturePolicy | None = None) -> SignatureCheck:
    """Check `bundle`'s signature against `policy` (default `SignaturePolicy()`); never raises
    for a bad bundle or signature: the result's `problem` says what failed."""
    if not isinstance(bundle, Bundle):
        with Bundle.open(bundle) as opened:
            return check_signature(opened, policy)
    policy = policy or SignaturePolicy()
    path = str(bundle.path)
    shipped = is_shipped(bundle.path)
    required = policy.requires(bundle.path)
    how = f"pass its public key in trusted_keys (the CLI's --trusted-keys) or {TRUSTED_KEYS_ENV}"
    if SIGNATURE_MEMBER not in bundle.member_offsets():
        text = f"{path}: is not signed"
        if required:
            where = " for bundles from outside the installed package" if policy.require_signature is None else ""
            return SignatureCheck(path, False, required=True, shipped=shipped, problem=(
                f"{text}, and a signature is required{where}; sign it with `facelite-build sign BUNDLE "
                "--key KEY`, or pass require_signature=False (the CLI's --allow-unsigned) to load it unverified"))
        return SignatureCheck(path, False, shipped=shipped, warning=f"{text}: nothing vouches for its contents")
    try:
        doc = _signature_doc(bundle)
        actual = _member_hashes(bundle)
        payload = signed_payload(actual)
    except BundleError as exc:
        return SignatureCheck(path, True, required=required, shipped=shipped,
                              problem=f"signature check failed: {exc}")
    kid = key_id(doc["public_key"])
    base = dict(path=path, signed=True, key_id=kid, required=required, shipped=shipped)
    try:
        Ed25519PublicKey.from_public_bytes(doc["public_key"]).verify(doc["signature"], payload)
    except InvalidSignature:
        changes = _what_changed(doc["signed"]["members"], actual)
        what = "; ".join(changes) if changes else (
            "signature does not verify (signature.json was altered, or the bundle re-signed wrongly)")
        return SignatureCheck(**base, problem=(f"{path}: signature check failed: {what}; the bundle changed "
                                               "after it was signed: rebuild it or re-download it"))
    development = doc["public_key"] == development_public_key()
    trusted = doc["public_key"] in policy.trusted_public_keys()
    base.update(valid=True, trusted=trusted, development_key=development)
    lies = _manifest_lies(bundle, actual)
    if lies:  # what `sign_bundle` refuses to sign: a signature over it vouches for damage
        return SignatureCheck(**base, problem=(f"{path}: the signed manifest does not describe the signed members: "
                                               f"{lies[0]}; rebuild the bundle and sign it again"))
    if not trusted:
        text = f"{path}: signed by untrusted key {kid}" + (
            " (the facelite development key, which this policy distrusts)" if development else "")
        if required:
            return SignatureCheck(**base, problem=f"{text}; to trust it, {how}")
        return SignatureCheck(**base, warning=text)
    if development:
        return SignatureCheck(**base, warning=f"{path}: {DEVELOPMENT_KEY_WARNING}")
    return SignatureCheck(**base)


def enforce_signature_policy(bundle: Bundle, policy: SignaturePolicy | None = None) -> SignatureCheck:
    """`check_signature`, then BundleError (exit 2) on a problem, or a `SignatureWarning` on a
    warning. The development-key warning is not raised for the shipped bundles: they are
    facelite's own reference models, signed with it by design (`facelite verify` reports it)."""
    check = check_signature(bundle, policy)
    if check.problem:
        raise BundleError(check.problem)
    if check.warning and not (check.shipped and check.development_key and check.trusted):
        warnings.warn(check.warning, SignatureWarning, stacklevel=2)
    return check
