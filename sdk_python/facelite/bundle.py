"""The facelite bundle: one zip holding a model's variants, manifest and goldens.

Every layer (toolchain, runtime, bench, bindings) reads and writes bundles through
this module only. Members are *stored* (no compression) at 4-byte-aligned data
offsets, so a phone can mmap the file and hand a variant's bytes straight to LiteRT.

A bundle may come from anyone, so reading it is defensive: regular files only, sizes
capped (`MAX_BUNDLE_BYTES`, `member_size_cap`), the zip directory parsed here rather than
by `zipfile` and refused at the first oddity (compressed, encrypted, duplicate or
path-like members, headers that disagree: `read_directory`), the manifest parsed as
strict JSON and validated by its schema, `.npy` goldens checked from their header before
any array exists (`read_npy`). Whatever is wrong, the caller gets a BundleError (exit 2)
naming the file and the problem, never an OSError or a RecursionError, and nothing is
ever inflated, so a zip bomb costs nothing.

Example:

    >>> from facelite.bundle import Bundle
    >>> b = Bundle.open("models/expression/expression.flb")   # doctest: +SKIP
    >>> b.manifest["labels"][:2], sorted(b.variants)           # doctest: +SKIP
    (['angry', 'disgust'], ['dynamic', 'fp16', 'fp32', 'int8'])
    >>> tflite_bytes = b.variant_bytes("int8")   # sha256-checked   # doctest: +SKIP
"""

from __future__ import annotations

import copy
import hashlib
import io
import itertools
import json
import math
import mmap
import os
import re
import struct
import tokenize
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from numpy.lib import format as npy_format

from .errors import BundleError
from .files import atomic_writer, open_regular_file
from .preprocess import InputSpec, normalize
from .schema import SCHEMA_FILES, manifest_schema, schema_errors
from .strict_json import loads as strict_loads

SCHEMA_VERSION = 1
ALIGNMENT = 4
MANIFEST = "manifest.json"
REPORT = "report.json"
GOLDEN_INPUTS = "golden/inputs.npy"
GOLDEN_OUTPUTS = "golden/fp32_outputs.npy"


def golden_variant_outputs(variant: str) -> str:
    """Member holding what the reference runtime computed with `variant` on the goldens."""
    return f"golden/{variant}_outputs.npy"


# The manifest's vocabulary, read from its schema file (facelite/manifest.v1.schema.json),
# the one place it is written down for Python and the bindings alike.
_SCHEMA = manifest_schema(SCHEMA_VERSION)["properties"]
TASKS = tuple(_SCHEMA["task"]["enum"])
VARIANT_NAMES = tuple(manifest_schema(SCHEMA_VERSION)["$defs"]["variant_name"]["enum"])
"""Variant names, in order of fidelity (fp32 first)."""
TARGETS = tuple(_SCHEMA["variants"]["additionalProperties"]["properties"]["target"]["enum"])
OUTPUT_KINDS = tuple(_SCHEMA["output"]["properties"]["kind"]["enum"])
GRADE_DECISIONS = tuple(_SCHEMA["output"]["properties"]["grade_decision"]["enum"])
"""`output.grade_decision` values, the default (argmax) first (`facelite.acne.grade_index`)."""
GOLDEN_DOMAINS = tuple(_SCHEMA["golden"]["properties"]["input_domain"]["enum"])

# Zip extra-field id for alignment padding (the one Android's zipalign uses).
_PAD_EXTRA_ID = 0xD935
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")

# -- what a reader accepts ------------------------------------------------------------------
# A bundle may come from anyone (a download, an upload to the bench server), so the reader
# bounds everything before it reads or allocates: the file, each member, the member count,
# the manifest's nesting. The shipped bundles are 2-3 MB with members of at most 1.3 MB.

MAX_BUNDLE_BYTES = 512 * 2**20
"""Largest bundle file `Bundle.open` reads (512 MiB); a variant may be at most this large too."""
MAX_MEMBERS = 64
"""Most members a bundle may hold (four variants, five goldens, manifest, report, signature: 12)."""
MAX_MANIFEST_BYTES = 2**20
"""Largest `manifest.json` (1 MiB; the shipped ones are 6 KB)."""
MAX_REPORT_BYTES = 4 * 2**20
"""Largest `report.json` (4 MiB)."""
MAX_NPY_BYTES = 64 * 2**20
"""Largest golden `.npy` member (64 MiB)."""
MAX_OTHER_MEMBER_BYTES = 2**20
"""Largest member of any other name (1 MiB): room for a signature, not for a payload."""
NPY_DTYPES = ("|u1", "|i1", "<i2", "<i4", "<f2", "<f4", "<f8")
"""The `.npy` element types a golden member may hold (little-endian numbers; never objects)."""
MAX_NPY_DIMS = 8
"""Most dimensions a golden `.npy` array may have (goldens are (N, H, W, C) or (N, K))."""
_NPY_MAX_HEADER = 4096  # numpy writes 128 bytes for a golden array

