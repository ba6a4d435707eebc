"""Seeded mutants of facelite bundles and seeded bad images: the inputs of the fuzz campaign.

`benchmarks/fuzz.py` runs every mutant through `facelite verify`, `inspect` and `analyze`
(and every bad image through `analyze`), and `tests/sdk_python/test_fuzz_*.py` run a few
hundred of them in the suite. This module only *makes* inputs: bytes, or a file-system
object such as a FIFO, each with a recipe a person can read (`detail`) and the exit codes
it allows. Mutant number `i` of seed `s` is the same bytes on every machine (nothing
here depends on the time, the file system or the facelite under test), so a failure is
reproduced by its number alone.

What a mutant may exit with. Every input is one of four levels, per command:

- `VALID`: the bytes still encode the same bundle (the untouched file, the same members
  rewritten, a flip in a field no reader uses: a timestamp, "version made by", the
  alignment padding). Exit 0 is expected; exit 2 is allowed but counted as a false
  refusal.
- `EITHER`: a reader may accept or refuse it (e.g. bytes appended after the end record,
  a CMYK JPEG, a 1x40000 PNG): exit 0 or 2.
- `SIGNED`: the content changed in a way only a signature can tell (a label swap, a
  loosened tolerance, a re-sealed model, a `report.json` edit, an extra member). Exit 0
  or 2 while signatures are not enforced or when the campaign re-signed the mutant with
  a key it trusts (`resigned`: what a key holder could do, which is how the checks
  behind the signature get exercised); exit 2 only otherwise.
- `INVALID`: broken for every reader (truncated, a CRC or size that lies, a compressed,
  encrypted, duplicated or path-like member, a zip bomb, a manifest the schema refuses,
  a pickled golden, an image over the pixel limit, a FIFO): exit 2 only.

Exit 1 (a crash), a signal, a timeout or too much memory is a failure at every level.

Example:

    >>> import random
    >>> from mutants import BundleSource, bundle_mutant
    >>> src = BundleSource.load("tests/fixtures/bundles/tiny.flb", "fixture")     # doctest: +SKIP
    >>> m = bundle_mutant(7, src, "truncate", random.Random("15/7"))              # doctest: +SKIP
    >>> m.detail, m.allowed("verify", signatures=True)                            # doctest: +SKIP
    ('cut to 41337 of 79829 bytes', frozenset({2}))
"""

from __future__ import annotations

import base64
import bz2
import copy
import functools
import hashlib
import io
import json
import os
import random
import socket
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

VALID, EITHER, SIGNED, INVALID = "valid", "either", "signed", "invalid"
_SEVERITY = {VALID: 0, EITHER: 1, SIGNED: 2, INVALID: 3}
BUNDLE_COMMANDS = ("verify", "inspect", "analyze")
IMAGE_COMMANDS = ("analyze", "analyze_stand_ins")

MANIFEST = "manifest.json"
REPORT = "report.json"
SIGNATURE = "signature.json"
BOMB_BYTES = 1 << 30
"""What a zip-bomb member inflates to (1 GiB of zeros, about 1 MB deflated)."""


def worst(*levels: str) -> str:
    """The strictest of `levels` (VALID < EITHER < SIGNED < INVALID)."""
    return max(levels, key=_SEVERITY.__getitem__)


def allowed_exits(level: str, resigned: bool = False, signatures: bool = False) -> frozenset[int]:
    """The exit codes `level` allows (see the module's doc): {2}, or {0, 2}."""
    if level == SIGNED:
        level = INVALID if signatures and not resigned else EITHER
    return frozenset({2}) if level == INVALID else frozenset({0, 2})


def _every(level: str) -> dict[str, str]:
    return {c: level for c in BUNDLE_COMMANDS}


def _exp(verify: str, inspect: str | None = None, analyze: str | None = None) -> dict[str, str]:
    """Per-command levels; inspect and analyze default to verify's."""
    return {"verify": verify, "inspect": inspect or verify, "analyze": analyze or inspect or verify}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- the zip container ---------------------------------------------------------------------

LOCAL = struct.Struct("<IHHHHHIIIHH")
CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
EOCD = struct.Struct("<IHHHHIIH")
LOCAL_SIG, CENTRAL_SIG, EOCD_SIG = 0x04034B50, 0x02014B50, 0x06054B50
PAD_EXTRA_ID = 0xD935
ALIGNMENT = 4
DOS_DATE = ((2020 - 1980) << 9) | (1 << 5) | 1
_FLAGS = "flags"

# (field, bytes, level of a change to it); "flags" is judged bit by bit (`_flag_level`).
LOCAL_FIELDS = (("signature", 4, INVALID), ("version_needed", 2, EITHER), ("flags", 2, _FLAGS),
                ("method", 2, INVALID), ("time", 2, EITHER), ("date", 2, EITHER), ("crc32", 4, INVALID),
                ("compressed_size", 4, INVALID), ("size", 4, INVALID), ("name_length", 2, INVALID),
                ("extra_length", 2, INVALID))
CENTRAL_FIELDS = (("signature", 4, INVALID), ("version_made_by", 2, EITHER), ("version_needed", 2, EITHER),
                  ("flags", 2, _FLAGS), ("method", 2, INVALID), ("time", 2, EITHER), ("date", 2, EITHER),
                  ("crc32", 4, INVALID), ("compressed_size", 4, INVALID), ("size", 4, INVALID),
                  ("name_length", 2, INVALID), ("extra_length", 2, INVALID), ("comment_length", 2, INVALID),
                  ("disk_start", 2, EITHER), ("internal_attr", 2, EITHER), ("external_attr", 4, EITHER),
                  ("header_offset", 4, INVALID))
EOCD_FIELDS = (("signature", 4, INVALID), ("disk", 2, EITHER), ("cd_disk", 2, EITHER),
               ("entries_on_disk", 2, INVALID), ("entries", 2, INVALID), ("cd_size", 4, INVALID),
               ("cd_offset", 4, INVALID), ("comment_length", 2, EITHER))
_DANGEROUS_FLAGS = 0x0001 | 0x0020 | 0x0040 | 0x2000  # encrypted, patched, strong encryption, masked directory


def _flag_level(changed_bits: int) -> str:
    return INVALID if changed_bits & _DANGEROUS_FLAGS else EITHER


@dataclass
class Entry:
    """One member as the campaign's zip writer lays it out; every header field can lie.

    `local` and `central` override header fields by their names in `LOCAL_FIELDS` /
    `CENTRAL_FIELDS` (plus `name`, raw bytes); `shares` makes a central entry point at an
    earlier entry's local header instead of writing its own (overlapping members).
    """

    name: str | bytes
    data: bytes
    method: int = 0
    flags: int | None = None
    size: int | None = None
    crc: int | None = None
    local: dict[str, Any] = field(default_factory=dict)
    central: dict[str, Any] = field(default_factory=dict)
    shares: int | None = None


def _raw_name(name: str | bytes) -> bytes:
    return name if isinstance(name, bytes) else name.encode("utf-8", "surrogatepass")


def write_zip(entries: list[Entry], eocd: dict[str, Any] | None = None) -> bytes:
    """Entries → zip bytes laid out as `facelite.bundle` lays out a bundle (4-byte aligned data,
    padding in a 0xD935 extra field, stored), with the overrides each entry asks for."""
    out = bytearray()
    offsets: list[int] = []
    central = bytearray()
    for e in entries:
        name = _raw_name(e.name)
        flags = e.flags if e.flags is not None else (0x0800 if not name.isascii() else 0)
        size = len(e.data) if e.size is None else e.size
        crc = zlib.crc32(e.data) if e.crc is None else e.crc
        common = {"version_needed": 20, "flags": flags, "method": e.method, "time": 0, "date": DOS_DATE,
                  "crc32": crc, "compressed_size": len(e.data), "size": size}
        extra = b""
        if e.shares is not None:
            offset = offsets[e.shares]
        else:
            offset = len(out)
            local_name = e.local.get("name", name)
            pad = (-(offset + LOCAL.size + len(local_name) + 4)) % ALIGNMENT
            extra = e.local.get("extra", struct.pack("<HH", PAD_EXTRA_ID, pad) + bytes(pad))
            fields = {"signature": LOCAL_SIG, **common, "name_length": len(local_name), "extra_length": len(extra)}
            fields.update({k: v for k, v in e.local.items() if k not in ("name", "extra")})
            out += LOCAL.pack(*(fields[f] for f, _, _ in LOCAL_FIELDS)) + local_name + extra + e.data
        offsets.append(offset)
        cname = e.central.get("name", name)
        cextra = e.central.get("extra", extra)  # zipfile writes the local extra field in both places
        fields = {"signature": CENTRAL_SIG, "version_made_by": 0x0314, **common, "name_length": len(cname),
                  "extra_length": len(cextra), "comment_length": 0, "disk_start": 0, "internal_attr": 0,
                  "external_attr": 0o644 << 16, "header_offset": offset}
        fields.update({k: v for k, v in e.central.items() if k not in ("name", "extra")})
        central += CENTRAL.pack(*(fields[f] for f, _, _ in CENTRAL_FIELDS)) + cname + cextra
    end = {"signature": EOCD_SIG, "disk": 0, "cd_disk": 0, "entries_on_disk": len(entries),
           "entries": len(entries), "cd_size": len(central), "cd_offset": len(out), "comment_length": 0}
    end.update(eocd or {})
    return bytes(out + central + EOCD.pack(*(end[f] for f, _, _ in EOCD_FIELDS)))


@dataclass(frozen=True)
class Region:
    """A byte range of a zip: a header field, a name, an extra field or a member's data."""

    start: int
    size: int
    area: str        # local, central, eocd
    member: str | None
    part: str        # a field name, or "name", "extra", "data"
    level: str       # VALID/EITHER/INVALID, "flags", or "data"


def zip_regions(data: bytes) -> list[Region]:
    """Every region of a well-formed zip (a pristine bundle), in file order."""
    regions: list[Region] = []
    end = data.rfind(EOCD.pack(EOCD_SIG, 0, 0, 0, 0, 0, 0, 0)[:4])
    values = EOCD.unpack_from(data, end)
    regions += _field_regions(end, EOCD_FIELDS, "eocd", None)
    count, cd_offset = values[4], values[6]
    pos = cd_offset
    for _ in range(count):
        c = CENTRAL.unpack_from(data, pos)
        name_len, extra_len, comment_len, header_offset = c[10], c[11], c[12], c[16]
        name = data[pos + CENTRAL.size:pos + CENTRAL.size + name_len].decode("utf-8")
        regions += _field_regions(pos, CENTRAL_FIELDS, "central", name)
        p = pos + CENTRAL.size
        regions.append(Region(p, name_len, "central", name, "name", INVALID))
        if extra_len:
            regions.append(Region(p + name_len, extra_len, "central", name, "extra", EITHER))
        pos = p + name_len + extra_len + comment_len
        local = LOCAL.unpack_from(data, header_offset)
        regions += _field_regions(header_offset, LOCAL_FIELDS, "local", name)
        p = header_offset + LOCAL.size
        regions.append(Region(p, local[9], "local", name, "name", INVALID))
        if local[10]:
            regions.append(Region(p + local[9], local[10], "local", name, "extra", EITHER))
        regions.append(Region(p + local[9] + local[10], local[7], "local", name, "data", "data"))
    return sorted(regions, key=lambda r: r.start)


def _field_regions(start: int, fields, area: str, member: str | None) -> list[Region]:
    regions, pos = [], start
    for name, size, level in fields:
        regions.append(Region(pos, size, area, member, name, level))
        pos += size
    return regions


# -- sources -----------------------------------------------------------------------------------


