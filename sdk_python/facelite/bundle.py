"""The facelite bundle: one zip holding a model's variants, manifest and goldens.

Every layer (toolchain, runtime, bench, bindings) reads and writes bundles through
this module only. Members are *stored* (no compression) at 4-byte-aligned data
offsets, so a phone can mmap the file and hand a variant's bytes straight to LiteRT.

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
import json
import mmap
import os
import struct
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .errors import BundleError
from .preprocess import InputSpec, normalize
from .schema import SCHEMA_FILES, manifest_schema, schema_errors

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
VARIANT_NAMES = tuple(_SCHEMA["variants"]["propertyNames"]["enum"])
"""Variant names, in order of fidelity (fp32 first)."""
TARGETS = tuple(_SCHEMA["variants"]["additionalProperties"]["properties"]["target"]["enum"])
OUTPUT_KINDS = tuple(_SCHEMA["output"]["properties"]["kind"]["enum"])
GOLDEN_DOMAINS = tuple(_SCHEMA["golden"]["properties"]["input_domain"]["enum"])

# Zip extra-field id for alignment padding (the one Android's zipalign uses).
_PAD_EXTRA_ID = 0xD935
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")


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
    of every version this facelite knows keep reading. After the schema come the two
    cross-field rules JSON Schema cannot state (the schema's description lists them for
    the bindings). The message names the JSON path, e.g.
    `manifest.json: input.std[1]: must be > 0, got 0`.
    """

    def fail(msg: str) -> None:
        raise BundleError(f"{where}: {msg}")

    if not isinstance(manifest, Mapping):
        fail(f"is not a JSON object (got {type(manifest).__name__})")
    version = manifest.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, (int, float)) or version not in SCHEMA_FILES:
        fail(
            f"schema_version {version!r} is not supported (this facelite reads "
            f"{', '.join(map(str, SCHEMA_FILES))}); rebuild the bundle or upgrade facelite"
        )
    errors = schema_errors(manifest, manifest_schema(int(version)))
    if errors:
        fail(errors[0] + (f" (and {len(errors) - 1} more problem{'s' * (len(errors) > 2)})" if len(errors) > 1 else ""))
    spec = manifest["input"]
    channels = spec["shape"][3]
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
    validate_manifest(manifest, where=f"{path}:{MANIFEST}")
    members.insert(0, (MANIFEST, json.dumps(manifest, indent=2, allow_nan=False).encode()))

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            with zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED) as zf:
                for name, data in members:
                    zf.writestr(_aligned_zipinfo(name, raw.tell()), data)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a bundle is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


class Bundle:
    """A read-only, memory-mapped view of a bundle file.

    Opening checks the zip structure, alignment and manifest schema; a variant's
    sha256 is checked by `variant_bytes` before its bytes can reach an interpreter.
    """

    def __init__(self, path: Path, file, mm: mmap.mmap, zf: zipfile.ZipFile, manifest: dict):
        self.path = path
        self._file = file
        self._mm = mm
        self._zip = zf
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
            )
            for name, v in manifest["variants"].items()
        }
        self._verified: set[str] = set()

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Bundle":
        path = Path(path)
        if not path.exists():
            raise BundleError(f"{path}: no such bundle file")
        if path.is_dir():
            raise BundleError(f"{path}: is a directory, expected a .flb bundle file")
        if path.stat().st_size == 0:
            raise BundleError(f"{path}: is empty (0 bytes), not a bundle")
        file = open(path, "rb")
        try:
            mm = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
            try:
                zf = zipfile.ZipFile(file)
            except zipfile.BadZipFile as exc:
                raise BundleError(f"{path}: not a facelite bundle (not a zip: {exc})") from None
            names = set(zf.namelist())
            if MANIFEST not in names:
                raise BundleError(f"{path}: not a facelite bundle (no {MANIFEST})")
            try:
                manifest = json.loads(zf.read(MANIFEST))
            except (json.JSONDecodeError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
                raise BundleError(f"{path}:{MANIFEST}: unreadable JSON ({exc})") from None
            validate_manifest(manifest, where=f"{path}:{MANIFEST}")
            for name, v in manifest["variants"].items():
                if v["file"] not in names:
                    raise BundleError(f"{path}: variant '{name}' names missing member {v['file']}")
            bundle = cls(path, file, mm, zf, manifest)
        except BaseException:
            file.close()
            raise
        return bundle

    # -- members -------------------------------------------------------------

    def member_offsets(self) -> dict[str, int]:
        """Data offset of every member in the file (what a phone would mmap)."""
        offsets = {}
        for info in self._zip.infolist():
            header = _LOCAL_HEADER.unpack_from(self._mm, info.header_offset)
            name_len, extra_len = header[9], header[10]
            offsets[info.filename] = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
        return offsets

    def member_view(self, name: str) -> memoryview:
        """Zero-copy view of a stored member's bytes inside the mmap."""
        info = self._member_info(name)
        if info.compress_type != zipfile.ZIP_STORED:
            raise BundleError(f"{self.path}: member {name} is compressed; bundles store members")
        start = self.member_offsets()[name]
        return memoryview(self._mm)[start : start + info.file_size]

    def _member_info(self, name: str) -> zipfile.ZipInfo:
        try:
            return self._zip.getinfo(name)
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
        if name not in self._verified:
            if len(data) != v.bytes:
                raise BundleError(
                    f"{self.path}: variant '{name}' is {len(data)} bytes, manifest says {v.bytes}; "
                    "the bundle is damaged or tampered with"
                )
            if sha256_bytes(data) != v.sha256:
                raise BundleError(
                    f"{self.path}: variant '{name}' fails its sha256 check; "
                    "the bundle is damaged or tampered with, rebuild or re-download it"
                )
            self._verified.add(name)
        return data

    def _checked_member(self, name: str) -> bytes:
        data = bytes(self.member_view(name))
        expected = self.manifest.get("golden", {}).get("sha256", {}).get(name)
        if expected and sha256_bytes(data) != expected:
            raise BundleError(f"{self.path}: member {name} fails its sha256 check")
        return data

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
        return inputs, self._load_npy(self.manifest["golden"]["outputs"])

    def golden_inputs(self) -> np.ndarray:
        """The golden inputs as stored: uint8 pixels or float32 tensors (`golden.input_domain`)."""
        if not self.has_golden:
            raise BundleError(f"{self.path}: bundle has no golden vectors")
        return self._load_npy(self.manifest["golden"]["inputs"])

    def golden_outputs(self, variant: str) -> np.ndarray | None:
        """What the reference runtime computed with `variant` (fp32: the trained model); None if absent."""
        if not self.has_golden:
            return None
        g = self.manifest["golden"]
        member = g["outputs"] if variant == "fp32" else g.get("variant_outputs", {}).get(variant)
        return None if member is None else self._load_npy(member)

    def _load_npy(self, member: str) -> np.ndarray:
        return np.load(io.BytesIO(self._checked_member(member)), allow_pickle=False)

    def report(self) -> dict[str, Any]:
        if REPORT not in self._zip.namelist():
            return {}
        return json.loads(self._zip.read(REPORT))

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
        self._zip.close()
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