_EOCD = struct.Struct("<4sHHHHIIH")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_EOCD_SIG, _CENTRAL_SIG, _LOCAL_SIG = b"PK\x05\x06", b"PK\x01\x02", b"PK\x03\x04"
_ZIP64_LOCATOR_SIG = b"PK\x06\x07"
_FLAG_ENCRYPTED, _FLAG_UTF8 = 0x0001, 0x0800
_MEMBER_NAME = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")
_METHODS = {8: "deflate", 9: "deflate64", 12: "bzip2", 14: "lzma", 93: "zstandard", 95: "xz", 99: "AES encryption"}
_READ_ERRORS = (OSError, ValueError, struct.error, RecursionError, UnicodeDecodeError, MemoryError,
                OverflowError, EOFError, zipfile.BadZipFile)
"""What reading a hostile file can raise below us; `Bundle` turns each into a BundleError."""


def member_size_cap(name: str) -> int:
    """The most bytes member `name` may hold (see the `MAX_*_BYTES` constants)."""
    if name == MANIFEST:
        return MAX_MANIFEST_BYTES
    if name == REPORT:
        return MAX_REPORT_BYTES
    if name.endswith(".npy"):
        return MAX_NPY_BYTES
    if name.endswith(".tflite"):
        return MAX_BUNDLE_BYTES
    return MAX_OTHER_MEMBER_BYTES


@dataclass(frozen=True)
class Measured:
    """What the build measured for one variant (the manifest's `variants.<name>.measured`):
    its median invoke latency on `accelerator` with `threads` CPU threads (batch 1, every
    variant of the bundle interleaved in one run on `host`) and its `agreement` with the
    fp32 model (the fraction of validation samples with fp32's answer; None where the
    task has no such notion). `facelite.engine.choose_variant` picks from these."""

    accelerator: str
    latency_ms: float
    agreement: float | None
    threads: int
    repeats: int
    host: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_manifest(cls, entry: Mapping[str, Any] | None) -> "Measured | None":
        if not entry:
            return None
        agreement = entry.get("agreement")
        return cls(accelerator=entry["accelerator"], latency_ms=float(entry["latency_ms"]),
                   agreement=None if agreement is None else float(agreement), threads=int(entry["threads"]),
                   repeats=int(entry["repeats"]), host=dict(entry.get("host", {})))


@dataclass(frozen=True)
class Variant:
    """One `.tflite` member of a bundle, as the manifest describes it."""

    name: str
    file: str
    bytes: int
    sha256: str
    target: str
    input_dtype: str
    output_dtype: str
    sparsity: float
    compatibility: dict[str, Any] = field(default_factory=dict)
    measured: Measured | None = None

    def compatible_with(self, accelerator: str) -> bool:
        """True when the build's gate found every op supported on `accelerator`."""
        if accelerator == "cpu":
            return True
        return bool(self.compatibility.get(accelerator, {}).get("ok", False))


def sha256_bytes(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def validate_manifest(manifest: Mapping[str, Any], where: str = MANIFEST) -> None:
    """Raise BundleError naming the first field of `manifest` that breaks its schema.

    `schema_version` picks the schema file (`facelite.schema.SCHEMA_FILES`), so bundles
    of every version this facelite knows keep reading. After the schema come the
    cross-field rules JSON Schema cannot state (the schema's description lists them for
    the bindings; the ones that need the model are `facelite.tasks.require_engine`'s). The message names the JSON path, e.g.
    `manifest.json: input.std[1]: must be > 0, got 0`.
    """

    def fail(msg: str) -> None:
        raise BundleError(f"{where}: {msg}")

    if not isinstance(manifest, Mapping):
        fail(f"is not a JSON object (got {type(manifest).__name__})")
    version = manifest.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, (int, float)) or version not in SCHEMA_FILES:
        shown = json.dumps(version, separators=(",", ":")) if isinstance(version, (list, dict)) else repr(version)
        fail(
            f"schema_version {shown} is not supported (this facelite reads "
            f"{', '.join(map(str, SCHEMA_FILES))}); rebuild the bundle or upgrade facelite"
        )
    errors = schema_errors(manifest, manifest_schema(int(version)))
    if errors:
        fail(errors[0] + (f" (and {len(errors) - 1} more problem{'s' * (len(errors) > 2)})" if len(errors) > 1 else ""))
    spec = manifest["input"]
    channels = spec["shape"][3]
    extra = len(spec.get("extra_channels", ()))
    wanted = (1 if spec["color"] == "gray" else 3) + extra
    if channels != wanted:
        fail(f"input.shape[3]: color '{spec['color']}'{f' with {extra} extra_channels' if extra else ''} gives "
             f"{wanted} channel{'s' * (wanted > 1)}, got {channels}")
    for key in ("mean", "std"):
        if len(spec[key]) != channels:
            fail(f"input.{key}: needs {channels} values, one per channel of input.shape, got {len(spec[key])}")
    stray = sorted(set(manifest.get("golden", {}).get("variant_outputs", {})) - set(manifest["variants"]))
    if stray:
        fail(f"golden.variant_outputs: names variants the bundle does not hold: {stray}")