@dataclass
class BundleSource:
    """A pristine bundle the mutants start from: a shipped one or a committed fixture."""

    name: str        # the model name: the slot `facelite analyze --bundles` finds it in
    origin: str      # "shipped" or "fixture"
    path: Path
    data: bytes
    members: dict[str, bytes]
    manifest: dict[str, Any]

    @classmethod
    def load(cls, path: str | os.PathLike, origin: str) -> "BundleSource":
        path = Path(path)
        data = path.read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = {i.filename: zf.read(i) for i in zf.infolist()}
        return cls(path.stem, origin, path, data, members, json.loads(members[MANIFEST]))

    @property
    def label(self) -> str:
        return f"{self.origin}/{self.name}"

    @property
    def slot(self) -> str:
        """Where `analyze --bundles DIR` looks for it: the fixture `tiny` classifier stands in for expression."""
        return "expression" if self.name == "tiny" else self.name

    @property
    def signed(self) -> bool:
        return SIGNATURE in self.members

    def content(self) -> list[tuple[str, bytes]]:
        """(name, bytes) of every member but the signature, in file order."""
        return [(n, d) for n, d in self.members.items() if n != SIGNATURE]

    def variant_files(self) -> dict[str, str]:
        return {v: e["file"] for v, e in self.manifest["variants"].items()}

    def golden_members(self) -> list[str]:
        g = self.manifest.get("golden", {})
        return [m for m in [g.get("inputs"), g.get("outputs"), *g.get("variant_outputs", {}).values()] if m]

    def referenced(self) -> set[str]:
        """Members a reader needs: the manifest, variants, goldens, the signature."""
        return {MANIFEST, SIGNATURE, *self.variant_files().values(), *self.golden_members()}


def load_sources(checkout: Path, origins: tuple[str, ...] = ("shipped", "fixture")) -> list[BundleSource]:
    """The shipped bundles (`models/*/*.flb`) and the committed fixtures (`tests/fixtures/bundles/`)."""
    sources = []
    if "shipped" in origins:
        sources += [BundleSource.load(p, "shipped") for p in sorted(checkout.glob("models/*/*.flb"))]
    if "fixture" in origins:
        sources += [BundleSource.load(p, "fixture") for p in sorted(checkout.glob("tests/fixtures/bundles/*.flb"))]
    return sources


# -- signing (docs/bundle.md, "Signature") -------------------------------------------------------


