"""The C core reads bundles as the Python runtime does: its unit tests pass, and its strict JSON,
manifest schema, `.npy` headers, zip reader and variant choice agree with facelite's Python
readers case by case.

The C side is driven through `tool_check_files` of the session's build (`c_build`): one
process reads many files and prints one line per file, "ok" or "error<TAB>status<TAB>message".
Where the C core knowingly refuses what Python accepts, the case is listed with the reason.
"""

from __future__ import annotations

import copy
import io
import json
import random
import re
import subprocess
from pathlib import Path

import mutants
import numpy as np
from facelite.bundle import Bundle, read_npy, validate_manifest
from facelite.engine import choose_variant
from facelite.errors import BundleError
from facelite.signing import SignaturePolicy, check_signature
from facelite.strict_json import loads as strict_loads

REPO = Path(__file__).resolve().parents[2]
BUNDLES = sorted(REPO.glob("models/*/*.flb")) + sorted((REPO / "tests" / "fixtures" / "bundles").glob("*.flb"))
SEED = 10


def c_check(c_build, mode: str, paths: list[Path]) -> list[tuple[bool, str]]:
    """(accepted, message) per file from tool_check_files (message: the C error, or "ok" / the choices)."""
    p = subprocess.run([str(c_build.tool("tool_check_files")), mode, *map(str, paths)], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == len(paths), p.stdout[-2000:]
    return [(not line.startswith("error\t"), line.split("\t", 2)[-1]) for line in lines]


def write_cases(folder: Path, cases: list[bytes], suffix: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, data in enumerate(cases):
        paths.append(folder / f"{i:04d}{suffix}")
        paths[-1].write_bytes(data)
    return paths


def test_c_unit_tests_pass(c_build):
    """ctest: the zip reader on good, truncated, flipped and crafted bundles; strict JSON, schema
    and .npy; the signature policy; the engine (and C-PREP's preprocessing tests)."""
    p = c_build.ctest()
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    assert "100% tests passed" in p.stdout


# -- strict JSON --------------------------------------------------------------------------------

JSON_CASES = [
    b'{"a": 1}', b"[]", b' {"a": [1, 2.5, -0.0, 1e3, true, false, null, "x\\u00e9\\n"]} ', b'"\xc3\xa9"',
    b'{"a": 1, "a": 2}', b'{"a": {"b": 1, "b": 1}}', b"[1e999]", b"[-1e999]", b"[NaN]", b"[Infinity]",
    b"[-Infinity]", b"[01]", b"[1.]", b"[.5]", b"[+1]", b"[1,]", b'{"a":1,}', b"[1] 2", b"", b"   ",
    b'"a\tb"', b'"\\x"', b'"\\u12"', b"{'a': 1}", b"[true, tru]", b"\xff", b'["\xc0\xaf"]', b'["\xed\xa0\x80"]',
    b"\xef\xbb\xbf[]", b"[" * 32 + b"]" * 32, b"[" * 33 + b"]" * 33, b'{"a": "' + b"[" * 40 + b'"}',
    b'{"a": [1, 2}', b'{"a" 1}', b"[1 2]", b'{"\\ud83d\\ude00": 1}', b"[1E+2, 1e-2, 0.5e1]", b"[-]", b"[--1]",
    b"/* c */ []", b"[1]\n", b"\x00", b'{"":0}', b"[" + b"1" * 70 + b"]",
]
# The C core refuses what Python reads here, on purpose (cJSON would read it differently):
C_STRICTER = {
    b'"\\u0000"': "a NUL character in a string (cJSON's strings end at NUL)",
    b"[" + b"1" * 400 + b"]": "an integer beyond a double's range (C reads numbers as doubles: infinity)",
}


def test_strict_json_accepts_and_refuses_what_facelite_strict_json_does(c_build, tmp_path):
    cases = JSON_CASES + list(C_STRICTER)
    results = c_check(c_build, "json", write_cases(tmp_path / "json", cases, ".json"))
    for data, (c_ok, message) in zip(cases, results):
        try:
            strict_loads(data)
            py_ok = True
        except ValueError:
            py_ok = False
        if data in C_STRICTER:
            assert py_ok and not c_ok, (data, C_STRICTER[data])
        else:
            assert c_ok == py_ok, (data, message)


# -- the manifest schema -------------------------------------------------------------------------

POOL = [None, True, False, 0, -1, 1, 1.5, 0.0, 3, 2049, 1e6, -70000, "", "x", "rgb", "fp8", "A" * 70, [], [1],
        ["a"], {}, {"ok": True}, "0" * 64, "golden/x.npy", "x.tflite"]


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value[:4]):
            yield from _paths(v, prefix + (i,))


def _set(doc, path, value, delete=False):
    node = doc
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value


def manifest_mutants(rng: random.Random, per_bundle: int) -> list[bytes]:
    out = []
    for path in BUNDLES:
        with Bundle.open(path) as b:
            manifest = b.manifest
        out.append(json.dumps(manifest).encode())
        paths = [p for p in _paths(manifest) if p and p[0] not in ("metrics", "build")]
        for _ in range(per_bundle):
            doc = copy.deepcopy(manifest)
            for _ in range(rng.choice((1, 1, 2))):
                target = rng.choice(paths)
                try:
                    if rng.random() < 0.15 and isinstance(target[-1], str):
                        _set(doc, target, None, delete=True)
                    elif rng.random() < 0.1:
                        _set(doc, target[:-1] + ("zz_" + str(target[-1]),) if isinstance(target[-1], str)
                             else target, rng.choice(POOL))
                    else:
                        _set(doc, target, copy.deepcopy(rng.choice(POOL)))
                except (KeyError, IndexError, TypeError):
                    continue
            out.append(json.dumps(doc).encode())
    return out


def _python_manifest(data: bytes) -> str | None:
    try:
        validate_manifest(strict_loads(data), where="manifest.json")
    except (BundleError, ValueError) as exc:
        return str(exc)
    return None


def as_c_shows(message: str) -> str:
    """A Python schema message with integral floats written as integers: JSON's `0.0` and `0` are
    one number to cJSON, so the C core says "integer 0" where Python says "number 0.0"."""
    message = re.sub(r"number (-?\d+)\.0\b", r"integer \1", message)
    return re.sub(r"(\d)\.0\b", r"\1", message)


def test_manifest_validation_agrees_with_python_case_by_case(c_build, tmp_path):
    """Hundreds of mutated manifests: the C core accepts exactly those facelite.bundle.validate_manifest
    accepts, and refuses the others with the same message."""
    cases = manifest_mutants(random.Random(SEED), 45)
    results = c_check(c_build, "manifest", write_cases(tmp_path / "manifests", cases, ".json"))
    refused = 0
    for data, (c_ok, c_message) in zip(cases, results):
        py_error = _python_manifest(data)
        assert c_ok == (py_error is None), f"C {'accepts' if c_ok else 'refuses'} ({c_message}); " \
                                           f"Python: {py_error}\n{data[:600]!r}"
        if py_error is not None:
            refused += 1
            assert c_message == as_c_shows(py_error)
    assert refused > len(cases) // 2


# -- .npy headers -------------------------------------------------------------------------------------


def npy_cases() -> list[bytes]:
    def save(array):
        buf = io.BytesIO()
        np.save(buf, array, allow_pickle=False)
        return buf.getvalue()

    rng = np.random.default_rng(SEED)
    good = [save(rng.integers(0, 255, (2, 4, 4, 3), dtype=np.uint8)), save(rng.random((3, 7), dtype=np.float32)),
            save(rng.random(5)), save(np.float16([1, -2, 0.5])), save(np.int8([-128, 127])),
            save(np.zeros((0, 3), np.float32)), save(np.float32(3.0)), save(np.int32([[1, 2]])),
            save(np.asfortranarray(rng.random((2, 3)))), save(np.int64([1])), save(np.bool_([True])),
            save(np.zeros((2, 2), ">f4")), save(np.uint16([1]))]
    header_v2 = bytearray(good[1])
    cases = list(good)
    for data in good[:4]:
        cases += [data[:-1], data + b"\0", data[:9], data[:40]]
        for pos in (6, 7, 8, 9, 12, 20, 30, 45, 60):
            flipped = bytearray(data)
            flipped[pos] ^= 0x11
            cases.append(bytes(flipped))
    v2 = bytearray(b"\x93NUMPY\x02\x00") + len(header_v2[10:10 + header_v2[8]]).to_bytes(4, "little")
    cases.append(bytes(v2 + header_v2[10:]))
    cases.append(b"\x93NUMPY\x01\x00" + (5000).to_bytes(2, "little") + b" " * 5000)
    cases.append(b"\x93NUMPY\x01\x00\x40\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}   \n"
                 + b"\0" * 4)
    return cases


def test_npy_headers_are_judged_as_facelite_bundle_read_npy(c_build, tmp_path):
    cases = npy_cases()
    results = c_check(c_build, "npy", write_cases(tmp_path / "npy", cases, ".npy"))
    for data, (c_ok, message) in zip(cases, results):
        try:
            read_npy(data, "x.npy")
            py_ok = True
        except Exception:  # noqa: BLE001 - BundleError, or what numpy's header parser lets through
            py_ok = False
        assert c_ok == py_ok, (data[:80], message)


# -- whole bundles: the fuzz campaign's mutants, and variant choice -----------------------------------


def _python_opens(path: Path) -> bool:
    """Bundle.open and a signature that, if present, verifies (what the C core checks at open)."""
    try:
        with Bundle.open(path) as b:
            return check_signature(b, SignaturePolicy(require_signature=False, trust_development_key=True)).ok
    except BundleError:
        return False


def test_bundle_mutants_open_in_c_exactly_where_they_open_in_python(c_build, tmp_path):
    sources = mutants.load_sources(REPO, ("fixture",))
    signer = mutants.Signer(seed=SEED.to_bytes(32, "little"))
    made = [mutants.bundle_mutant(i, src, category, mutants.mutant_rng(SEED, "bundle", i), signer)
            for i, category, src in mutants.plan(240, sources)]
    paths = write_cases(tmp_path / "bundles", [m.data for m in made], ".flb")
    results = c_check(c_build, "bundle", paths)
    for m, path, (c_ok, message) in zip(made, paths, results):
        assert c_ok == _python_opens(path), f"mutant {m.index} ({m.category}: {m.detail}): C says {message}"


def test_variant_choice_per_accelerator_is_facelite_engine_choose_variant(c_build):
    results = c_check(c_build, "choose", BUNDLES)
    for path, (_, line) in zip(BUNDLES, results):
        with Bundle.open(path) as b:
            expected = " ".join(f"{a}={choose_variant(b, a) or 'none'}" for a in ("auto", "cpu", "gpu", "npu"))
        assert line == expected, path


MEASURED_CASES = [  # hand-made records: (latency ms, agreement) per variant, accelerator cpu unless named
    {"fp32": (1.0, 1.0), "fp16": (1.0, 0.999), "dynamic": (8.0, 0.99), "int8": (0.5, 0.98)},
    {"fp32": (1.0, 1.0), "int8": (0.2, 0.979)},
    {"fp32": (1.0, 1.0), "int8": (0.2, None)},
    {"fp32": (1.0, 1.0), "fp16": (0.91, 1.0)},
    {"fp32": (1.0, 1.0), "fp16": (0.9, 1.0)},
    {"fp32": (0.4, 1.0), "dynamic": (3.2, 0.99), "int8": (0.3, 0.985)},
    {"fp32": (1.0, 1.0), "int8": None},
    {"fp32": (1.0, 1.0, "gpu"), "int8": (0.1, 1.0, "gpu")},
    {"fp32": (1.0, 1.0, "npu"), "int8": (0.1, 1.0, "npu")},
]


def test_variant_choice_from_measured_records_is_facelite_engine_choose_variant(c_build, tmp_path):
    from fixture_bundles import measured_record, with_measured

    paths = [with_measured(tmp_path / f"{i}.flb", {v: None if r is None else measured_record(*r) for v, r in case.items()})
             for i, case in enumerate(MEASURED_CASES)]
    for path, (_, line) in zip(paths, c_check(c_build, "choose", paths)):
        with Bundle.open(path) as b:
            expected = " ".join(f"{a}={choose_variant(b, a) or 'none'}" for a in ("auto", "cpu", "gpu", "npu"))
        assert line == expected, path