def _aligned_zipinfo(name: str, offset: int) -> zipfile.ZipInfo:
    """A stored ZipInfo whose data will start at a multiple of ALIGNMENT."""
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    fixed = offset + _LOCAL_HEADER.size + len(name.encode("utf-8")) + 4
    pad = (-fixed) % ALIGNMENT
    info.extra = struct.pack("<HH", _PAD_EXTRA_ID, pad) + b"\0" * pad
    return info


def _golden_members(path: Path, members: list[tuple[str, bytes]], inputs: np.ndarray,
                    outputs: np.ndarray | None, variant_outputs: Mapping[str, np.ndarray],
                    variants: set[str]) -> dict[str, Any]:
    """Append the golden members and return the manifest's `golden` block."""
    inputs = np.asarray(inputs)
    if inputs.dtype == np.uint8:
        domain = "pixels"
    elif np.issubdtype(inputs.dtype, np.floating):
        domain, inputs = "normalized", inputs.astype(np.float32)
    else:
        raise BundleError(f"{path}: golden inputs must be uint8 pixels or float tensors, not {inputs.dtype}")
    if outputs is None:
        raise BundleError(f"{path}: golden inputs given without the fp32 outputs")
    named = {GOLDEN_INPUTS: inputs, GOLDEN_OUTPUTS: outputs}
    per_variant = {}
    for v, out in sorted(variant_outputs.items()):
        if v not in variants:
            raise BundleError(f"{path}: golden outputs for '{v}', which the bundle does not hold")
        if v != "fp32":
            per_variant[v] = golden_variant_outputs(v)
            named[per_variant[v]] = out
    sha = {}
    for member, array in named.items():
        if member != GOLDEN_INPUTS and len(array) != len(inputs):
            raise BundleError(f"{path}: {member} has {len(array)} rows for {len(inputs)} golden inputs")
        data = npy_bytes(array)
        members.append((member, data))
        sha[member] = sha256_bytes(data)
    block: dict[str, Any] = {"inputs": GOLDEN_INPUTS, "input_domain": domain, "outputs": GOLDEN_OUTPUTS,
                             "count": int(inputs.shape[0]), "sha256": sha}
    if per_variant:
        block["variant_outputs"] = per_variant
    return block