class Signer:
    """An Ed25519 key the campaign trusts (through FACELITE_TRUSTED_KEYS), to re-sign mutants the
    way their author could: the checks behind the signature are then what refuses them.

    Written from docs/bundle.md rather than through `facelite.signing`, so it can sign any
    member list (duplicates, odd names) and cross-checks the documented format.
    """

    def __init__(self, seed: bytes | None = None):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self.key = Ed25519PrivateKey.from_private_bytes(seed) if seed else Ed25519PrivateKey.generate()

    def public_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)

    def raw_public(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def document(self, members: list[tuple[str, bytes]], payload: bytes | None = None) -> dict[str, Any]:
        hashes = {n: sha256(d) for n, d in members if n != SIGNATURE}
        signed = {"members": hashes}
        if MANIFEST in hashes:
            signed["manifest_sha256"] = hashes[MANIFEST]
        if payload is None:
            payload = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
        public = self.raw_public()
        return {"format": "facelite-signature-v1", "algorithm": "ed25519", "key_id": sha256(public)[:16],
                "public_key": base64.b64encode(public).decode(), "signed": signed,
                "signature": base64.b64encode(self.key.sign(payload)).decode()}

    def member(self, members: list[tuple[str, bytes]]) -> bytes:
        """`signature.json` over `members` (every member but a signature)."""
        return json.dumps(self.document(members), indent=2, sort_keys=True).encode() + b"\n"


# -- bundle mutants ------------------------------------------------------------------------------


@dataclass
class BundleMutant:
    """One mutated bundle: its bytes, its recipe and, per command, its level."""

    index: int
    category: str
    source: str
    slot: str
    detail: str
    expect: dict[str, str]
    resigned: bool
    data: bytes

    def allowed(self, command: str, signatures: bool) -> frozenset[int]:
        return allowed_exits(self.expect[command], self.resigned, signatures)


class _Mutation:
    """What a mutator works with: the source, the seeded rng, and how to rebuild and re-sign."""

    def __init__(self, src: BundleSource, rng: random.Random, signer: Signer | None):
        self.src, self.rng, self.signer = src, rng, signer
        self._resign: bool | None = None

    @property
    def resign(self) -> bool:
        """Whether this mutant is re-signed with the trusted campaign key (half of them, decided once)."""
        if self._resign is None:
            self._resign = bool(self.signer and self.src.signed and self.rng.random() < 0.5)
        return self._resign

    def manifest(self) -> dict[str, Any]:
        return copy.deepcopy(self.src.manifest)

    def build(self, members: list[tuple[str, bytes]], resign: bool | None = None) -> bytes:
        """`members` (no signature) zipped, then the signature: new when re-signing, else the
        original one (which no longer matches when a member changed)."""
        resign = self.resign if resign is None else resign
        entries = [Entry(n, d) for n, d in members]
        if resign and self.signer is not None:
            entries.append(Entry(SIGNATURE, self.signer.member(_first_of_each(members))))
        elif SIGNATURE in self.src.members:
            entries.append(Entry(SIGNATURE, self.src.members[SIGNATURE]))
        return write_zip(entries)

    def with_members(self, **changed: bytes) -> list[tuple[str, bytes]]:
        """The source's members with some replaced (keyword: member name with `/` and `.` as `__`)."""
        return [(n, changed.get(_key(n), d)) for n, d in self.src.content()]

    def replaced(self, name: str, data: bytes, manifest: dict | None = None) -> list[tuple[str, bytes]]:
        out = []
        for n, d in self.src.content():
            if n == name:
                d = data
            elif n == MANIFEST and manifest is not None:
                d = manifest_bytes(manifest)
            out.append((n, d))
        return out


def _key(name: str) -> str:
    return name.replace("/", "__").replace(".", "__")


def _first_of_each(members: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    seen, out = set(), []
    for n, d in members:
        if n not in seen:
            seen.add(n)
            out.append((n, d))
    return out


def manifest_bytes(manifest: Any) -> bytes:
    """A manifest as `facelite.bundle.write_bundle` writes one (NaN allowed: mutants need it)."""
    return json.dumps(manifest, indent=2, allow_nan=True).encode()


def _strict_json_ok(data: bytes) -> bool:
    """Independent of facelite: strict UTF-8 JSON, finite numbers, unique keys, an object."""
    def unique(pairs):
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate key")
        return dict(pairs)

    def no_constant(name):
        raise ValueError(name)

    try:
        doc = json.loads(data.decode("utf-8"), parse_constant=no_constant, object_pairs_hook=unique)
    except (ValueError, RecursionError):
        return False
    return isinstance(doc, dict)


# -- container mutators (byte level) -------------------------------------------------------------


def _flip_level(src: BundleSource, region: Region, offset: int, mask: int, mutated: bytes) -> str:
    if region.level == _FLAGS:
        byte = offset - region.start
        return _flag_level(mask << (8 * byte))
    if region.level != "data":
        if region.part == "name" and region.area == "central" and region.member not in src.referenced():
            return SIGNED  # an unreferenced member renamed: the signature's member list changed
        return region.level
    if region.member == MANIFEST:
        manifest = mutated[region.start:region.start + region.size]
        return SIGNED if _strict_json_ok(manifest) else INVALID
    if region.member == SIGNATURE:
        return _signature_flip_level(src.members[SIGNATURE], mutated[region.start:region.start + region.size])
    if region.member in src.referenced():
        return INVALID  # a variant or golden: its sha256 no longer matches
    return SIGNED


_SIGNATURE_FIELDS = ("format", "algorithm", "key_id", "public_key", "signature")


def _signature_flip_level(original: bytes, flipped: bytes) -> str:
    """A flipped signature.json still verifies when it parses and the fields the check uses are
    unchanged (the `signed` block only names members for messages): EITHER then, else INVALID."""
    if not _strict_json_ok(flipped):
        return INVALID
    before, after = json.loads(original), json.loads(flipped)
    same = all(before.get(k) == after.get(k) for k in _SIGNATURE_FIELDS)
    return EITHER if same else INVALID


def _flips(m: _Mutation, regions: list[Region], count: int) -> tuple[bytes, str, str]:
    data = bytearray(m.src.data)
    picks = []
    for _ in range(count):
        region = m.rng.choice(regions)
        offset = region.start + m.rng.randrange(region.size)
        mask = m.rng.choice([1 << m.rng.randrange(8), m.rng.randrange(1, 256)])
        if any(offset == o for o, _, _ in picks):
            continue
        data[offset] ^= mask
        picks.append((offset, mask, region))
    mutated = bytes(data)
    levels = [_flip_level(m.src, r, o, k, mutated) for o, k, r in picks]
    detail = "; ".join(f"byte {o} ^= {k:#04x} ({r.area} {r.member or ''} {r.part})".replace("  ", " ")
                       for o, k, r in picks)
    return mutated, detail, worst(*levels)


def mut_identity(m: _Mutation):
    return m.src.data, "untouched copy", _every(VALID)


def mut_rebuilt(m: _Mutation):
    data = m.build(m.src.content())
    how = "re-signed with the campaign key" if m.resign else "original signature kept"
    return data, f"same members rewritten by the campaign's zip writer ({how})", _every(VALID)


def mut_flip_any(m: _Mutation):
    regions = [r for r in zip_regions(m.src.data) if r.size]
    data, detail, level = _flips(m, regions, m.rng.choice([1, 1, 2, 3, 4, 8]))
    return data, detail, _every(level)


def mut_flip_header(m: _Mutation):
    area = m.rng.choice(["local", "central", "eocd"])
    regions = [r for r in zip_regions(m.src.data) if r.area == area and r.part != "data" and r.size]
    data, detail, level = _flips(m, regions, 1)
    return data, detail, _every(level)


def mut_truncate(m: _Mutation):
    data, rng = m.src.data, m.rng
    regions = zip_regions(data)
    cd_start = min(r.start for r in regions if r.area == "central")
    kind = rng.choice(["anywhere", "eocd", "central", "first_member", "tail_kept", "one_byte"])
    if kind == "anywhere":
        cut = rng.randrange(1, len(data))
        return data[:cut], f"cut to {cut} of {len(data)} bytes", _every(INVALID)
    if kind == "eocd":
        cut = len(data) - rng.randint(1, EOCD.size)
        return data[:cut], f"cut inside the end record, to {cut} of {len(data)} bytes", _every(INVALID)
    if kind == "central":
        cut = rng.randrange(cd_start, len(data) - EOCD.size)
        return data[:cut], f"cut inside the central directory, to {cut} bytes", _every(INVALID)
    if kind == "first_member":
        cut = rng.randrange(1, min(len(data), 4096))
        return data[:cut], f"only the first {cut} bytes", _every(INVALID)
    if kind == "tail_kept":
        cut = rng.randrange(1, cd_start)
        return data[cut:], f"first {cut} bytes removed", _every(INVALID)
    return data[:1], "one byte", _every(INVALID)


def mut_garbage(m: _Mutation):
    data, rng = m.src.data, m.rng
    junk = rng.randbytes(rng.choice([1, 3, 4, 64, 4096, 70000]))
    kind = rng.choice(["append", "prepend", "insert", "append_copy", "zero_range"])
    if kind == "append":
        return data + junk, f"{len(junk)} random bytes appended after the end record", _every(EITHER)
    if kind == "prepend":
        return junk + data, f"{len(junk)} random bytes prepended (offsets no longer match)", _every(INVALID)
    if kind == "insert":
        at = rng.randrange(1, len(data) - 1)
        return data[:at] + junk + data[at:], f"{len(junk)} random bytes inserted at {at}", _every(INVALID)
    if kind == "append_copy":
        return data + data, "the whole bundle appended to itself (two end records)", _every(INVALID)
    member = rng.choice([r for r in zip_regions(data) if r.part == "data" and r.member in m.src.referenced()
                         and r.size > 16])
    start = member.start + rng.randrange(member.size - 16)
    size = rng.randint(1, min(4096, member.start + member.size - start))
    original = data[start:start + size]
    if not any(original):
        return data[:start] + b"\x01" * size + data[start + size:], \
            f"{size} bytes of {member.member} set to 1 at {start}", _every(INVALID)
    return data[:start] + bytes(size) + data[start + size:], \
        f"{size} bytes of {member.member} zeroed at {start}", _every(INVALID)


def mut_duplicate(m: _Mutation):
    content = m.src.content()
    names = [n for n, _ in content] + ([SIGNATURE] if m.src.signed else [])
    name = m.rng.choice(names)
    original = m.src.members[name]
    if name == MANIFEST:
        changed = copy.deepcopy(m.src.manifest)
        if changed.get("labels"):
            changed["labels"] = list(reversed(changed["labels"]))
        changed.setdefault("verify", {})["tolerance"] = {v: {"max_abs_err": 1e9} for v in changed["variants"]}
        other = manifest_bytes(changed)
    elif name.endswith(".tflite"):
        other = m.rng.choice([d for n, d in content if n.endswith(".tflite")])
    else:
        other = m.rng.choice([original, original[: len(original) // 2]])
    where = m.rng.choice(["after", "end", "before"])
    members = [(n, d) for n, d in content]
    if name == SIGNATURE:
        sig_entries = [(SIGNATURE, original), (SIGNATURE, other)]
        data = write_zip([Entry(n, d) for n, d in members + sig_entries])
        return data, f"two {SIGNATURE} members", _every(INVALID)
    i = [n for n, _ in members].index(name)
    at = {"after": i + 1, "end": len(members), "before": i}[where]
    members.insert(at, (name, other))
    same = "same bytes" if other == original else "different bytes"
    return m.build(members), f"second '{name}' ({same}) inserted {where}", _every(INVALID)


_PATH_LIKE = ("../{n}", "/{n}", "./{n}", "a/../{n}", "{n}/", "x\\{n}", "C:/{n}", "{n}\x00.txt", "golden//{b}",
              "..\\{n}", "{n}/..", "\x7f{n}", "\t{n}", "/../../../tmp/{b}", "")


def _path_like(name: str) -> bool:
    parts = name.split("/")
    return (not name or name.startswith("/") or "\\" in name or ":" in name or any(p in ("", ".", "..") for p in parts)
            or any(ord(c) < 32 or ord(c) == 127 for c in name))


def mut_rename(m: _Mutation):
    content = m.src.content()
    names = [n for n, _ in content] + ([SIGNATURE] if m.src.signed else [])
    name = m.rng.choice(names)
    base = name.rsplit("/", 1)[-1]
    plain = [name.upper(), name.replace("o", "\u03bf", 1), name + " ", name + ".bak", "x" * 300, "notes.txt"]
    new = m.rng.choice([p.format(n=name, b=base) for p in _PATH_LIKE] + plain)
    if new == name:
        new = name + "_"
    if _path_like(new) or name in m.src.referenced() and name != SIGNATURE:
        level = INVALID
    else:
        level = SIGNED  # an unreferenced member renamed, or the signature: only the signature check can tell
    entries = [Entry(new if n == name else n, d) for n, d in content]
    if m.src.signed:
        entries.append(Entry(new if name == SIGNATURE else SIGNATURE, m.src.members[SIGNATURE]))
    return write_zip(entries), f"member {name!r} renamed {new!r}", _every(level)


def mut_extra_member(m: _Mutation):
    rng = m.rng
    name = rng.choice(["notes.txt", "golden/extra.npy", "README", "golden/", "x.tflite", "../evil.sh", "/etc/evil",
                       "a/./b", "models\\x", "many", "big.bin"])
    content = m.src.content()
    if name == "many":
        members = content + [(f"junk/{i}.txt", b"x") for i in range(rng.choice([60, 200, 5000]))]
        detail, level = f"{len(members) - len(content)} extra members", SIGNED
    elif name == "big.bin":
        members = content + [(name, bytes(rng.choice([2 << 20, 40 << 20])))]
        detail, level = f"extra member {name} of {len(members[-1][1])} bytes", SIGNED
    else:
        members = content + [(name, rng.randbytes(rng.choice([0, 10, 1000])))]
        detail, level = f"extra member {name!r}", INVALID if _path_like(name) else SIGNED
    resign = m.resign and not _path_like(name)
    return m.build(members, resign=resign), detail + (" (re-signed)" if resign else ""), _every(level)


_METHOD_CODES = (1, 6, 8, 9, 12, 14, 93, 95, 98, 99, 0xFFFF)


def _header_field_edit(m: _Mutation, field: str, values) -> tuple[bytes, str, int, str]:
    """One member's `field` set to a value drawn from `values` in its central header, its local
    header or both, the bytes left as they are: (zip, member, value, where). The draws come in
    a fixed order (member, value, headers), so a seed gives the same mutant every time."""
    content = m.src.content()
    name = m.rng.choice([n for n, _ in content])
    value = m.rng.choice(values)
    where = m.rng.choice(["central", "local", "both"])
    entries = []
    for n, d in content:
        e = Entry(n, d)
        if n == name:
            if where in ("central", "both"):
                e.central[field] = value
            if where in ("local", "both"):
                e.local[field] = value
        entries.append(e)
    if m.src.signed:
        entries.append(Entry(SIGNATURE, m.src.members[SIGNATURE]))
    return write_zip(entries), name, value, where


def mut_method(m: _Mutation):
    data, name, method, where = _header_field_edit(m, "method", _METHOD_CODES)
    return data, f"'{name}' method {method} in the {where} header(s), bytes left stored", _every(INVALID)


def mut_flags(m: _Mutation):
    data, name, bit, where = _header_field_edit(m, "flags", [0x0001, 0x0001, 0x0040, 0x2000, 0x0020, 0x0008,
                                                             0x0800, 0x0002])
    level = _flag_level(bit)
    if where != "both" and bit != 0x0800:
        level = INVALID  # the headers now disagree
    return data, f"'{name}' flag {bit:#06x} set in the {where} header(s)", _every(level)


def mut_compressed(m: _Mutation):
    content = m.src.content()
    name = m.rng.choice([n for n, _ in content])
    how = m.rng.choice(["deflate", "bzip2"])
    entries = []
    for n, d in content:
        if n == name:
            if how == "deflate":
                c = zlib.compressobj(9, zlib.DEFLATED, -15)
                packed, method = c.compress(d) + c.flush(), 8
            else:
                packed, method = bz2.compress(d), 12
            entries.append(Entry(n, packed, method=method, size=len(d), crc=zlib.crc32(d)))
        else:
            entries.append(Entry(n, d))
    if m.src.signed:
        entries.append(Entry(SIGNATURE, m.src.members[SIGNATURE]))
    return write_zip(entries), f"'{name}' properly {how}-compressed", _every(INVALID)


@functools.lru_cache(maxsize=2)
def deflate_bomb(size: int = BOMB_BYTES) -> tuple[bytes, int]:
    """(raw deflate stream of `size` zero bytes, their CRC-32): about 1 MB for 1 GiB."""
    chunk = bytes(1 << 24)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts, crc, left = [], 0, size
    while left:
        piece = chunk if left >= len(chunk) else chunk[:left]
        parts.append(c.compress(piece))
        crc = zlib.crc32(piece, crc)
        left -= len(piece)
    parts.append(c.flush())
    return b"".join(parts), crc


def mut_zip_bomb(m: _Mutation):
    rng, content = m.rng, m.src.content()
    kind = rng.choice(["manifest", "report", "extra", "second_manifest", "tflite", "lying_size", "zip64",
                       "overlap_many", "overlap_two"])
    entries = [Entry(n, d) for n, d in content]
    sig = [Entry(SIGNATURE, m.src.members[SIGNATURE])] if m.src.signed else []
    bomb, crc = deflate_bomb()

    def bomb_entry(name):
        return Entry(name, bomb, method=8, size=BOMB_BYTES, crc=crc)

    if kind in ("manifest", "report", "tflite"):
        name = {"manifest": MANIFEST, "report": REPORT,
                "tflite": rng.choice([n for n, _ in content if n.endswith(".tflite")])}[kind]
        if name not in dict(content):
            name = MANIFEST
        entries = [bomb_entry(n) if n == name else e for (n, _), e in zip(content, entries)]
        detail = f"'{name}' replaced by a deflate bomb ({len(bomb)} bytes → {BOMB_BYTES})"
    elif kind == "extra":
        entries.append(bomb_entry("bomb.bin"))
        detail = f"extra deflate bomb member ({len(bomb)} bytes → {BOMB_BYTES})"
    elif kind == "second_manifest":
        entries.append(bomb_entry(MANIFEST))
        detail = "a second manifest.json that is a deflate bomb"
    elif kind == "lying_size":
        name = rng.choice([n for n, _ in content])
        for (n, d), e in zip(content, entries):
            if n == name:
                e.size = 0xFFFFFFFE
                e.local["compressed_size"] = e.central["compressed_size"] = 0xFFFFFFFE
        detail = f"'{name}' stored, both headers claiming 4 GiB"
    elif kind == "zip64":
        name = rng.choice([n for n, _ in content])
        for (n, d), e in zip(content, entries):
            if n == name:
                e.central.update(compressed_size=0xFFFFFFFF, size=0xFFFFFFFF,
                                 extra=struct.pack("<HHQQ", 1, 16, 1 << 40, 1 << 40))
        detail = f"'{name}' with a zip64 extra claiming 1 TiB"
    elif kind == "overlap_many":
        target = rng.randrange(len(entries))
        count = rng.choice([100, 1000, 20000])
        entries += [Entry(f"golden/o{i}.npy", content[target][1], shares=target) for i in range(count)]
        detail = f"{count} central entries sharing the local header of '{content[target][0]}'"
    else:
        target = rng.randrange(len(entries))
        entries.append(Entry(content[target][0] + ".copy", content[target][1], shares=target))
        detail = f"a second central entry pointing at '{content[target][0]}'"
    return write_zip(entries + sig), detail, _every(INVALID)


# -- manifest mutators ----------------------------------------------------------------------------

# (path pattern, JSON type the schema gives it); `*` is any key or index present.
_TYPED = (
    ("schema_version", "integer"), ("name", "string"), ("version", "string"), ("task", "string"),
    ("labels", "array"), ("labels.*", "string"), ("input", "object"), ("input.shape", "array"),
    ("input.shape.*", "integer"), ("input.dtype", "string"), ("input.color", "string"), ("input.resize", "string"),
    ("input.mean", "array"), ("input.mean.*", "number"), ("input.std", "array"), ("input.std.*", "number"),
    ("input.crop", "string"), ("input.margin", "number"), ("output", "object"), ("output.kind", "string"),
    ("output.shape", "array"), ("output.stride", "integer"), ("output.score_threshold", "number"),
    ("output.iou_threshold", "number"), ("output.score_threshold_by_variant", "object"),
    ("output.score_threshold_by_variant.*", "number"), ("variants", "object"), ("variants.*", "object"),
    ("variants.*.file", "string"), ("variants.*.bytes", "integer"), ("variants.*.sha256", "string"),
    ("variants.*.target", "string"), ("variants.*.input_dtype", "string"), ("variants.*.output_dtype", "string"),
    ("variants.*.sparsity", "number"), ("variants.*.compatibility", "object"), ("golden", "object"),
    ("golden.inputs", "string"), ("golden.outputs", "string"), ("golden.count", "integer"),
    ("golden.sha256", "object"), ("golden.variant_outputs", "object"), ("golden.input_domain", "string"),
    ("metrics", "object"), ("build", "object"),
)
_WRONG = {
    "string": [123, None, True, [], {}, ["x"], 1.5],
    "integer": ["7", None, True, 1.5, [], {}, "1"],
    "number": ["x", None, False, [], {"v": 1}, "0.5"],
    "array": ["x", 3, None, {}, True, {"0": 1}],
    "object": ["x", 3, None, [], True, [["k", "v"]]],
}
_REQUIRED = ("schema_version", "name", "version", "task", "input", "output", "variants", "input.shape",
             "input.color", "input.resize", "input.mean", "input.std", "output.kind", "variants.*.file",
             "variants.*.bytes", "variants.*.sha256", "variants.*.target", "variants.*.input_dtype",
             "golden.inputs", "golden.outputs")
_OPTIONAL = ("input.crop", "input.margin", "input.dtype", "output.shape", "output.stride",
             "output.score_threshold", "output.score_threshold_by_variant", "variants.*.output_dtype", "variants.*.sparsity",
             "variants.*.compatibility", "golden.count", "golden.input_domain", "metrics", "build")


def _paths(doc: Any, pattern: str) -> list[list]:
    """Concrete paths (lists of keys/indices) in `doc` matching `a.*.b`."""
    found = [[]]
    for part in pattern.split("."):
        nxt = []
        for path in found:
            node = _get(doc, path)
            if part == "*":
                keys = list(node) if isinstance(node, dict) else range(len(node)) if isinstance(node, list) else []
                nxt += [path + [k] for k in keys]
            elif isinstance(node, dict) and part in node:
                nxt.append(path + [part])
        found = nxt
    return found


def _get(doc: Any, path: list) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def _set(doc: Any, path: list, value: Any) -> None:
    _get(doc, path[:-1])[path[-1]] = value


def _dotted(path: list) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path).lstrip(".")


def _manifest_result(m: _Mutation, manifest_data: bytes, detail: str, expect: dict[str, str]):
    members = [(n, manifest_data if n == MANIFEST else d) for n, d in m.src.content()]
    return m.build(members), detail + (" (re-signed)" if m.resign else ""), expect


def mut_manifest_type(m: _Mutation):
    doc = m.manifest()
    choices = [(p, t) for pattern, t in _TYPED for p in _paths(doc, pattern)]
    path, kind = m.rng.choice(choices)
    value = m.rng.choice(_WRONG[kind] + ([["x", "y", "z"]] if path[-1:] in (["mean"], ["std"]) else []))
    if path == ["golden"] and m.rng.random() < 0.5:
        value = "x"
    _set(doc, path, value)
    return _manifest_result(m, manifest_bytes(doc), f"{_dotted(path)} ({kind}) = {json.dumps(value)}",
                            _every(INVALID))


def mut_manifest_missing(m: _Mutation):
    doc = m.manifest()
    required = [p for pattern in _REQUIRED for p in _paths(doc, pattern)]
    if doc.get("task") == "classification" and "labels" in doc:
        required.append(["labels"])
    optional = [p for pattern in _OPTIONAL for p in _paths(doc, pattern)]
    if "golden" in doc:
        optional += [["golden"], ["golden", "sha256"]] if "sha256" in doc["golden"] else [["golden"]]
    if optional and m.rng.random() < 0.35:
        path, level = m.rng.choice(optional), SIGNED
    else:
        path, level = m.rng.choice(required), INVALID
    del _get(doc, path[:-1])[path[-1]]
    return _manifest_result(m, manifest_bytes(doc), f"{_dotted(path)} removed", _every(level))


def _range_edits(doc: dict[str, Any], src: BundleSource) -> list[tuple[list, Any, dict[str, str]]]:
    """(path, value, levels) of out-of-range, unknown or lying values the schema or a cross-check refuses."""
    bad, signed = _every(INVALID), _every(SIGNED)
    edits: list[tuple[list, Any, dict[str, str]]] = [
        (["input", "shape", 1], 20000, bad), (["input", "shape", 2], 2**31, bad), (["input", "shape", 1], 0, bad),
        (["input", "shape", 1], -96, bad), (["input", "shape", 2], 4, bad), (["input", "shape", 0], 10**6, bad),
        (["input", "shape", 3], 10**6, bad), (["input", "shape"], [1, 20000, 20000, 3], bad),
        (["input", "shape"], [1, 96, 96], bad), (["input", "shape"], [1, 96, 96, 3, 1], bad),
        (["input", "shape", 1], 10**400, bad), (["input", "mean", 0], 10**400, bad),
        (["input", "mean", 0], 1e308, bad), (["input", "std", 0], 0, bad), (["input", "std", 0], -1, bad),
        (["input", "std", 0], 1e-320, signed), (["input", "margin"], 1e308, bad), (["input", "margin"], -0.1, bad),
        (["input", "color"], "cmyk", bad), (["input", "resize"], "lanczos", bad), (["input", "crop"], "center", bad),
        (["input", "dtype"], "float64", bad), (["input", "extra_key"], 1, bad),
        (["schema_version"], 2, bad), (["schema_version"], 0, bad), (["schema_version"], 1.5, bad),
        (["schema_version"], "1", bad), (["schema_version"], True, bad), (["task"], "segmentation", bad),
        (["task"], "", bad), (["name"], "", bad), (["version"], "", bad), (["name"], "n" * 100000, bad),
        (["output", "kind"], "boxes", bad), (["output", "stride"], 0, bad), (["output", "stride"], 10**9, bad),
        (["output", "shape"], [1, 10**9], bad), (["output", "score_threshold"], 2, bad),
        (["output", "score_threshold_by_variant"], {"int8": 2}, bad),
        (["output", "score_threshold_by_variant"], {"int4": 0.4}, bad),
        (["golden", "count"], 0, bad), (["golden", "count"], 10**9, bad), (["golden", "count"], 3, signed),
        (["golden", "inputs"], "golden/../manifest.json", bad), (["golden", "outputs"], "/etc/passwd", bad),
        (["golden", "outputs"], "golden/missing.npy", bad), (["golden", "input_domain"], "bytes", bad),
        (["verify", "tolerance", "fp32", "max_abs_err"], -1, bad),
        (["verify", "tolerance", "fp32", "top1_agreement"], 2, bad),
        (["metrics", "x_nan"], float("nan"), bad), (["metrics", "x_inf"], float("inf"), bad),
        (["x_unknown_top_level_key"], {"a": 1}, signed),
    ]
    for v, entry in doc["variants"].items():
        others = [e for w, e in doc["variants"].items() if w != v]
        edits += [
            (["variants", v, "bytes"], 10**18, bad), (["variants", v, "bytes"], -1, bad),
            (["variants", v, "bytes"], entry["bytes"] + 1, bad), (["variants", v, "sparsity"], 2, bad),
            (["variants", v, "sha256"], entry["sha256"].upper(), bad), (["variants", v, "sha256"], "0" * 64, bad),
            (["variants", v, "file"], "../" + entry["file"], bad), (["variants", v, "file"], "/etc/passwd", bad),
            (["variants", v, "file"], "missing.tflite", bad), (["variants", v, "target"], "tpu", bad),
            (["variants", v, "input_dtype"], "uint8", bad), (["variants", v, "sha256"], "g" * 64, bad),
            (["variants", v, "input_quant"], {"scale": 0, "zero_point": 0}, bad),
        ]
        if others:
            o = others[0]
            edits.append((["variants", v], {**entry, "file": o["file"], "bytes": o["bytes"], "sha256": o["sha256"]},
                          _exp(SIGNED)))
    for bad_name in ("fp64", "FP32", "x;touch${IFS}INJECTED;#", "../fp32", "", "int8 "):
        edits.append((["variants", "__rename__", bad_name], None, bad))
    return [e for e in edits if _applicable(doc, e[0])]


def _applicable(doc: dict, path: list) -> bool:
    if path[:2] == ["variants", "__rename__"]:
        return True
    if path[0] in ("metrics", "verify", "x_unknown_top_level_key"):
        return True
    node = doc
    for k in path[:-1]:
        if isinstance(node, dict) and k in node or isinstance(node, list) and isinstance(k, int) and k < len(node):
            node = node[k]
        else:
            return False
    return isinstance(node, dict) and path[-1] in node or isinstance(node, list) and path[-1] < len(node) or (
        isinstance(node, dict) and path[0] == "input" and path[-1] == "extra_key")


def mut_manifest_range(m: _Mutation):
    doc = m.manifest()
    path, value, expect = m.rng.choice(_range_edits(doc, m.src))
    if path[:2] == ["variants", "__rename__"]:
        old = m.rng.choice(list(doc["variants"]))
        doc["variants"] = {(path[2] if k == old else k): v for k, v in doc["variants"].items()}
        detail = f"variant '{old}' renamed {path[2]!r}"
    else:
        node = doc
        for k in path[:-1]:
            node = node.setdefault(k, {}) if isinstance(node, dict) else node[k]
        node[path[-1]] = value
        shown = json.dumps(value, allow_nan=True)
        detail = f"{_dotted(path)} = {shown if len(shown) < 60 else shown[:57] + '...'}"
    return _manifest_result(m, manifest_bytes(doc), detail, expect)


def mut_manifest_json(m: _Mutation):
    """Text-level edits: strictness (NaN, duplicate keys, encodings), nesting, size."""
    text = manifest_bytes(m.src.manifest).decode()
    rng = m.rng
    kind = rng.choice(["duplicate_key", "deep_nesting", "nesting_100", "utf16", "bom", "bad_utf8", "trailing_garbage",
                       "trailing_space", "top_level", "empty", "nan_literal", "infinity_literal", "big_float_literal",
                       "long_int_literal", "control_char", "comment", "single_quotes", "lone_surrogate", "huge"])
    expect = _every(INVALID)
    body = text[text.index("{") + 1:]
    if kind == "duplicate_key":
        key, value = rng.choice([("task", '"detection"'), ("schema_version", "1"), ("name", '"evil"'),
                                 ("labels", '["a"]')])
        data = ('{\n  "' + key + '": ' + value + "," + body).encode()
    elif kind == "deep_nesting":
        depth = rng.choice([1000, 100000])
        data = ('{"metrics": ' + "[" * depth + "]" * depth + "," + body).encode()
    elif kind == "nesting_100":
        data, expect = ('{"metrics": {"x": ' + "[" * 100 + "]" * 100 + "}," + body).encode(), _every(SIGNED)
    elif kind == "utf16":
        data = text.encode("utf-16")
    elif kind == "bom":
        data, expect = b"\xef\xbb\xbf" + text.encode(), _every(SIGNED)
    elif kind == "bad_utf8":
        data = ('{"name": "caf\udce9",' + body).encode("utf-8", "surrogateescape")
    elif kind == "trailing_garbage":
        data = (text + rng.choice(["x", "}", "{}", "\x00"])).encode()
    elif kind == "trailing_space":
        data, expect = (text + "\n\n  \n").encode(), _every(SIGNED)
    elif kind == "top_level":
        data = rng.choice([b"[]", b'"manifest"', b"1", b"null", b"[" + text.encode() + b"]"])
    elif kind == "empty":
        data = rng.choice([b"", b" ", b"{}"])
    elif kind in ("nan_literal", "infinity_literal"):
        literal = "NaN" if kind == "nan_literal" else rng.choice(["Infinity", "-Infinity"])
        data = text.replace('"margin": 0.0', f'"margin": {literal}', 1).replace(
            '"margin": 0.15', f'"margin": {literal}', 1).encode()
        if data == text.encode():
            data = ('{"metrics": {"x": ' + literal + "}," + body).encode()
    elif kind == "big_float_literal":
        data = text.replace("127.5", "1e999", 1).encode()
    elif kind == "long_int_literal":
        data, expect = ('{"metrics": {"x": ' + "9" * rng.choice([5000, 100000]) + "}," + body).encode(), _every(SIGNED)
    elif kind == "control_char":
        data = ('{"name": "a\x01b",' + body).encode()
    elif kind == "comment":
        data = ("// facelite\n" + text).encode()
    elif kind == "single_quotes":
        data = text.replace('"task"', "'task'", 1).encode()
    elif kind == "lone_surrogate":
        doc = m.manifest()
        doc["name" if not doc.get("labels") else "labels"] = (
            "\ud800x" if not doc.get("labels") else ["\ud800"] + doc["labels"][1:])
        data, expect = json.dumps(doc, indent=2).encode(), _every(SIGNED)
    else:  # huge
        size = rng.choice([2 << 20, 64 << 20])
        data, expect = ('{"metrics": {"pad": "' + "x" * size + '"},' + body).encode(), _every(SIGNED)
    return _manifest_result(m, data, f"manifest text: {kind} ({len(data)} bytes)", expect)


def mut_manifest_labels(m: _Mutation):
    doc = m.manifest()
    labels = doc.get("labels") or []
    rng = m.rng
    if doc.get("task") != "classification" or len(labels) < 2:
        doc["labels"] = ["a", "b"]
        return _manifest_result(m, manifest_bytes(doc), f"labels ['a', 'b'] given to a {doc.get('task')} bundle",
                                _every(SIGNED))
    kind = rng.choice(["shorter", "longer", "reversed", "swapped", "renamed", "duplicated", "empty_name",
                       "one_label", "many"])
    new, expect = list(labels), _exp(INVALID, SIGNED, INVALID)
    if kind == "shorter":
        new = labels[:-rng.randint(1, len(labels) - 1)]
    elif kind == "longer":
        new = labels + [f"extra{i}" for i in range(rng.randint(1, 3))]
    elif kind == "one_label":
        new = labels[:1]
    elif kind == "many":
        new = [f"c{i}" for i in range(rng.choice([1000, 1001]))]
        expect = _every(INVALID)
    elif kind == "reversed":
        new, expect = labels[::-1], _every(SIGNED)
    elif kind == "swapped":
        i, j = rng.sample(range(len(labels)), 2)
        new[i], new[j] = new[j], new[i]
        expect = _every(SIGNED)
    elif kind == "renamed":
        new[rng.randrange(len(new))] = rng.choice(["happy", "😀", "x" * 64, "<script>", "a\nb"])
        expect = _every(SIGNED)
    elif kind == "duplicated":
        new[1] = new[0]
        expect = _every(SIGNED)
    else:
        new[rng.randrange(len(new))] = ""
        expect = _every(INVALID)
    doc["labels"] = new
    return _manifest_result(m, manifest_bytes(doc), f"labels {kind}: {len(labels)} → {len(new)}", expect)


def mut_manifest_tolerance(m: _Mutation):
    doc = m.manifest()
    variant = m.rng.choice(list(doc["variants"]))
    tol = m.rng.choice([{"max_abs_err": 1e9}, {"max_abs_err": 1.0, "top1_agreement": 0.0}, {"max_abs_err": None},
                        {"top1_agreement": 0.0}, {"max_abs_err": 1e300}])
    doc.setdefault("verify", {}).setdefault("tolerance", {})[variant] = tol
    return _manifest_result(m, manifest_bytes(doc), f"verify.tolerance.{variant} = {json.dumps(tol)} (loosened)",
                            _every(SIGNED))


def mut_manifest_semantic(m: _Mutation):
    """Schema-valid, behaviour-changing edits: only a signature can tell."""
    doc = m.manifest()
    rng = m.rng
    channels = len(doc["input"]["mean"])
    v = rng.choice(list(doc["variants"]))
    choices: list[tuple[list, list]] = [
        (["input", "mean"], [[0.0] * channels, [255.0] * channels]),
        (["input", "std"], [[1.0] * channels, [0.001] * channels]),
        (["input", "color"], ["rgb", "bgr", "gray_as_rgb"] if channels == 3 else ["gray"]),
        (["input", "resize"], ["area", "nearest", "bilinear"]),
        (["input", "crop"], ["none", "face", "letterbox"]),
        (["input", "margin"], [0.0, 0.5, 1.0]),
        (["version"], ["9.9.9"]), (["name"], ["evil"]),
        (["task"], ["classification", "landmarks", "detection"]),
        (["output", "kind"], ["probabilities", "logits", "points", "heatmap"]),
        (["variants", v, "target"], ["cpu", "gpu", "npu"]),
        (["variants", v, "compatibility"], [{"gpu": {"ok": True}, "npu": {"ok": True}}]),
        (["variants", v, "output_dtype"], ["float32", "int8"]),
        (["variants", v, "input_dtype"], ["float32", "int8"]),
    ]
    if "score_threshold" in doc["output"]:
        choices.append((["output", "score_threshold"], [0.0, 1.0]))
    if "stride" in doc["output"]:
        choices.append((["output", "stride"], [1, 2048]))
    current = lambda path: _get(doc, path[:-1]).get(path[-1])  # noqa: E731
    choices = [(path, [o for o in options if o != current(path)]) for path, options in choices]
    path, options = rng.choice([c for c in choices if c[1]])
    value = rng.choice(options)
    _get(doc, path[:-1])[path[-1]] = value
    expect = _exp(INVALID, SIGNED, SIGNED) if path[-1] == "input_dtype" else _every(SIGNED)
    return _manifest_result(m, manifest_bytes(doc), f"{_dotted(path)} = {json.dumps(value)} (schema-valid)", expect)


# -- golden .npy mutators ------------------------------------------------------------------------


def npy_raw(header: str, body: bytes, version: tuple[int, int] = (1, 0)) -> bytes:
    """A .npy file with `header` (the dict literal) as given, padded as numpy pads it."""
    magic = b"\x93NUMPY" + bytes(version)
    length = "<H" if version[0] == 1 else "<I"
    text = header.encode("latin1")
    pad = (-(len(magic) + struct.calcsize(length) + len(text) + 1)) % 64
    text += b" " * pad + b"\n"
    return magic + struct.pack(length, len(text)) + text + body


def _npy_header(descr: str, shape: tuple, fortran: bool = False) -> str:
    return f"{{'descr': {descr!r}, 'fortran_order': {fortran}, 'shape': {shape!r}, }}"


def _save(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def mut_golden_npy(m: _Mutation):
    members = m.src.golden_members()
    if not members:
        return mut_manifest_missing(m)
    name = m.rng.choice(members)
    original = m.src.members[name]
    array = np.load(io.BytesIO(original), allow_pickle=False)
    body = np.ascontiguousarray(array).tobytes()
    rng = m.rng
    kind = rng.choice(["pickle", "huge_shape", "overflow_shape", "negative_shape", "wrong_dtype", "object_dtype",
                       "fortran", "bad_magic", "header_not_dict", "header_code", "header_length", "truncated_body",
                       "fewer_rows", "nan", "shifted", "big_endian_garbage", "big_endian_same", "float64_same",
                       "trailing_bytes", "version_3", "zero_dims", "empty"])
    verify = INVALID
    if kind == "pickle":
        data = _save(np.array([{"golden": 1}, None, "x"], dtype=object), allow_pickle=True)
    elif kind == "huge_shape":
        data = npy_raw(_npy_header(array.dtype.str, (rng.choice([2**31, 2**40, 10**12]),) + array.shape[1:]), body)
    elif kind == "overflow_shape":
        data = npy_raw(_npy_header(array.dtype.str, (2**62, 2**62, 16)), body)
    elif kind == "negative_shape":
        data = npy_raw(_npy_header(array.dtype.str, (-1,) + array.shape[1:]), body)
    elif kind == "wrong_dtype":
        data = npy_raw(_npy_header(rng.choice(["<f8", "|S10", "<c16", "<M8[s]", "|V3", "<U4"]), array.shape), body)
    elif kind == "object_dtype":
        data = npy_raw(_npy_header("|O", array.shape), body)
    elif kind == "fortran":
        data = npy_raw(_npy_header(array.dtype.str, array.shape, fortran=True), body)
        verify = INVALID if array.ndim > 1 else SIGNED
    elif kind == "bad_magic":
        data = b"\x93NUMPX" + original[6:]
    elif kind == "header_not_dict":
        data = npy_raw("[1, 2, 3]", body)
    elif kind == "header_code":
        data = npy_raw("{'descr': __import__('os').getcwd(), 'fortran_order': False, 'shape': (1,)}", body)
    elif kind == "header_length":
        data = original[:8] + struct.pack("<H", 65535) + original[10:]
    elif kind == "truncated_body":
        data = original[: len(original) - max(1, len(body) // 2)]
    elif kind == "fewer_rows":
        data = _save(array[: max(1, len(array) - 1)] if len(array) > 1 else array[:0])
    elif kind == "nan":
        data = _save(np.full_like(array, np.nan) if array.dtype.kind == "f" else array[:0])
    elif kind == "shifted":
        data = _save((array.astype(np.float64) + 1.0).astype(array.dtype) if array.dtype.kind == "f"
                     else (255 - array))
    elif kind == "big_endian_garbage":
        data = npy_raw(_npy_header(array.dtype.newbyteorder(">").str, array.shape), body)
        verify = INVALID if array.dtype.itemsize > 1 else SIGNED
    elif kind == "big_endian_same":
        data, verify = _save(array.astype(array.dtype.newbyteorder(">"))), SIGNED
    elif kind == "float64_same":
        data, verify = _save(array.astype(np.float64)), SIGNED if array.dtype.kind == "f" else INVALID
    elif kind == "trailing_bytes":
        data, verify = original + b"\0" * rng.choice([1, 4, 4096]), SIGNED
    elif kind == "version_3":
        data, verify = npy_raw(_npy_header(array.dtype.str, array.shape), body, version=(3, 0)), SIGNED
    elif kind == "zero_dims":
        data = _save(np.zeros((0,) + array.shape[1:], array.dtype))
    else:
        data = b""
    manifest = m.manifest()
    if name in manifest.get("golden", {}).get("sha256", {}):
        manifest["golden"]["sha256"][name] = sha256(data)
    members = m.replaced(name, data, manifest)
    return m.build(members), f"{name}: {kind} (sha256 re-sealed" + (", re-signed)" if m.resign else ")"), \
        _exp(verify, SIGNED, SIGNED)


# -- .tflite mutators (re-sealed: the model reaches LiteRT) ---------------------------------------


class FlatBuffer:
    """Just enough of a flatbuffer reader to find a TFLite model's tables and vectors."""

    def __init__(self, data: bytes):
        self.b = bytearray(data)

    def u32(self, pos: int) -> int:
        return struct.unpack_from("<I", self.b, pos)[0]

    def field(self, table: int, index: int) -> int | None:
        """Position of field `index` of the table at `table`, None when absent."""
        vtable = table - struct.unpack_from("<i", self.b, table)[0]
        vsize = struct.unpack_from("<H", self.b, vtable)[0]
        slot = 4 + 2 * index
        if slot + 2 > vsize:
            return None
        off = struct.unpack_from("<H", self.b, vtable + slot)[0]
        return table + off if off else None

    def vector(self, pos: int) -> tuple[int, int]:
        """(start, length) of the vector the offset at `pos` points to."""
        v = pos + self.u32(pos)
        return v + 4, self.u32(v)

    def tables(self, pos: int) -> list[int]:
        start, n = self.vector(pos)
        return [start + 4 * i + self.u32(start + 4 * i) for i in range(n)]

    def model(self) -> dict[str, Any]:
        """Positions of the model's first subgraph, its tensors, operators, io vectors and buffers."""
        root = self.u32(0)
        subgraph = self.tables(self.field(root, 2))[0]
        return {"root": root, "subgraph": subgraph,
                "tensors": self.tables(self.field(subgraph, 0)),
                "inputs": self.field(subgraph, 1), "outputs": self.field(subgraph, 2),
                "operators": self.tables(self.field(subgraph, 3)),
                "buffers": self.tables(self.field(root, 4)) if self.field(root, 4) else []}


def _put_int(fb: FlatBuffer, pos: int, value: int) -> None:
    struct.pack_into("<I", fb.b, pos, value & 0xFFFFFFFF)


def tflite_struct_edit(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One structural edit of a TFLite flatbuffer (an index, a shape, an offset) and what it was."""
    fb = FlatBuffer(data)
    mdl = fb.model()
    n_tensors = len(mdl["tensors"])
    huge = [-1, -7, n_tensors, n_tensors + 100, 2**31 - 1, -(2**31)]
    kind = rng.choice(["subgraph_input", "subgraph_output", "operator_input", "operator_output", "opcode_index",
                       "tensor_shape", "tensor_buffer", "tensor_type", "root_offset", "vtable", "vector_length",
                       "file_identifier", "zero_buffer"])
    if kind in ("subgraph_input", "subgraph_output"):
        start, n = fb.vector(mdl["inputs" if kind == "subgraph_input" else "outputs"])
        value = rng.choice(huge)
        _put_int(fb, start + 4 * rng.randrange(n), value)
        return bytes(fb.b), f"{kind.replace('_', ' ')} index = {value}"
    if kind in ("operator_input", "operator_output", "opcode_index"):
        op = rng.choice(mdl["operators"])
        index = {"operator_input": 1, "operator_output": 2, "opcode_index": 0}[kind]
        pos = fb.field(op, index)
        if pos is None:
            kind, pos = "operator_input", fb.field(op, 1)
        value = rng.choice(huge + [10**6])
        if kind == "opcode_index":
            _put_int(fb, pos, value)
        else:
            start, n = fb.vector(pos)
            _put_int(fb, start + 4 * rng.randrange(n), value)
        return bytes(fb.b), f"{kind.replace('_', ' ')} = {value} in operator at {op}"
    if kind in ("tensor_shape", "tensor_buffer", "tensor_type"):
        tensor = rng.choice(mdl["tensors"])
        if kind == "tensor_shape":
            pos = fb.field(tensor, 0)
            if pos is not None and fb.vector(pos)[1]:
                start, n = fb.vector(pos)
                value = rng.choice([0, -5, 2**31 - 1, 65536, 2**20])
                _put_int(fb, start + 4 * rng.randrange(n), value)
                return bytes(fb.b), f"tensor shape dim = {value}"
        if kind == "tensor_type":
            pos = fb.field(tensor, 1)
            if pos is not None:
                value = rng.randrange(17, 256)
                fb.b[pos] = value
                return bytes(fb.b), f"tensor type = {value}"
        pos = fb.field(tensor, 2)
        if pos is not None:
            value = rng.choice([len(mdl["buffers"]) + 5, 2**32 - 1, 2**31])
            _put_int(fb, pos, value)
            return bytes(fb.b), f"tensor buffer index = {value}"
        kind = "vtable"
    if kind == "zero_buffer" and mdl["buffers"]:
        sizes = [(fb.vector(p)[1], p) for b in mdl["buffers"] if (p := fb.field(b, 0)) is not None]
        if sizes:
            _, pos = max(sizes)
            start, n = fb.vector(pos)
            _put_int(fb, start - 4, rng.choice([n * 16, 2**31 - 1, 2**32 - 1]))
            return bytes(fb.b), "the largest buffer's length field enlarged"
        kind = "root_offset"
    if kind == "root_offset":
        value = rng.choice([len(data) + 8, 2**31, 3, 0])
        _put_int(fb, 0, value)
        return bytes(fb.b), f"root table offset = {value}"
    if kind == "vtable":
        table = rng.choice(mdl["tensors"] + mdl["operators"] + [mdl["subgraph"]])
        value = rng.choice([2**31 - 1, -(2**31), len(data), 1])
        struct.pack_into("<i", fb.b, table, value)
        return bytes(fb.b), f"vtable offset of the table at {table} = {value}"
    if kind == "vector_length":
        pos = fb.field(mdl["subgraph"], 0)
        v = pos + fb.u32(pos)
        value = rng.choice([2**31, n_tensors + 1000, 2**32 - 1])
        _put_int(fb, v, value)
        return bytes(fb.b), f"tensors vector length = {value}"
    fb.b[4:8] = b"XXXX"
    return bytes(fb.b), "file identifier TFL3 → XXXX"


def zero_weights(data: bytes) -> bytes:
    """Every constant buffer of the model set to zero bytes (the re-sealed tamper of issue #15)."""
    fb = FlatBuffer(data)
    for b in fb.model()["buffers"]:
        pos = fb.field(b, 0)
        if pos is not None:
            start, n = fb.vector(pos)
            fb.b[start:start + n] = bytes(n)
    return bytes(fb.b)


def _reseal(m: _Mutation, variant: str, data: bytes, manifest: dict | None = None):
    manifest = manifest or m.manifest()
    entry = manifest["variants"][variant]
    entry["bytes"], entry["sha256"] = len(data), sha256(data)
    return m.replaced(entry["file"], data, manifest)


def mut_tflite_flip(m: _Mutation):
    variant = m.rng.choice(list(m.src.manifest["variants"]))
    data = bytearray(m.src.members[m.src.manifest["variants"][variant]["file"]])
    count = m.rng.choice([1, 2, 4, 16, 64])
    head = m.rng.random() < 0.5
    for _ in range(count):
        pos = m.rng.randrange(min(len(data), 1024) if head else len(data))
        data[pos] ^= m.rng.randrange(1, 256)
    members = _reseal(m, variant, bytes(data))
    where = "first 1 KB" if head else "anywhere"
    return m.build(members), f"{variant}: {count} byte flips ({where}), sha256 re-sealed" + (
        ", re-signed" if m.resign else ""), _every(SIGNED)


def mut_tflite_struct(m: _Mutation):
    variant = m.rng.choice(list(m.src.manifest["variants"]))
    data, what = tflite_struct_edit(m.src.members[m.src.manifest["variants"][variant]["file"]], m.rng)
    members = _reseal(m, variant, data)
    return m.build(members), f"{variant}: {what}, sha256 re-sealed" + (", re-signed" if m.resign else ""), \
        _every(SIGNED)


def mut_tflite_tamper(m: _Mutation):
    rng = m.rng
    variants = m.src.manifest["variants"]
    variant = rng.choice(list(variants))
    original = m.src.members[variants[variant]["file"]]
    kind = rng.choice(["zero_weights_loose_tolerance", "zero_weights", "truncated", "empty", "random_bytes",
                       "other_variant"])
    manifest = m.manifest()
    if kind.startswith("zero_weights"):
        data = zero_weights(original)
        if kind.endswith("tolerance"):
            manifest.setdefault("verify", {})["tolerance"] = {
                v: {"max_abs_err": 1e9, "top1_agreement": 0.0} for v in variants}
    elif kind == "truncated":
        data = original[: rng.randrange(8, len(original) // 2)]
    elif kind == "empty":
        data = b""
    elif kind == "random_bytes":
        data = rng.randbytes(rng.choice([16, 4096, len(original)]))
    else:
        others = [v for v in variants if v != variant]
        if not others:
            data, kind = zero_weights(original), "zero_weights"
        else:
            data = m.src.members[variants[rng.choice(others)]["file"]]
    expect = _exp(INVALID, SIGNED, SIGNED)
    members = _reseal(m, variant, data, manifest)
    return m.build(members), f"{variant}: {kind}, sha256 re-sealed" + (", re-signed" if m.resign else ""), expect


# -- signature mutators ------------------------------------------------------------------------------


def mut_signature(m: _Mutation):
    content = m.src.content()
    rng = m.rng
    if not m.src.signed:
        junk = rng.choice([b"{}", b"x", json.dumps({"format": "facelite-signature-v1"}).encode()])
        return write_zip([Entry(n, d) for n, d in content] + [Entry(SIGNATURE, junk)]), \
            "unsigned bundle given a junk signature.json", _every(INVALID)
    original = m.src.members[SIGNATURE]
    doc = json.loads(original)
    kind = rng.choice(["removed", "signature_flip", "public_key_flip", "untrusted_key", "not_json", "empty",
                       "array", "deep", "huge", "format", "algorithm", "key_id", "members_extra", "members_missing",
                       "noncanonical", "renamed", "first", "report_removed", "manifest_resealed",
                       "label_swap"])
    level, detail = SIGNED, kind  # refused by the signature check alone
    members: list[tuple[str, bytes]] = list(content)
    sig: bytes | None = original
    if kind == "removed":
        sig = None
    elif kind in ("signature_flip", "public_key_flip"):
        key = "signature" if kind == "signature_flip" else "public_key"
        raw = bytearray(base64.b64decode(doc[key]))
        raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        doc[key] = base64.b64encode(bytes(raw)).decode()
        sig = json.dumps(doc).encode()
    elif kind == "untrusted_key":
        sig = Signer(seed=rng.randbytes(32)).member(members)  # a valid signature by a key nobody trusts
    elif kind == "not_json":
        sig = original[: len(original) // 2]
    elif kind == "empty":
        sig = b""
    elif kind == "array":
        sig = b"[" + original + b"]"
    elif kind == "deep":
        sig = b"[" * 100000 + b"]" * 100000
    elif kind == "huge":  # still a valid signature, padded past every reader's cap
        sig, level = original.rstrip()[:-1] + b', "pad": "' + b"x" * (2 << 20) + b'"}', EITHER
    elif kind in ("format", "algorithm"):
        doc[kind] = rng.choice(["facelite-signature-v2", "rsa", "", None, 1])
        sig = json.dumps(doc).encode()
    elif kind == "key_id":
        doc["key_id"] = "0" * 16
        sig = json.dumps(doc).encode()
    elif kind in ("members_extra", "members_missing", "noncanonical") and m.signer is not None:
        signer = m.signer
        hashes = {n: sha256(d) for n, d in members}
        if kind == "members_extra":
            hashes["ghost.bin"] = "0" * 64
        elif kind == "members_missing":
            hashes.pop(rng.choice([n for n in hashes if n != MANIFEST]), None)
        signed = {"manifest_sha256": hashes[MANIFEST], "members": hashes}
        payload = json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()
        if kind == "noncanonical":
            payload = json.dumps(signed, sort_keys=True, indent=1).encode()
        new = signer.document(members, payload=payload)
        new["signed"] = signed
        sig = json.dumps(new).encode()
        detail = f"{kind} (signed by the trusted campaign key)"
    elif kind == "renamed":
        members.append(("Signature.json", original))
        sig = None
    elif kind == "first":
        return write_zip([Entry(SIGNATURE, original)] + [Entry(n, d) for n, d in content]), \
            "signature.json first instead of last", _every(VALID)
    elif kind == "report_removed":
        drop = REPORT if REPORT in dict(members) else m.src.golden_members()[-1]
        members = [(n, d) for n, d in members if n != drop]
        detail = f"{drop} removed after signing"
    elif kind == "manifest_resealed" or kind == "label_swap":
        manifest = m.manifest()
        if kind == "label_swap" and len(manifest.get("labels") or []) >= 2:
            manifest["labels"][0], manifest["labels"][1] = manifest["labels"][1], manifest["labels"][0]
            detail = "labels 0 and 1 swapped, signature kept"
        else:
            f32 = manifest["variants"].get("fp32") and "fp32" or next(iter(manifest["variants"]))
            data = zero_weights(m.src.members[manifest["variants"][f32]["file"]])
            manifest["variants"][f32].update(bytes=len(data), sha256=sha256(data))
            manifest.setdefault("verify", {})["tolerance"] = {f32: {"max_abs_err": 1e9}}
            members = [(n, data) if n == manifest["variants"][f32]["file"] else (n, d) for n, d in members]
            detail = f"{f32} weights zeroed, sha256 re-sealed, tolerance loosened, signature kept"
        members = [(n, manifest_bytes(manifest)) if n == MANIFEST else (n, d) for n, d in members]
    else:
        sig = None
        detail = "removed"
    entries = [Entry(n, d) for n, d in members] + ([Entry(SIGNATURE, sig)] if sig is not None else [])
    return write_zip(entries), f"signature: {detail}", _every(level)


# -- the catalogue ----------------------------------------------------------------------------------

BUNDLE_CATEGORIES: dict[str, Callable[[_Mutation], tuple[bytes, str, dict[str, str]]]] = {
    "identity": mut_identity,
    "rebuilt": mut_rebuilt,
    "flip_any": mut_flip_any,
    "flip_header": mut_flip_header,
    "truncate": mut_truncate,
    "garbage": mut_garbage,
    "duplicate_member": mut_duplicate,
    "rename_member": mut_rename,
    "extra_member": mut_extra_member,
    "method": mut_method,
    "flags": mut_flags,
    "compressed": mut_compressed,
    "zip_bomb": mut_zip_bomb,
    "manifest_type": mut_manifest_type,
    "manifest_missing": mut_manifest_missing,
    "manifest_range": mut_manifest_range,
    "manifest_json": mut_manifest_json,
    "manifest_labels": mut_manifest_labels,
    "manifest_tolerance": mut_manifest_tolerance,
    "manifest_semantic": mut_manifest_semantic,
    "golden_npy": mut_golden_npy,
    "tflite_flip": mut_tflite_flip,
    "tflite_struct": mut_tflite_struct,
    "tflite_tamper": mut_tflite_tamper,
    "signature": mut_signature,
}
"""Category → mutator. Each returns (bytes, recipe, per-command levels)."""

_WEIGHTS = {"flip_any": 3, "flip_header": 3, "manifest_range": 2, "manifest_json": 2, "golden_npy": 2,
            "tflite_struct": 2}
CYCLE = tuple(c for r in range(max(_WEIGHTS.values())) for c in BUNDLE_CATEGORIES if _WEIGHTS.get(c, 1) > r)
"""The order categories are drawn in (weighted, interleaved): mutant i has category CYCLE[i % len(CYCLE)]."""


def mutant_rng(seed: int, kind: str, index: int) -> random.Random:
    """The rng of one mutant: a function of (seed, kind, index) only."""
    return random.Random(f"{seed}/{kind}/{index}")


def plan(count: int, sources: list[BundleSource], only: tuple[str, ...] = ()) -> list[tuple[int, str, BundleSource]]:
    """(index, category, source) of the first `count` bundle mutants: categories interleaved,
    each category visiting every source in turn."""
    cycle = tuple(c for c in CYCLE if c in only) if only else CYCLE
    seen: dict[str, int] = {}
    out = []
    for i in range(count):
        category = cycle[i % len(cycle)]
        k = seen.get(category, 0)
        seen[category] = k + 1
        out.append((i, category, sources[k % len(sources)]))
    return out


def bundle_mutant(index: int, src: BundleSource, category: str, rng: random.Random,
                  signer: Signer | None = None) -> BundleMutant:
    """Mutant `index`: `category` applied to `src` with `rng` (see `mutant_rng`)."""
    m = _Mutation(src, rng, signer)
    data, detail, expect = BUNDLE_CATEGORIES[category](m)
    resigned = bool(m._resign)
    if data == src.data:  # the draw changed nothing (e.g. an input set to -1 that already was)
        detail, expect = f"{detail} (no byte changed)", _every(VALID)
    return BundleMutant(index, category, src.label, src.slot, detail, expect, resigned, data)


# -- bad images -------------------------------------------------------------------------------------


@dataclass
class ImageMutant:
    """One bad (or odd) image input of `facelite analyze`: bytes to write, or a file-system object."""

    index: int
    category: str
    detail: str
    level: str
    name: str
    data: bytes | None = None
    special: str | None = None   # fifo, dev_zero, link_dev_zero, link_urandom, dir, dir_with_fifo, loop,
                                 # dangling, sparse, socket
    sparse_bytes: int = 0

    def allowed(self, command: str, signatures: bool = False) -> frozenset[int]:
        return allowed_exits(self.level)

    def materialize(self, folder: Path) -> Path:
        """Create the input under `folder` (which must exist) and return the path to analyse."""
        path = folder / self.name
        if self.special is None:
            path.write_bytes(self.data or b"")
        elif self.special == "fifo":
            os.mkfifo(path)
        elif self.special == "dev_zero":
            return Path("/dev/zero")
        elif self.special == "link_dev_zero":
            path.symlink_to("/dev/zero")
        elif self.special == "link_urandom":
            path.symlink_to("/dev/urandom")
        elif self.special == "dir":
            path.mkdir()
        elif self.special == "dir_with_fifo":
            path.mkdir()
            os.mkfifo(path / "a.jpg")
        elif self.special == "loop":
            path.symlink_to(path.name)
        elif self.special == "dangling":
            path.symlink_to(folder / "no-such-file.jpg")
        elif self.special == "sparse":
            with open(path, "wb") as f:
                f.write(self.data or b"")
                f.truncate(self.sparse_bytes)
        elif self.special == "socket":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.bind(str(path))
            finally:
                s.close()
        return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_raw(width: int, height: int, depth: int = 8, color: int = 2, idat: bytes | None = None) -> bytes:
    """A PNG with this IHDR and `idat` (default: a tiny valid-looking zlib stream)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64) if idat is None else idat) + _png_chunk(b"IEND", b""))


def png_bomb(width: int, height: int) -> bytes:
    """A valid grey PNG of `width` × `height` zero pixels (a few KB compressed)."""
    row = b"\0" + bytes(width)
    c = zlib.compressobj(9)
    parts = [c.compress(row) for _ in range(height)]
    parts.append(c.flush())
    return png_raw(width, height, 8, 0, b"".join(parts))


def jpeg_raw(width: int, height: int, components: int = 3, adobe: int | None = None, sof: int = 0xC0,
             scan: bytes = b"\x00", eoi: bool = True) -> bytes:
    """A baseline JPEG whose every block is DC-only mid-grey, with one-code Huffman tables:
    a real decodable file (any component count, e.g. CMYK with an Adobe marker) or, with a
    huge size, a header that claims more than its data."""
    out = bytearray(b"\xff\xd8")
    if adobe is not None:
        app14 = b"Adobe" + struct.pack(">HHHB", 100, 0, 0, adobe)
        out += b"\xff\xee" + struct.pack(">H", len(app14) + 2) + app14
    out += b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + b"\x01" * 64
    comps = b"".join(bytes([i + 1, 0x11, 0]) for i in range(components))
    out += bytes([0xFF, sof]) + struct.pack(">HBHHB", 8 + 3 * components, 8, height, width, components) + comps
    for table in (0x00, 0x10):  # DC 0, AC 0: one code of length 1 for symbol 0 (DC diff 0 / end of block)
        body = bytes([table]) + bytes([1] + [0] * 15) + b"\x00"
        out += b"\xff\xc4" + struct.pack(">H", len(body) + 2) + body
    sos = bytes([components]) + b"".join(bytes([i + 1, 0x00]) for i in range(components)) + b"\x00\x3f\x00"
    out += b"\xff\xda" + struct.pack(">H", len(sos) + 2) + sos + scan
    if eoi:
        out += b"\xff\xd9"
    return bytes(out)


def cmyk_jpeg(width: int = 16, height: int = 16, transform: int = 0) -> bytes:
    """A decodable 4-component JPEG (Adobe transform 0: CMYK, 2: YCCK)."""
    blocks = ((width + 7) // 8) * ((height + 7) // 8) * 4
    scan = bytes((blocks * 2 + 7) // 8)  # two zero bits per block (DC diff 0, end of block), padded
    return jpeg_raw(width, height, 4, adobe=transform, scan=scan)


def _bmp(width: int, height: int, bpp: int = 24, data: bytes = b"\0" * 16) -> bytes:
    header = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bpp, 0, len(data), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(header) + len(data), 0, 0, 14 + len(header)) + header + data


def _gif(width: int, height: int, image_w: int | None = None, image_h: int | None = None) -> bytes:
    lsd = struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    desc = b"\x2c" + struct.pack("<HHHHB", 0, 0, image_w or width, image_h or height, 0)
    return b"GIF89a" + lsd + desc + b"\x02\x02\x44\x01\x00\x3b"


def _tiff(width: int, height: int, big_endian: bool = False, short: bool = False) -> bytes:
    e = ">" if big_endian else "<"
    dim = 3 if short else 4  # SHORT or LONG
    tags = [(256, dim, width), (257, dim, height), (258, 3, 8), (259, 3, 1), (262, 3, 1),
            (273, 4, 8 + 2 + 12 * 9 + 4), (277, 3, 1), (278, 4, height), (279, 4, 16)]
    ifd = struct.pack(e + "H", len(tags))
    for tag, typ, value in tags:
        packed = struct.pack(e + ("H" if typ == 3 else "I"), value)
        ifd += struct.pack(e + "HHI", tag, typ, 1) + packed.ljust(4, b"\0")
    head = (b"MM\x00*" if big_endian else b"II*\x00") + struct.pack(e + "I", 8)
    return head + ifd + struct.pack(e + "I", 0) + b"\0" * 16


def _webp(kind: str, width: int, height: int) -> bytes:
    if kind == "VP8X":
        chunk = b"VP8X" + struct.pack("<I", 10) + b"\0\0\0\0" + (width - 1).to_bytes(3, "little") + \
            (height - 1).to_bytes(3, "little")
    elif kind == "VP8L":
        bits = (width - 1) | ((height - 1) << 14)
        body = b"\x2f" + struct.pack("<I", bits) + b"\0" * 8
        chunk = b"VP8L" + struct.pack("<I", len(body)) + body
    else:
        body = b"\x10\x02\x00\x9d\x01\x2a" + struct.pack("<HH", width, height) + b"\0" * 8
        chunk = b"VP8 " + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def _huge_headers(rng: random.Random) -> list[tuple[str, str, bytes]]:
    """(name, what, bytes) of headers claiming far more pixels than the limit, in every format OpenCV reads."""
    big = rng.choice([60000, 65535, 100000])
    side = min(big, 65535)
    return [
        ("huge.png", f"PNG IHDR {big}x{big}", png_raw(big, big)),
        ("huge.jpg", f"JPEG SOF0 {side}x{side}", jpeg_raw(side, side)),
        ("huge.bmp", f"BMP {big}x-{big} (top-down)", _bmp(big, -big)),
        ("huge.gif", f"GIF screen and image {side}x{side}", _gif(side, side)),
        ("huge.tif", f"TIFF (LONG) {big}x{big}", _tiff(big, big)),
        ("huge_vp8x.webp", "WebP VP8X 16384x16384", _webp("VP8X", 16384, 16384)),
        ("huge.hdr", f"Radiance HDR -Y {big} +X {big}",
         b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y %d +X %d\n" % (big, big) + b"\x02\x02\x00\x10" * 64),
        ("huge.ppm", f"PPM P6 {big}x{big}", b"P6\n%d %d\n255\n" % (big, big) + bytes(300)),
        ("huge.pgm", f"PGM P5 {big}x{big}", b"P5\n%d %d\n65535\n" % (big, big) + bytes(300)),
        ("huge.pfm", f"PFM {big}x{big}", b"PF\n%d %d\n-1.0\n" % (big, big) + bytes(300)),
        ("huge.ras", f"Sun raster {big}x{big}",
         struct.pack(">8I", 0x59A66A95, big, big, 24, big * big * 3 & 0xFFFFFFFF, 1, 0, 0) + bytes(300)),
        ("huge16.png", f"16-bit PNG IHDR {big}x{big}", png_raw(big, big, 16, 6)),
        ("huge_progressive.jpg", f"JPEG SOF2 {side}x{side}", jpeg_raw(side, side, sof=0xC2)),
        ("huge_vp8l.webp", "WebP VP8L 16384x16384", _webp("VP8L", 16384, 16384)),
        ("huge_up.bmp", f"BMP {big}x{big}", _bmp(big, big)),
        ("huge_frame.gif", f"GIF 1x1 screen, {side}x{side} image", _gif(1, 1, side, side)),
        ("huge_mm.tif", f"big-endian TIFF (SHORT) {side}x{side}", _tiff(side, side, True, True)),
        ("huge_vp8.webp", "WebP VP8 16383x16383", _webp("VP8 ", 16383, 16383)),
        ("huge_flat.hdr", f"Radiance HDR +Y {big} -X {big}, flat data",
         b"#?RGBE\nFORMAT=32-bit_rle_rgbe\n\n+Y %d -X %d\n" % (big, big) + bytes(4096)),
        ("huge.pbm", f"PBM P4 {big}x{big}", b"P4\n%d %d\n" % (big, big) + bytes(300)),
        ("huge_ascii.pgm", f"PGM P2 {big}x{big}", b"P2\n%d %d\n255\n" % (big, big) + b"0 " * 100),
        ("huge.pam", f"PAM P7 {big}x{big}",
         b"P7\nWIDTH %d\nHEIGHT %d\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n" % (big, big) + bytes(300)),
        ("huge.jp2", f"JPEG 2000 ihdr {big}x{big}",
         bytes.fromhex("0000000c6a5020200d0a870a") + bytes.fromhex("00000014667479706a703220000000006a703220")
         + struct.pack(">I", 45) + b"jp2h" + struct.pack(">I", 22) + b"ihdr"
         + struct.pack(">IIHBBBB", big, big, 3, 7, 7, 0, 0) + struct.pack(">I", 15) + b"colr" + b"\x01\0\0"
         + struct.pack(">I", 16) + bytes(300)),
        ("huge.exr", f"OpenEXR dataWindow {big}x{big}",
         b"\x76\x2f\x31\x01\x02\x00\x00\x00" + b"dataWindow\0box2i\0" + struct.pack("<I4i", 16, 0, 0, big - 1, big - 1)
         + b"displayWindow\0box2i\0" + struct.pack("<I4i", 16, 0, 0, big - 1, big - 1) + b"\0" + bytes(64)),
    ]


def _encode(ext: str, image: np.ndarray, params: tuple = ()) -> bytes:
    import cv2

    ok, buf = cv2.imencode(ext, image, list(params))
    if not ok:
        raise RuntimeError(f"cv2.imencode({ext}) failed for {image.shape} {image.dtype}")
    return buf.tobytes()


def _exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    tiff = b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1,
                                                                                     orientation, 0) + b"\0\0\0\0"
    app1 = b"Exif\0\0" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]


def _photo_like(rng: random.Random, h: int = 64, w: int = 48) -> np.ndarray:
    return np.clip(rng.randrange(40, 200) + np.random.default_rng(rng.randrange(2**32)).normal(0, 30, (h, w, 3)),
                   0, 255).astype(np.uint8)


def _valid_images(rng: random.Random) -> list[tuple[str, str, Callable[[], bytes], str]]:
    """(name, what, maker of the bytes, level) of odd but decodable images (OpenCV encodes them)."""
    img = _photo_like(rng)
    n = rng.choice([10000, 40000, 65000])
    grey = functools.partial(np.full, dtype=np.uint8)
    return [
        ("thin_1xN.png", f"1x{n} PNG", lambda: _encode(".png", grey((1, n, 3), 128)), EITHER),
        ("thin_Nx1.png", f"{n}x1 PNG", lambda: _encode(".png", grey((n, 1, 3), 128)), EITHER),
        ("rgb16.png", "16-bit RGB PNG", lambda: _encode(".png", img.astype(np.uint16) * 257), EITHER),
        ("rgba.png", "RGBA PNG", lambda: _encode(".png", np.dstack([img, grey(img.shape[:2], 7)])), EITHER),
        ("cmyk.jpg", "CMYK JPEG (Adobe transform 0)", lambda: cmyk_jpeg(64, 16, 0), EITHER),
        ("gray16.png", "16-bit grey PNG", lambda: _encode(".png", img[..., 0].astype(np.uint16) * 257), EITHER),
        ("thin_2xN.jpg", f"2x{n} JPEG", lambda: _encode(".jpg", grey((2, n, 3), 90)), EITHER),
        ("exif_rotated.jpg", "JPEG with EXIF orientation 6", lambda: _exif_orientation(_encode(".jpg", img), 6),
         EITHER),
        ("big_valid.png", "7000x7000 grey PNG (49 MP, under the limit)", lambda: png_bomb(7000, 7000), EITHER),
        ("over_limit.png", "7072x7072 grey PNG (just over 50 MP)", lambda: png_bomb(7072, 7072), INVALID),
        ("ycck.jpg", "YCCK JPEG (Adobe transform 2)", lambda: cmyk_jpeg(16, 16, 2), EITHER),
        ("thin_8xN.bmp", "8x20000 BMP", lambda: _encode(".bmp", grey((8, 20000, 3), 90)), EITHER),
        ("tiny_1x1.png", "1x1 PNG", lambda: _encode(".png", grey((1, 1, 3), 0)), EITHER),
        ("tiny_2x3.jpg", "3x2 JPEG", lambda: _encode(".jpg", grey((3, 2, 3), 0)), EITHER),
        ("gray.jpg", "greyscale JPEG", lambda: _encode(".jpg", np.ascontiguousarray(img[..., 0])), EITHER),
        ("progressive.jpg", "progressive JPEG", lambda: _encode(".jpg", img, (1, 95, 2, 1)), EITHER),
        ("exif_bad_orientation.jpg", "JPEG with EXIF orientation 200",
         lambda: _exif_orientation(_encode(".jpg", img), 200), EITHER),
        ("float32.tif", "32-bit float TIFF", lambda: _encode(".tiff", img.astype(np.float32) / 255.0), EITHER),
        ("uint16.tif", "16-bit TIFF", lambda: _encode(".tiff", img.astype(np.uint16) * 257), EITHER),
        ("small.webp", "WebP", lambda: _encode(".webp", img), EITHER),
        ("small.ppm", "PPM", lambda: _encode(".ppm", img), EITHER),
        ("small.hdr", "Radiance HDR", lambda: _encode(".hdr", img.astype(np.float32) / 255.0), EITHER),
        ("small.pfm", "PFM", lambda: _encode(".pfm", img.astype(np.float32) / 255.0), EITHER),
        ("small.gif", "1x1 GIF", lambda: _gif(1, 1), EITHER),
        ("jpeg_named.png", "a JPEG named .png", lambda: _encode(".jpg", img), EITHER),
        ("limit.png", "7071x7071 grey PNG (just under 50 MP)", lambda: png_bomb(7071, 7071), EITHER),
    ]


def _broken_images(rng: random.Random) -> list[tuple[str, str, Callable[[], bytes], str]]:
    """(name, what, maker of the bytes, level) of inputs that are not decodable images."""
    img = _photo_like(rng)
    cut = rng.uniform(0.2, 0.9)
    junk = rng.randbytes(1 << 20)

    def encoded(ext: str, transform: Callable[[bytes], bytes]) -> Callable[[], bytes]:
        return lambda: transform(_encode(ext, img))

    def cut_at(data: bytes) -> bytes:
        return data[: int(len(data) * cut)]

    return [
        ("truncated.jpg", f"JPEG cut at {cut:.0%}", encoded(".jpg", cut_at), INVALID),
        ("truncated.png", f"PNG cut at {cut:.0%}", encoded(".png", cut_at), INVALID),
        ("bad_magic.png", "PNG with its signature's first byte changed", encoded(".png", lambda d: b"\x88" + d[1:]),
         INVALID),
        ("empty.jpg", "zero bytes", lambda: b"", INVALID),
        ("random.png", "4 KB random bytes", lambda: junk[:4096], INVALID),
        ("bad_soi.jpg", "JPEG without its start marker", encoded(".jpg", lambda d: b"\0\0" + d[2:]), INVALID),
        ("png_chunk_len.png", "PNG IDAT length 0x7fffffff",
         encoded(".png", lambda d: d[:33] + struct.pack(">I", 0x7FFFFFFF) + d[37:]), INVALID),
        ("header_only.jpg", "JPEG headers, no scan", encoded(".jpg", lambda d: d[:200]), INVALID),
        ("random_small.jpg", "16 random bytes", lambda: junk[:16], INVALID),
        ("text.jpg", "a text file", lambda: b"hello, this is not an image\n" * 10, INVALID),
        ("lying_ihdr.png", "PNG 7000x7000 IHDR with a 64-byte IDAT", lambda: png_raw(7000, 7000, 8, 0), INVALID),
        ("one_byte.png", "one byte", lambda: b"\x89", INVALID),
        ("zero_width.png", "PNG IHDR 0x100", lambda: png_raw(0, 100), INVALID),
        ("gif_magic.png", "GIF magic on PNG data", encoded(".png", lambda d: b"GIF89a" + d[6:]), INVALID),
        ("bundle.jpg", "a zip (bundle) named .jpg", lambda: write_zip([Entry("manifest.json", b"{}")]), INVALID),
        ("truncated.webp", f"WebP cut at {cut:.0%}", encoded(".webp", cut_at), EITHER),
        ("truncated.tif", f"TIFF cut at {cut:.0%}", encoded(".tiff", cut_at), EITHER),
        ("truncated.bmp", f"BMP cut at {cut:.0%}", encoded(".bmp", cut_at), EITHER),
        ("no_eoi.jpg", "JPEG without its end marker", encoded(".jpg", lambda d: d[:-2]), EITHER),
        ("crc.png", "PNG with a corrupted IDAT", encoded(".png", lambda d: d[:60] + bytes(64) + d[124:]), EITHER),
        ("magic_only.png", "the PNG signature only", lambda: b"\x89PNG\r\n\x1a\n", INVALID),
        ("soi_eoi.jpg", "JPEG start and end markers only", lambda: b"\xff\xd8\xff\xd9", INVALID),
        ("random_big.jpg", "1 MB random bytes after a JPEG start marker", lambda: b"\xff\xd8" + junk, INVALID),
        ("page.png", "HTML", lambda: b"<!doctype html><html><body><img src=x></body></html>", INVALID),
        ("doc.jpg", "a PDF header", lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", INVALID),
        ("vector.png", "SVG", lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="9e9" height="9e9"/>', INVALID),
        ("zero_height.jpg", "JPEG SOF 100x0", lambda: jpeg_raw(100, 0), INVALID),
        ("bad_depth.png", "PNG bit depth 7", lambda: png_raw(10, 10, 7, 2), INVALID),
        ("negative.bmp", "BMP width -5", lambda: _bmp(-5, 5), INVALID),
        ("bmp_bpp.bmp", "BMP 99 bits per pixel", lambda: _bmp(10, 10, 99), INVALID),
    ]


def _videos(rng: random.Random) -> list[tuple[str, str, Callable[[], bytes], str]]:
    """(name, what, maker of the bytes, level) of bad and odd videos (OpenCV writes the real ones)."""
    noise = rng.randbytes(rng.choice([100, 65536]))
    seed = rng.randrange(256)
    return [
        ("random.mp4", "a .mp4 of random bytes", lambda: noise, INVALID),
        ("empty.avi", "an empty .avi", lambda: b"", INVALID),
        ("text.mov", "a text file named .mov", lambda: b"not a video\n" * 100, INVALID),
        ("huge_frame.avi", "MJPG video with an 8000x7000 frame (56 MP)", lambda: make_video("huge_frame", seed),
         INVALID),
        ("small.avi", "MJPG video, 3 frames of 64x48", lambda: make_video("small", seed), EITHER),
        ("truncated.avi", "MJPG video cut in half", lambda: make_video("truncated", seed), EITHER),
    ]


_SPECIALS = (
    ("fifo.jpg", "a FIFO named .jpg", "fifo"),
    ("/dev/zero", "/dev/zero", "dev_zero"),
    ("zero.jpg", "a symlink .jpg → /dev/zero", "link_dev_zero"),
    ("urandom.png", "a symlink .png → /dev/urandom", "link_urandom"),
    ("folder.jpg", "an empty directory named .jpg", "dir"),
    ("photos", "a folder holding a FIFO a.jpg", "dir_with_fifo"),
    ("loop.jpg", "a symlink to itself", "loop"),
    ("dangling.jpg", "a dangling symlink", "dangling"),
    ("sparse.jpg", "a valid JPEG padded to a 2 GiB sparse file", "sparse"),
    ("socket.png", "a Unix socket named .png", "socket"),
)

IMAGE_CYCLE = ("huge_header", "broken", "odd_valid", "huge_header", "broken", "special", "odd_valid", "video",
               "huge_header", "broken")
"""Bad image i has category IMAGE_CYCLE[i % len(IMAGE_CYCLE)]."""


def image_mutant(index: int, seed: int) -> ImageMutant:
    """Bad image number `index` of `seed`. Encoding the decodable ones needs OpenCV: call this
    in a process that will not fork the runtime afterwards (benchmarks/fuzz.py uses a child)."""
    rng = mutant_rng(seed, "image", index)
    category = IMAGE_CYCLE[index % len(IMAGE_CYCLE)]
    ordinal = sum(1 for j in range(index) if IMAGE_CYCLE[j % len(IMAGE_CYCLE)] == category)
    if category == "huge_header":
        options = _huge_headers(rng)
        name, what, data = options[ordinal % len(options)]
        return ImageMutant(index, category, what, INVALID, name, data)
    if category == "special":
        name, what, special = _SPECIALS[ordinal % len(_SPECIALS)]
        data = _encode(".jpg", _photo_like(rng)) if special == "sparse" else None
        return ImageMutant(index, category, what, INVALID, name, data, special, sparse_bytes=2 << 30)
    options = {"broken": _broken_images, "odd_valid": _valid_images, "video": _videos}[category](rng)
    name, what, make, level = options[ordinal % len(options)]
    return ImageMutant(index, category, what, level, name, make())


def make_video(kind: str, seed: int) -> bytes:
    """MJPG .avi bytes: `small` (3 frames 64x48), `huge_frame` (one 8000x7000 frame), `truncated`."""
    import tempfile

    import cv2

    w, h, frames = (8000, 7000, 1) if kind == "huge_frame" else (64, 48, 3)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "v.avi")
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 5, (w, h))
        for i in range(frames):
            writer.write(np.full((h, w, 3), (seed + 40 * i) % 256, np.uint8))
        writer.release()
        data = Path(path).read_bytes()
    return data[: len(data) // 2] if kind == "truncated" else data


# -- the campaign, as the suite runs it ------------------------------------------------------------


def campaign_document(checkout: Path, script: str, *args: str, timeout_s: float = 1800) -> dict:
    """`benchmarks/SCRIPT ARGS --json` (a fuzz campaign) in a fresh interpreter, and its JSON document.

    A fresh process because the campaigns fork or spawn one child per run, and forking the
    pytest process is not safe: earlier tests may have left LiteRT or OpenCV threads running.
    """
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, str(checkout / "benchmarks" / script), *args, "--json"],
                          capture_output=True, text=True, timeout=timeout_s, cwd=checkout, check=False)
    if not proc.stdout.strip():
        raise AssertionError(f"benchmarks/{script} printed nothing (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def run_campaign(checkout: Path, *args: str, timeout_s: float = 30, max_mb: float = 500) -> dict:
    """`benchmarks/fuzz.py ARGS` with a time and memory limit per run, and its JSON document."""
    return campaign_document(checkout, "fuzz.py", *args, "--timeout", str(timeout_s), "--max-mb", str(max_mb))


def failing(campaign: dict, *marks: str) -> list[dict]:
    """A campaign's failures (runs or cases) with a problem that mentions one of `marks`."""
    return [f for f in campaign["failures"] if any(m in p for p in f["problems"] for m in marks)]


def describe_failures(failures: list[dict], limit: int = 12) -> str:
    """A campaign's failing runs, one paragraph each, with the command that reproduces it."""
    lines = [f"{len(failures)} failing runs; first {min(limit, len(failures))}:"]
    for f in failures[:limit]:
        lines.append(f"- {f['case']} {f['category']} ({f['source']}, {f['level']}"
                     f"{', re-signed' if f['resigned'] else ''}) {f['command']}: {'; '.join(f['problems'])}\n"
                     f"    {f['detail']}\n    {f['error']}\n    {f['reproduce']}")
    return "\n".join(lines)