def write_bundle(
    path: str | os.PathLike,
    manifest: Mapping[str, Any],
    variants: Mapping[str, bytes],
    golden_inputs: np.ndarray | None = None,
    golden_outputs: np.ndarray | None = None,
    report: Mapping[str, Any] | None = None,
    variant_outputs: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Write a bundle atomically and return its path.

    Goldens: `golden_inputs` are either uint8 *pixels* (resized/cropped, before the
    manifest's normalisation: a quarter of the bytes, and a binding replays its own
    normalisation on them) or float32 normalised tensors; `golden_outputs` are the
    trained (Keras) model's outputs; `variant_outputs[v]` what the reference runtime
    computed with variant `v`, so each variant can be checked for exact parity on its own
    (an int8 model on a phone must match the int8 reference, not the float model).

    `manifest["variants"][name]` must describe each entry of `variants` (target,
    dtypes, sparsity, compatibility); `file`, `bytes` and `sha256` are filled in here
    from the bytes themselves so they cannot disagree. The zip is written to a temp
    file beside `path` and renamed only once complete, so an interrupted build never
    leaves a finished-looking bundle.
    """
    path = Path(path)
    manifest = copy.deepcopy(dict(manifest))
    manifest.setdefault("schema_version", SCHEMA_VERSION)
    members: list[tuple[str, bytes]] = []
    for name, data in variants.items():
        entry = manifest["variants"].setdefault(name, {})
        entry["file"] = f"{name}.tflite"
        entry["bytes"] = len(data)
        entry["sha256"] = sha256_bytes(data)
        members.append((entry["file"], bytes(data)))
    unknown = set(manifest["variants"]) - set(variants)
    if unknown:
        raise BundleError(f"{path}: manifest names variants with no file: {sorted(unknown)}")
    if golden_inputs is not None:
        manifest["golden"] = _golden_members(path, members, golden_inputs, golden_outputs,
                                             variant_outputs or {}, set(variants))
    if report is not None:
        members.append((REPORT, json.dumps(report, indent=2, sort_keys=True).encode()))
    members.insert(0, (MANIFEST, manifest_bytes(manifest, where=f"{path}:{MANIFEST}")))
    return write_members(path, members)


def manifest_bytes(manifest: Mapping[str, Any], where: str = MANIFEST) -> bytes:
    """`manifest` validated (`validate_manifest`) and serialised as every writer stores it."""
    validate_manifest(manifest, where=where)
    return json.dumps(manifest, indent=2, allow_nan=False).encode()


def write_members(path: str | os.PathLike, members: list[tuple[str, bytes]]) -> Path:
    """Write `members` (name, bytes), in order, as the bundle's aligned stored zip, atomically.

    The container half of `write_bundle`, for writers that already hold finished members:
    `facelite.signing` appends `signature.json` to a bundle this way, and every member
    written before it keeps its bytes and its offset.
    """
    path = Path(path)
    with atomic_writer(path, 0o644, BundleError) as raw:  # a bundle is meant to be shared
        with zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED) as zf:
            for name, data in members:
                zf.writestr(_aligned_zipinfo(name, raw.tell()), data)
    return path


def load_manifest_json(data: bytes | memoryview, where: str) -> Any:
    """A manifest-like member's bytes → its JSON value, strictly (`facelite.strict_json.loads`:
    UTF-8, finite numbers, no repeated key, bounded nesting), or a BundleError naming `where`."""
    try:
        return strict_loads(data)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError included
        raise BundleError(f"{where}: unreadable JSON ({exc})") from None


def read_npy(data: bytes | memoryview, where: str) -> np.ndarray:
    """A `.npy` member's bytes → a writable array, checked before anything is allocated.

    The header is parsed first (numpy's own reader, versions 1 and 2) and must describe a
    C-ordered array of an `NPY_DTYPES` type whose size is exactly the bytes that follow,
    at most `MAX_NPY_DIMS` dimensions; only then are the bytes copied out. Nothing is
    unpickled: object arrays are refused by the type check (the effect of
    `allow_pickle=False`, decided from the header alone).
    """
    view = memoryview(data).cast("B")
    head = io.BytesIO(bytes(view[: _NPY_MAX_HEADER + 12]))  # magic, version, length, header
    try:
        version = npy_format.read_magic(head)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"format version {version[0]}.{version[1]} (facelite reads 1.0 and 2.0)")
        read_header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        shape, fortran_order, dtype = read_header(head, max_header_size=_NPY_MAX_HEADER)
    except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError, OverflowError, EOFError,
            tokenize.TokenError) as exc:  # numpy tokenizes the header's Python literal
        raise BundleError(f"{where}: not a readable .npy header ({' '.join(str(exc).split())[:200]})") from None
    if dtype.str not in NPY_DTYPES:
        raise BundleError(f"{where}: holds {dtype} elements; a golden array holds one of {', '.join(NPY_DTYPES)} "
                          "(never Python objects)")
    if fortran_order:
        raise BundleError(f"{where}: is stored in Fortran order; goldens are C-ordered")
    if len(shape) > MAX_NPY_DIMS or any(not isinstance(d, int) or d < 0 for d in shape):
        raise BundleError(f"{where}: header shape {shape} is not a shape of at most {MAX_NPY_DIMS} dimensions")
    payload = len(view) - head.tell()
    needed = math.prod(shape) * dtype.itemsize
    if needed != payload:
        raise BundleError(f"{where}: header says shape {shape} of {dtype} ({needed} bytes), "
                          f"the member holds {payload}; the bundle is damaged")
    return np.frombuffer(view, dtype, math.prod(shape), head.tell()).reshape(shape).copy()


@dataclass(frozen=True)
class Member:
    """One stored member of a bundle's zip: where its bytes are and what the directory says of them."""

    name: str
    header_offset: int
    offset: int
    """Offset of the member's bytes in the file (what a phone would mmap)."""
    size: int
    crc32: int


def _find_end_record(mm: mmap.mmap, where: Path) -> int:
    """Offset of the end-of-central-directory record: the last one whose comment length
    reaches exactly to the end of the file."""
    size = len(mm)
    low = max(0, size - _EOCD.size - 0xFFFF)
    pos = mm.rfind(_EOCD_SIG, low)
    while pos >= 0:
        if pos + _EOCD.size <= size and _EOCD.unpack_from(mm, pos)[7] == size - pos - _EOCD.size:
            return pos
        pos = mm.rfind(_EOCD_SIG, low, pos)
    raise BundleError(f"{where}: not a facelite bundle (not a zip: no end-of-central-directory record)")


def read_directory(mm: mmap.mmap, where: Path) -> dict[str, Member]:
    """The members of the stored zip in `mm`, every rule of a bundle checked.

    One disk, no zip64, at most `MAX_MEMBERS` members; each member stored (never
    compressed, so nothing is ever inflated), unencrypted, under a plain relative name
    (`_member_name`) no other member has, within `member_size_cap`; its local header agrees with
    the central directory (name, flags, method, CRC, sizes), its bytes lie before the
    central directory and overlap no other member. A BundleError names the first
    violation.
    """
    def fail(msg: str) -> BundleError:
        return BundleError(f"{where}: {msg}; the file is damaged or not a bundle facelite wrote")

    end = _find_end_record(mm, where)
    _, disk, cd_disk, n_disk, n_total, cd_size, cd_offset, _ = _EOCD.unpack_from(mm, end)
    if disk or cd_disk or n_disk != n_total:
        raise fail("the zip claims to span several disks")
    if n_total == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset) or (
            end >= 20 and mm[end - 20:end - 16] == _ZIP64_LOCATOR_SIG):
        raise fail(f"the zip uses zip64 records, which a bundle (at most {MAX_BUNDLE_BYTES // 2**20} MiB) never needs")
    if n_total > MAX_MEMBERS:
        raise fail(f"the zip lists {n_total} members, more than the {MAX_MEMBERS} a bundle may hold")
    if cd_offset + cd_size != end:
        raise fail(f"the central directory ({cd_size} bytes at {cd_offset}) does not end where the "
                   f"end record starts ({end})")
    members: dict[str, Member] = {}
    pos = cd_offset
    for i in range(n_total):
        if pos + _CENTRAL.size > end:
            raise fail(f"the central directory ends inside entry {i}")
        (sig, _made_by, _needed, flags, method, _time, _date, crc, csize, usize, name_len, extra_len,
         comment_len, disk_start, _internal, _external, header_offset) = _CENTRAL.unpack_from(mm, pos)
        raw = mm[pos + _CENTRAL.size:pos + _CENTRAL.size + name_len]
        pos += _CENTRAL.size + name_len + extra_len + comment_len
        if sig != _CENTRAL_SIG or pos > end:
            raise fail(f"central directory entry {i} is damaged")
        name = _member_name(raw, where)
        if name in members:
            raise BundleError(f"{where}: holds two members named '{name}'; zip readers disagree on which one "
                              "counts, so a bundle may hold each name once")
        if flags & _FLAG_ENCRYPTED:
            raise BundleError(f"{where}: member '{name}' is encrypted; a bundle stores its members in the clear")
        if method != zipfile.ZIP_STORED:
            how = f"compressed ({_METHODS[method]})" if method in _METHODS else f"in unknown zip method {method}"
            raise BundleError(f"{where}: member '{name}' is {how}; a bundle stores every member uncompressed, "
                              "and facelite never inflates one")
        if flags & ~_FLAG_UTF8:
            raise BundleError(f"{where}: member '{name}' has zip flags {flags:#06x}; a bundle member may carry "
                              "only the UTF-8 name flag")
        if csize != usize:
            raise fail(f"member '{name}' is stored but its sizes differ ({csize} and {usize})")
        if usize > member_size_cap(name):
            raise BundleError(f"{where}: member '{name}' is {usize} bytes, over the {member_size_cap(name)} a "
                              "bundle allows it (facelite.bundle.member_size_cap)")
        if disk_start:
            raise fail(f"member '{name}' claims to start on another disk")
        members[name] = _local_member(mm, name, raw, header_offset, (flags, method, crc, csize, usize), cd_offset,
                                      fail)
    if pos != end:
        raise fail("the central directory holds bytes after its last entry")
    spans = sorted((m.header_offset, m.offset + m.size, m.name) for m in members.values())
    for (_, stop, first), (start, _, second) in itertools.pairwise(spans):
        if start < stop:
            raise fail(f"members '{first}' and '{second}' overlap")
    return members


def _member_name(raw: bytes, where: Path) -> str:
    """A member's name, refused unless it is a plain relative name (docs/bundle.md):
    `/`-separated parts of ASCII letters, digits, `.`, `_` and `-`, none of them `.` or
    `..`. So no absolute path, backslash, drive, control character or look-alike letter."""
    name = raw.decode("ascii", "replace")
    if (len(name) > 255 or not _MEMBER_NAME.fullmatch(name)
            or any(part in (".", "..") for part in name.split("/"))):
        raise BundleError(f"{where}: member name {name[:80]!r} is not a plain relative name (parts of ASCII "
                          "letters, digits, '.', '_' and '-', separated by '/', none '.' or '..')")
    return name


def _local_member(mm: mmap.mmap, name: str, raw: bytes, header_offset: int, central: tuple, limit: int,
                  fail) -> Member:
    """The member whose local header is at `header_offset`, checked against its central entry."""
    if header_offset + _LOCAL_HEADER.size > limit:
        raise fail(f"member '{name}' has its local header outside the file's data")
    (sig, _needed, flags, method, _time, _date, crc, csize, usize, name_len,
     extra_len) = _LOCAL_HEADER.unpack_from(mm, header_offset)
    start = header_offset + _LOCAL_HEADER.size
    if sig != _LOCAL_SIG:
        raise fail(f"member '{name}' has no local header at offset {header_offset}")
    if mm[start:start + name_len] != raw:
        raise fail(f"member '{name}' has another name in its local header")
    if (flags, method, crc, csize, usize) != central:
        raise fail(f"member '{name}': the local header and the central directory disagree on its flags, "
                   "method, CRC or sizes")
    offset = start + name_len + extra_len
    if offset + csize > limit:
        raise fail(f"member '{name}' runs past the start of the central directory")
    _, _, crc_central, size, _ = central
    return Member(name, header_offset, offset, size, crc_central)


def _crc_checked(mm: mmap.mmap, member: Member, where) -> bytes:
    data = mm[member.offset : member.offset + member.size]
    if zlib.crc32(data) != member.crc32:
        raise BundleError(f"{where}: member '{member.name}' fails its CRC-32 check; the bundle is damaged")
    return data


def _golden_member_names(manifest: Mapping[str, Any]) -> list[str]:
    golden = manifest.get("golden")
    if not golden:
        return []
    return [golden["inputs"], golden["outputs"], *golden.get("variant_outputs", {}).values()]


class Bundle:
    """A read-only, memory-mapped view of a bundle file.

    `Bundle.open` reads the zip directory (`read_directory`: every member stored, named
    once, plainly, within its size cap, headers consistent) and the manifest (strict JSON,
    then `validate_manifest`), never inflating or loading anything else; each variant's
    size in the manifest must be its member's. Members are read later, on demand, each
    checked on the way: a variant's sha256 before its bytes can reach an interpreter
    (`variant_bytes`), a golden's sha256 and `.npy` header
    before its array is built (`read_npy`). Every refusal is a BundleError (exit 2) that
    names the file and what is wrong with it.
    """

    def __init__(self, path: Path, file, mm: mmap.mmap, members: Mapping[str, Member], manifest: dict):
        self.path = path
        self._file = file
        self._mm = mm
        self._members = dict(members)
        self.manifest = manifest
        self.variants: dict[str, Variant] = {
            name: Variant(
                name=name,
                file=v["file"],
                bytes=int(v["bytes"]),
                sha256=v["sha256"],
                target=v["target"],
                input_dtype=v["input_dtype"],
                output_dtype=v.get("output_dtype", v["input_dtype"]),
                sparsity=float(v.get("sparsity", 0.0)),
                compatibility=dict(v.get("compatibility", {})),
                measured=Measured.from_manifest(v.get("measured")),
            )
            for name, v in manifest["variants"].items()
        }
        self._sha256: dict[str, str] = {}
        self._golden_rows: int | None = None

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Bundle":
        """Open the bundle at `path`: a regular file of at most `MAX_BUNDLE_BYTES` (FIFOs,
        devices and directories are refused before anything is read). Raises BundleError."""
        path = Path(path)
        file = open_regular_file(path, MAX_BUNDLE_BYTES, "bundle", BundleError, allow_empty=False)
        mm = None
        try:
            mm = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
            members = read_directory(mm, path)
            if MANIFEST not in members:
                raise BundleError(f"{path}: not a facelite bundle (no {MANIFEST})")
            where = f"{path}:{MANIFEST}"
            manifest = load_manifest_json(_crc_checked(mm, members[MANIFEST], path), where)
            validate_manifest(manifest, where=where)
            for name, v in manifest["variants"].items():
                if v["file"] not in members:
                    raise BundleError(f"{path}: variant '{name}' names missing member {v['file']}")
                if members[v["file"]].size != v["bytes"]:  # the sha256 is checked when the variant is read
                    raise BundleError(f"{path}: variant '{name}' is {members[v['file']].size} bytes, manifest says "
                                      f"{v['bytes']}; the bundle is damaged or tampered with, rebuild or re-download it")
            for member in _golden_member_names(manifest):
                if member not in members:
                    raise BundleError(f"{path}: manifest golden block names missing member {member}")
            return cls(path, file, mm, members, manifest)
        except BaseException as exc:
            if mm is not None:
                mm.close()
            file.close()
            if isinstance(exc, _READ_ERRORS):
                raise BundleError(f"{path}: unreadable bundle ({type(exc).__name__}: {exc})") from None
            raise

    # -- members -------------------------------------------------------------

    @property
    def file_bytes(self) -> int:
        """Size of the bundle file as opened."""
        return len(self._mm)

    def file_sha256(self) -> str:
        """sha256 of the whole bundle file as opened (what a slim copy records as its origin)."""
        return sha256_bytes(self._mm)

    def member_names(self) -> list[str]:
        """Every member's name, in file order."""
        return sorted(self._members, key=lambda n: self._members[n].offset)

    def member_offsets(self) -> dict[str, int]:
        """Data offset of every member in the file (what a phone would mmap)."""
        return {name: self._members[name].offset for name in self.member_names()}

    def member_view(self, name: str) -> memoryview:
        """Zero-copy view of a member's bytes inside the mmap (unchecked: see `member_bytes`)."""
        m = self._member(name)
        return memoryview(self._mm)[m.offset : m.offset + m.size]

    def member_bytes(self, name: str) -> bytes:
        """A copy of member `name`'s bytes, refused unless they match the zip directory's CRC-32."""
        return _crc_checked(self._mm, self._member(name), self.path)

    def member_json(self, name: str) -> Any:
        """Member `name` parsed as strict JSON (`load_manifest_json`); BundleError if it is not."""
        return load_manifest_json(self.member_bytes(name), f"{self.path}:{name}")

    def _member(self, name: str) -> Member:
        try:
            return self._members[name]
        except KeyError:
            raise BundleError(f"{self.path}: no member '{name}' in bundle") from None

    def variant(self, name: str) -> Variant:
        if name not in self.variants:
            raise BundleError(
                f"{self.path}: no variant '{name}'; this bundle has {', '.join(sorted(self.variants))}"
            )
        return self.variants[name]

    def variant_bytes(self, name: str) -> memoryview:
        """The variant's `.tflite` bytes, refused unless size and sha256 match the manifest."""
        v = self.variant(name)
        data = self.member_view(v.file)
        if len(data) != v.bytes:
            raise BundleError(
                f"{self.path}: variant '{name}' is {len(data)} bytes, manifest says {v.bytes}; "
                "the bundle is damaged or tampered with"
            )
        if self.member_sha256(v.file) != v.sha256:
            raise BundleError(
                f"{self.path}: variant '{name}' fails its sha256 check; "
                "the bundle is damaged or tampered with, rebuild or re-download it"
            )
        return data

    def member_sha256(self, name: str) -> str:
        """sha256 of a member's stored bytes, hashed once per open bundle: the signature
        check, the variant checksum and the golden checksums all ask for it."""
        if name not in self._sha256:
            self._sha256[name] = sha256_bytes(self.member_view(name))
        return self._sha256[name]

    def _checked_member(self, name: str) -> memoryview:
        """A golden member's bytes, refused unless they match the manifest's sha256 (or,
        for a bundle whose manifest lists none, the zip's CRC-32)."""
        expected = self.manifest.get("golden", {}).get("sha256", {}).get(name)
        if not expected:
            return memoryview(self.member_bytes(name))
        if self.member_sha256(name) != expected:
            raise BundleError(f"{self.path}: member {name} fails its sha256 check")
        return self.member_view(name)

    @property
    def has_golden(self) -> bool:
        return "golden" in self.manifest

    def golden(self) -> tuple[np.ndarray, np.ndarray]:
        """(inputs, fp32 outputs) recorded at build time; inputs as normalised float32.

        Pixel-domain goldens are normalised here with the manifest's own mean/std, the
        same `facelite.preprocess.normalize` every runtime path uses.
        """
        inputs = self.golden_inputs()
        if self.manifest["golden"].get("input_domain", "normalized") == "pixels":
            inputs = normalize(inputs, self.input_spec)
        return inputs, self.golden_outputs("fp32")

    def golden_inputs(self) -> np.ndarray:
        """The golden inputs as stored: uint8 pixels or float32 tensors (`golden.input_domain`),
        one (H, W, C) sample per row as `input.shape` says."""
        if not self.has_golden:
            raise BundleError(f"{self.path}: bundle has no golden vectors")
        g = self.manifest["golden"]
        inputs = self._load_npy(g["inputs"])
        expected = tuple(self.manifest["input"]["shape"][1:])
        if inputs.ndim != 4 or inputs.shape[1:] != expected or not len(inputs):
            raise BundleError(f"{self.path}:{g['inputs']}: holds shape {inputs.shape}; goldens are "
                              f"(N, {', '.join(map(str, expected))}) as input.shape says, N >= 1")
        pixels = g.get("input_domain", "normalized") == "pixels"
        if pixels != (inputs.dtype == np.uint8) or not (pixels or inputs.dtype.kind == "f"):
            raise BundleError(f"{self.path}:{g['inputs']}: holds {inputs.dtype}; golden "
                              f"{'pixels are uint8' if pixels else 'normalized inputs are floats'}")
        return inputs

    def golden_outputs(self, variant: str) -> np.ndarray | None:
        """What the reference runtime computed with `variant` (fp32: the trained model), one
        row per golden input; None if absent."""
        if not self.has_golden:
            return None
        g = self.manifest["golden"]
        member = g["outputs"] if variant == "fp32" else g.get("variant_outputs", {}).get(variant)
        if member is None:
            return None
        outputs = self._load_npy(member)
        rows = len(self.golden_inputs()) if self._golden_rows is None else self._golden_rows
        self._golden_rows = rows
        if outputs.ndim < 1 or len(outputs) != rows or outputs.dtype.kind != "f":
            raise BundleError(f"{self.path}:{member}: holds {outputs.dtype} of shape {outputs.shape}; golden "
                              f"outputs are floats, one row per golden input ({rows})")
        if variant != "fp32" and outputs.size != self.golden_outputs("fp32").size:
            raise BundleError(f"{self.path}:{member}: holds {outputs.size} values, the fp32 goldens "
                              f"{self.golden_outputs('fp32').size}; a variant's goldens match the fp32 ones in size")
        return outputs

    def _load_npy(self, member: str) -> np.ndarray:
        return read_npy(self._checked_member(member), f"{self.path}:{member}")

    def report(self) -> dict[str, Any]:
        """The build report (`report.json`), or {} when the bundle has none."""
        if REPORT not in self._members:
            return {}
        report = self.member_json(REPORT)
        if not isinstance(report, dict):
            raise BundleError(f"{self.path}:{REPORT}: is not a JSON object")
        return report

    # -- typed views -----------------------------------------------------------

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def task(self) -> str:
        return self.manifest["task"]

    @property
    def labels(self) -> list[str]:
        return list(self.manifest.get("labels", []))

    @property
    def input_spec(self) -> InputSpec:
        return InputSpec.from_manifest(self.manifest["input"])

    def verify_checksums(self) -> list[str]:
        """Check every variant and golden member; return problems (empty when intact)."""
        problems = []
        for name in self.variants:
            try:
                self.variant_bytes(name)
            except BundleError as exc:
                problems.append(str(exc))
        if self.has_golden:
            try:
                self.golden()
                for member in self.manifest["golden"].get("variant_outputs", {}).values():
                    self._checked_member(member)
            except BundleError as exc:
                problems.append(str(exc))
        misaligned = [n for n, off in self.member_offsets().items() if off % ALIGNMENT]
        if misaligned:
            problems.append(f"{self.path}: members not {ALIGNMENT}-byte aligned: {misaligned}")
        return problems

    def close(self) -> None:
        try:
            self._mm.close()
        except BufferError:
            pass  # a live memoryview still points into the map; it closes with the file
        self._file.close()

    def __enter__(self) -> "Bundle":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Bundle({str(self.path)!r}, task={self.task!r}, variants={sorted(self.variants)})"
