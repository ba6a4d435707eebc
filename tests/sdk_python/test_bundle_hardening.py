"""The hardened bundle reader: each bundle finding of issue #15 as a test.

Every hostile bundle here is a mutant of a committed fixture bundle, written into a
temporary folder (nothing large is committed): zip structure (end record, flags,
methods, duplicate and path-like names, header disagreements, sizes), the manifest's JSON
(types, nesting, NaN, repeated keys, ranges), `.npy` goldens (pickles, lying headers),
the model (labels vs outputs, malformed flatbuffers) and tolerances a bundle tries to
loosen. Each must end in a BundleError naming the file and the problem (exit 2 on the
CLI), never in another exception (exit 1), a hang or an allocation the file's size does
not justify.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import struct
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import fixture_bundles as fb
from facelite.bundle import (MANIFEST, MAX_BUNDLE_BYTES, MAX_MANIFEST_BYTES, MAX_MEMBERS, Bundle, read_npy,
                             sha256_bytes, write_members)
from facelite.cli import main
from facelite.errors import BundleError
from facelite.signing import SignaturePolicy, SignatureWarning
from facelite.verify import PARITY_TOLERANCES, effective_tolerance, inspect_bundle, verify_bundle

UNSIGNED = SignaturePolicy(require_signature=False)
"""These mutants are unsigned on purpose: each test is about one check, not the signature."""
SIGNATURE = "signature.json"

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="FIFOs and /dev/zero as on Linux")


# -- building mutants ---------------------------------------------------------------------


def _members(name: str) -> dict[str, bytes]:
    """The members of fixture bundle `name` in file order, its signature left out."""
    with zipfile.ZipFile(fb.fixture_bundle(name)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist() if i.filename != SIGNATURE}


def write_zip(path: Path, members, methods: dict[str, int] | None = None) -> Path:
    """`members` ((name, bytes) pairs, duplicates allowed) as a zip, stored unless `methods` says."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = (methods or {}).get(name, zipfile.ZIP_STORED)
            with pytest.warns(UserWarning) if name in zf.namelist() else contextlib.nullcontext():
                zf.writestr(info, data)  # zipfile warns of a duplicate name, and writes it
    return path


def mutant(path: Path, name: str = "tiny", edit=None, replace: dict[str, bytes] | None = None,
           raw_manifest: bytes | None = None, extra=(), methods=None) -> Path:
    """Fixture `name` rewritten as a tamperer would: members replaced (their sizes and
    sha256s updated in the manifest), `edit(manifest)` applied, or the manifest's bytes
    replaced by `raw_manifest`; `extra` (name, bytes) members appended."""
    members = _members(name)
    manifest = json.loads(members[MANIFEST])
    for member, data in (replace or {}).items():
        members[member] = data
        for v in manifest["variants"].values():
            if v["file"] == member:
                v.update(bytes=len(data), sha256=sha256_bytes(data))
        if member in manifest.get("golden", {}).get("sha256", {}):
            manifest["golden"]["sha256"][member] = sha256_bytes(data)
    if edit is not None:
        edit(manifest)
    members[MANIFEST] = raw_manifest if raw_manifest is not None else json.dumps(manifest).encode()
    return write_zip(path, [*members.items(), *extra], methods)


def _entries(data: bytes) -> dict[str, tuple[int, int]]:
    """name → (central directory entry offset, local header offset), from the end record."""
    end = data.rindex(b"PK\x05\x06")
    count, _, pos = struct.unpack_from("<HII", data, end + 10)
    entries = {}
    for _ in range(count):
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        name = data[pos + 46:pos + 46 + name_len].decode()
        entries[name] = (pos, struct.unpack_from("<I", data, pos + 42)[0])
        pos += 46 + name_len + extra_len + comment_len
    return entries


def patch_headers(path: Path, member: str, flags: int | None = None, method: int | None = None,
                  size: int | None = None, local_only: bool = False) -> Path:
    """Set a member's flags, method or (both) sizes in its local header and, unless
    `local_only`, in its central directory entry too (a consistent lie)."""
    data = bytearray(path.read_bytes())
    central, local = _entries(bytes(data))[member]
    spots = [(local, 6, 8, 18)] + ([] if local_only else [(central, 8, 10, 20)])
    for base, flag_at, method_at, sizes_at in spots:
        if flags is not None:
            struct.pack_into("<H", data, base + flag_at, flags)
        if method is not None:
            struct.pack_into("<H", data, base + method_at, method)
        if size is not None:
            struct.pack_into("<II", data, base + sizes_at, size, size)
    path.write_bytes(bytes(data))
    return path


def refused(path, *fragments: str) -> str:
    """Bundle.open(path) raises a BundleError naming the file and every fragment; its message."""
    with pytest.raises(BundleError) as e:
        Bundle.open(path).close()
    message = str(e.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    return message


def cli(capsys, *argv) -> tuple[int, dict, str]:
    code = main([*map(str, argv), "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


# -- what the path is -------------------------------------------------------------------------


def test_a_directory_is_refused_by_name(tmp_path):
    refused(tmp_path, "is a directory")


@linux_only
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.flb"
    os.mkfifo(fifo)
    signal.alarm(10)  # a reader that opened the FIFO would block forever; fail instead
    try:
        refused(fifo, "is a FIFO")
        link = tmp_path / "link.flb"
        link.symlink_to(fifo)
        refused(link, "is a FIFO")
    finally:
        signal.alarm(0)


@linux_only
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_character_device_is_refused_without_reading_it(tmp_path, device):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    refused(device, "is a character device")
    link = tmp_path / "zero.flb"
    link.symlink_to(device)
    refused(link, "is a character device")


def test_a_file_over_the_size_cap_is_refused_before_reading(tmp_path):
    big = tmp_path / "big.flb"
    with open(big, "wb") as f:
        f.truncate(MAX_BUNDLE_BYTES + 1)  # sparse: no disk used
    refused(big, f"over the {MAX_BUNDLE_BYTES // 2**20} MiB")


# -- the zip ---------------------------------------------------------------------------------


def test_every_flipped_byte_of_the_end_record_is_a_bundle_error(tmp_path):
    data = fb.fixture_bundle("tiny").read_bytes()
    end = data.rindex(b"PK\x05\x06")
    assert end + 22 == len(data)
    for i in range(22):
        flipped = bytearray(data)
        flipped[end + i] ^= 0xFF
        path = tmp_path / f"eocd{i}.flb"
        path.write_bytes(bytes(flipped))
        refused(path)


def test_an_encrypted_member_is_refused(tmp_path):
    path = patch_headers(mutant(tmp_path / "enc.flb"), "fp32.tflite", flags=0x0001)
    refused(path, "member 'fp32.tflite' is encrypted")


def test_an_unknown_compression_method_is_refused(tmp_path):
    path = patch_headers(mutant(tmp_path / "m77.flb"), "int8.tflite", method=77)
    refused(path, "member 'int8.tflite' is in unknown zip method 77")


def test_a_compressed_member_is_refused_and_never_inflated(tmp_path):
    path = mutant(tmp_path / "deflated.flb", methods={"golden/inputs.npy": zipfile.ZIP_DEFLATED})
    refused(path, "member 'golden/inputs.npy' is compressed (deflate)", "never inflates")


def test_a_zip_bomb_manifest_is_refused_without_inflating_it(tmp_path):
    """The issue's bomb: a stored-looking bundle whose manifest.json is deflated. Here it
    holds 16 MiB of zeros (the compressed member is 16 KB) and its headers claim 3.5 GiB,
    as the issue's did; a reader that inflated it would allocate one or the other."""
    manifest = _members("tiny")[MANIFEST]
    path = mutant(tmp_path / "bomb.flb", raw_manifest=manifest + b" " + bytes(16 * 2**20),
                  methods={MANIFEST: zipfile.ZIP_DEFLATED})
    assert path.stat().st_size < 200_000
    patch_headers(path, MANIFEST, size=int(3.5 * 2**30) & 0xFFFFFFFF)
    tracemalloc.start()
    try:
        refused(path, f"member '{MANIFEST}' is compressed (deflate)")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20  # far under the 16 MiB it inflates to, let alone 100 MB


def test_a_zip_bomb_is_exit_2_on_the_cli(tmp_path, capsys):
    path = mutant(tmp_path / "bomb.flb", raw_manifest=bytes(8 * 2**20), methods={MANIFEST: zipfile.ZIP_DEFLATED})
    t0 = time.perf_counter()
    code, doc, _ = cli(capsys, "verify", path)
    assert code == 2 and "is compressed" in doc["problems"][0]
    assert time.perf_counter() - t0 < 5.0


@pytest.mark.parametrize("member", [MANIFEST, "fp32.tflite"])
def test_a_member_named_twice_is_refused(tmp_path, member):
    members = list(_members("tiny").items())
    twice = dict(members)[member]
    path = write_zip(tmp_path / "dup.flb", [*members, (member, twice[:-1] + b" " if member == MANIFEST else twice)])
    refused(path, f"two members named '{member}'")


@pytest.mark.parametrize("name", ["", "../evil.tflite", "/etc/passwd", "golden\\x.npy", "golden/../x.npy", "./x",
                                  "a//b", "dir/", "c:x", "tab\tname", "fp32.tfli\u0442e", "x" * 256])
def test_a_path_like_member_name_is_refused(tmp_path, name):
    path = mutant(tmp_path / "paths.flb", extra=[(name, b"x")])
    refused(path, "is not a plain relative name")


def test_a_member_name_with_a_nul_is_refused(tmp_path):
    path = mutant(tmp_path / "nul.flb", extra=[("e", b"x")])
    data = path.read_bytes()
    central, local = _entries(data)["e"]
    patched = bytearray(data)
    patched[central + 46] = patched[local + 30] = 0
    path.write_bytes(bytes(patched))
    refused(path, "is not a plain relative name")


def test_a_local_header_that_disagrees_with_the_central_directory_is_refused(tmp_path):
    path = patch_headers(mutant(tmp_path / "lie.flb"), "fp32.tflite", size=100, local_only=True)
    refused(path, "member 'fp32.tflite'", "local header and the central directory disagree")


def test_a_member_whose_bytes_run_past_the_directory_is_refused(tmp_path):
    path = patch_headers(mutant(tmp_path / "long.flb"), "fp32.tflite", size=10**7)
    refused(path, "runs past")


def test_a_member_over_its_size_cap_is_refused(tmp_path):
    manifest = _members("tiny")[MANIFEST]
    path = mutant(tmp_path / "fat.flb", raw_manifest=manifest + b" " * MAX_MANIFEST_BYTES)
    refused(path, f"member '{MANIFEST}' is {len(manifest) + MAX_MANIFEST_BYTES} bytes, over the {MAX_MANIFEST_BYTES}")


def test_too_many_members_are_refused(tmp_path):
    path = mutant(tmp_path / "many.flb", extra=[(f"extra/{i}", b"") for i in range(MAX_MEMBERS)])
    refused(path, f"more than the {MAX_MEMBERS} a bundle may hold")


def test_a_damaged_manifest_fails_its_crc(tmp_path):
    path = mutant(tmp_path / "crc.flb")
    data = bytearray(path.read_bytes())
    start = data.index(b'"name"')
    data[start + 1] = ord("N")
    path.write_bytes(bytes(data))
    refused(path, f"member '{MANIFEST}' fails its CRC-32 check")


# -- the manifest's JSON and schema --------------------------------------------------------------


MANIFEST_MUTANTS = [
    ("golden is a string", lambda m: m.update(golden="x"), 'golden: must be an object, got string "x"'),
    ("mean holds strings", lambda m: m["input"].update(mean=["x", "y", "z"]), "input.mean[0]: must be a number"),
    ("input 20000x20000", lambda m: m["input"].update(shape=[1, 20000, 20000, 3]), "input.shape[1]: must be <= 2048"),
    ("input side under 8", lambda m: m["input"].update(shape=[1, 4, 32, 3]), "input.shape[1]: must be >= 8"),
    ("batch of 64", lambda m: m["input"].update(shape=[64, 32, 32, 3]), "input.shape[0]: must be 1"),
    ("4 channels", lambda m: m["input"].update(shape=[1, 32, 32, 4]),
     "input.shape[3]: color 'gray_as_rgb' gives 3 channels, got 4"),
    ("gray with 3 channels", lambda m: m["input"].update(color="gray"), "input.shape[3]: color 'gray' gives 1 channel"),
    ("1001 labels", lambda m: m.update(labels=[f"l{i}" for i in range(1001)]), "labels: must hold at most 1000 items"),
    ("65-character label", lambda m: m["labels"].__setitem__(0, "x" * 65), "labels[0]: must be at most 64 characters"),
    ("variant file outside the bundle", lambda m: m["variants"]["fp32"].update(file="../fp32.tflite"),
     "variants.fp32.file: must match"),
    ("shell in a variant name", lambda m: m["variants"].update({"x;touch${IFS}INJECTED;#": m["variants"]["fp32"]}),
     'variants: key "x;touch${IFS}INJECTED;#" is not one of'),
    ("golden member outside golden/", lambda m: m["golden"].update(inputs="manifest.json"), "golden.inputs: must match"),
    ("sha256 in capitals", lambda m: m["variants"]["fp32"].update(sha256=m["variants"]["fp32"]["sha256"].upper()),
     "variants.fp32.sha256: must match ^[0-9a-f]{64}$"),
    ("detection channels not a list", lambda m: m["output"].update(channels=5), "output.channels: must be an array"),
    ("box margin a string", lambda m: m["output"].update(box_margin="x"), "output.box_margin: must be a number"),
]


@pytest.mark.parametrize("edit, message", [m[1:] for m in MANIFEST_MUTANTS], ids=[m[0] for m in MANIFEST_MUTANTS])
def test_a_manifest_of_wrong_types_or_sizes_is_refused_naming_the_json_path(tmp_path, edit, message):
    refused(mutant(tmp_path / "m.flb", edit=edit), f"{MANIFEST}: ", message)


RAW_MANIFESTS = [
    ("deep nesting", lambda text: text[:-1] + ', "metrics": ' + "[" * 100_000 + "]" * 100_000 + "}",
     "nested 100001 levels deep; at most 32 allowed"),
    ("NaN", lambda text: text.replace('"margin": 0.0', '"margin": NaN'), "input.margin: not a finite number"),
    ("Infinity", lambda text: text.replace('"margin": 0.0', '"margin": Infinity'), "input.margin: not a finite number"),
    ("1e999", lambda text: text.replace('"margin": 0.0', '"margin": 1e999'), "input.margin: not a finite number"),
    ("a key twice", lambda text: text[:-1] + ', "name": "other"}', 'name: appears twice'),
    ("not UTF-8", lambda text: text.replace('"tiny"', '"ti\udcffny"'), "unreadable JSON"),
    ("a 5000-digit number", lambda text: text.replace('"margin": 0.0', '"margin": ' + "9" * 5000), "unreadable JSON"),
    ("not an object", lambda text: "[" + text + "]", "is not a JSON object"),
]


@pytest.mark.parametrize("change, message", [m[1:] for m in RAW_MANIFESTS], ids=[m[0] for m in RAW_MANIFESTS])
def test_manifest_json_that_other_readers_would_read_otherwise_is_refused(tmp_path, change, message):
    text = json.dumps(json.loads(_members("tiny")[MANIFEST]))
    raw = change(text).encode("utf-8", "surrogateescape")
    refused(mutant(tmp_path / "raw.flb", raw_manifest=raw), message)


def test_a_manifest_naming_a_missing_golden_member_is_refused(tmp_path):
    path = mutant(tmp_path / "nogold.flb", edit=lambda m: m["golden"].update(outputs="golden/gone.npy"))
    refused(path, "golden block names missing member golden/gone.npy")


# -- .npy goldens ---------------------------------------------------------------------------


class _Touch:
    """Unpickling this creates a file: proof that a pickle was (or was not) run."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def test_a_pickled_golden_is_refused_without_unpickling_it(tmp_path, capsys):
    sentinel = tmp_path / "PICKLE_RAN"
    evil = np.empty(16, dtype=object)
    evil[:] = [_Touch(sentinel)] * 16
    path = mutant(tmp_path / "pickle.flb", replace={"golden/inputs.npy": _npy(evil, allow_pickle=True)})
    with Bundle.open(path) as b, pytest.raises(BundleError, match=r"golden/inputs\.npy: holds object elements"):
        b.golden_inputs()
    code, doc, _ = cli(capsys, "verify", path, "--allow-unsigned")  # past the signature, to the golden
    assert code == 2 and any("holds object elements" in p for p in doc["problems"])
    assert not sentinel.exists()


def test_a_golden_header_claiming_a_huge_shape_is_refused_before_allocating(tmp_path):
    import io

    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "|u1", "fortran_order": False,
                                                "shape": (100_000, 100_000, 3)})
    path = mutant(tmp_path / "huge.flb", replace={"golden/inputs.npy": head.getvalue() + bytes(64)})
    tracemalloc.start()
    try:
        with Bundle.open(path) as b, pytest.raises(BundleError, match=r"header says shape \(100000, 100000, 3\)"):
            b.golden_inputs()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


@pytest.mark.parametrize("array, message", [
    (np.zeros((16, 32, 32, 3), ">f4"), "holds >f4 elements"),
    (np.asfortranarray(np.zeros((16, 32, 32, 3), np.uint8)), "Fortran order"),
    (np.zeros((16, 32, 32, 3), [("a", "u1")]), "elements"),
    (np.zeros((16, 8, 8, 3), np.uint8), "goldens are (N, 32, 32, 3)"),
    (np.zeros((16, 32, 32, 3), np.float32), "golden pixels are uint8"),
])
def test_a_golden_of_another_type_order_or_shape_is_refused(tmp_path, array, message):
    path = mutant(tmp_path / "g.flb", replace={"golden/inputs.npy": _npy(array)})
    with Bundle.open(path) as b, pytest.raises(BundleError) as e:
        b.golden_inputs()
    assert message in str(e.value)


def test_golden_outputs_with_the_wrong_row_count_are_refused(tmp_path):
    path = mutant(tmp_path / "rows.flb", replace={"golden/fp32_outputs.npy": _npy(np.zeros((3, 4), np.float32))})
    with Bundle.open(path) as b, pytest.raises(BundleError, match="one row per golden input"):
        b.golden()


def test_read_npy_round_trips_what_numpy_writes():
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    back = read_npy(_npy(array), "x.npy")
    assert back.flags.writeable and np.array_equal(back, array)
    with pytest.raises(BundleError, match="not a readable .npy header"):
        read_npy(b"\x93NUMPY\x01\x00\x10\x00{'descr': 1}    \n", "x.npy")


# -- what only the model can tell --------------------------------------------------------------------


def _short_labels(tmp_path) -> Path:
    return mutant(tmp_path / "short.flb", name="expression", edit=lambda m: m.update(labels=m["labels"][:6]))


@pytest.mark.filterwarnings("ignore:.*is not signed")
def test_a_label_list_shorter_than_the_output_is_refused_when_the_engine_is_made(tmp_path):
    from facelite import BaseOptions
    from facelite.classifier import ClassifierOptions, ImageClassifier

    options = ClassifierOptions(base_options=BaseOptions(bundle_path=_short_labels(tmp_path),
                                                         require_signature=False, accelerator="cpu"))
    with pytest.raises(BundleError, match="outputs 7 scores per image but the manifest lists 6 labels"):
        ImageClassifier.create_from_options(options)


def test_analyze_with_a_short_label_list_exits_2_naming_the_counts(tmp_path, capsys):
    import cv2

    folder = tmp_path / "bundles" / "expression"
    folder.mkdir(parents=True)
    _short_labels(folder).rename(folder / "expression.flb")
    image = tmp_path / "face.png"
    cv2.imwrite(str(image), np.full((64, 64, 3), 128, np.uint8))
    code, doc, err = cli(capsys, "analyze", image, "--bundles", tmp_path / "bundles", "--stand-ins",
                         "--allow-unsigned", "--accelerator", "cpu")
    assert code == 2 and "7 scores" in doc["error"] and "6 labels" in doc["error"]
    assert "Traceback" not in err


def test_verify_reports_a_short_label_list(tmp_path):
    report = verify_bundle(_short_labels(tmp_path), policy=UNSIGNED)
    assert not report["ok"]
    assert any("outputs 7 scores per image but the manifest lists 6 labels" in p for p in report["problems"])


def _tensor_index_minus_one(tmp_path) -> Path:
    import flatbuffers
    from ai_edge_litert import schema_py_generated as tfl

    model_bytes = _members("tiny")["fp32.tflite"]
    model = tfl.ModelT.InitFromObj(tfl.Model.GetRootAs(model_bytes, 0))
    model.subgraphs[0].inputs = np.array([-1], np.int32)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return mutant(tmp_path / "minus1.flb", replace={"fp32.tflite": bytes(builder.Output())})


def test_a_variant_size_the_manifest_misstates_is_refused_when_the_bundle_opens(tmp_path):
    """Even for a variant the run never loads (fuzz seed 18: `variants.int8.bytes` off by one,
    analysed on the CPU with fp32): the directory gives every member's size for free."""
    path = mutant(tmp_path / "size.flb", edit=lambda m: m["variants"]["int8"].update(bytes=m["variants"]["int8"]
                                                                                      ["bytes"] + 1))
    with pytest.raises(BundleError, match=r"variant 'int8' is (\d+) bytes, manifest says (?!\1)\d+; the bundle is "
                                          "damaged or tampered with"):
        Bundle.open(path)


def test_inspect_reports_a_flatbuffer_with_tensor_index_minus_one_as_a_bundle_error(tmp_path, capsys):
    path = _tensor_index_minus_one(tmp_path)
    with pytest.warns(SignatureWarning, match="is not signed"):
        summary = inspect_bundle(path, policy=UNSIGNED)
    assert ("variant 'fp32' is not a well-formed TFLite model: subgraph 0: input 0 is tensor -1"
            in summary["variants"]["fp32"]["error"])
    assert "tensors" in summary["variants"]["int8"]
    code, _, err = cli(capsys, "inspect", path, "--allow-unsigned")
    assert code == 2 and "Traceback" not in err


def _operator_input_minus_one(tmp_path, signer) -> Path:
    """The fuzz campaign's crash (bundle:1738, bundle:152): a convolution's input 0 set to
    -1, sha256 re-sealed and signed by a trusted key. LiteRT segfaults on it unchecked."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as tfl
    from facelite.signing import sign_bundle

    members = _members("tiny")
    model = tfl.ModelT.InitFromObj(tfl.Model.GetRootAs(bytearray(members["fp32.tflite"]), 0))
    model.subgraphs[0].operators[0].inputs[0] = -1
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    members["fp32.tflite"] = bytes(builder.Output())
    manifest = json.loads(members[MANIFEST])
    manifest["variants"]["fp32"].update(bytes=len(members["fp32.tflite"]),
                                        sha256=sha256_bytes(members["fp32.tflite"]))
    members[MANIFEST] = json.dumps(manifest).encode()
    unsigned = write_members(tmp_path / "unsigned.flb", list(members.items()))
    return sign_bundle(unsigned, signer, out=tmp_path / "models" / "expression" / "expression.flb")


@pytest.mark.parametrize("command", ["verify", "inspect", "analyze"])
def test_a_trusted_signature_on_a_malformed_model_is_exit_2_naming_the_operator(tmp_path, capsys, command):
    """The signature is the first line, the structure check the second: a malformed model a
    trusted key signed by mistake never reaches LiteRT from any command."""
    import cv2
    from facelite.signing import generate_key_pair

    private, public = generate_key_pair(tmp_path / "keys" / "me.pem")
    path = _operator_input_minus_one(tmp_path, private)
    image = tmp_path / "face.png"
    cv2.imwrite(str(image), np.full((64, 64, 3), 128, np.uint8))
    target = {"verify": [path], "inspect": [path], "analyze": [image, "--bundles", tmp_path / "models",
                                                               "--stand-ins", "--variant", "fp32"]}[command]
    code, _, err = cli(capsys, command, *target, "--trusted-keys", public)
    assert code == 2 and "Traceback" not in err
    assert ("variant 'fp32' is not a well-formed TFLite model: subgraph 0: operator 0 (CONV_2D): input 0 is tensor -1"
            in err)


# -- tolerances --------------------------------------------------------------------------------


def test_a_bundle_cannot_loosen_its_own_tolerance(tmp_path):
    """The issue's re-sealed tamper: the goldens no longer match the model and the bundle
    asks for a tolerance loose enough to pass anyway. The runtime's tolerance stands."""
    loose = {"fp32": {"max_abs_err": 10.0, "top1_agreement": 0.0}}
    path = mutant(tmp_path / "loose.flb", replace={"golden/fp32_outputs.npy": _npy(np.zeros((16, 4), np.float32))},
                  edit=lambda m: m.update(verify={"tolerance": loose}))
    report = verify_bundle(path, policy=UNSIGNED)
    fp32 = report["variants"]["fp32"]
    assert not report["ok"] and not fp32["ok"]
    assert fp32["tolerance"] == PARITY_TOLERANCES["fp32"]
    assert fp32["bundle_tolerance"] == {"asked": loose["fp32"], "ignored": loose["fp32"]}
    assert "only tightens" in report["tolerance_rule"]


def test_a_bundle_may_tighten_its_tolerance(tmp_path):
    tight = {"int8": {"max_abs_err": 1e-9, "top1_agreement": 1.0}}
    path = mutant(tmp_path / "tight.flb", edit=lambda m: m.update(verify={"tolerance": tight}))
    entry = verify_bundle(path, policy=UNSIGNED)["variants"]["int8"]
    assert entry["tolerance"] == tight["int8"] and entry["bundle_tolerance"]["ignored"] == {}
    assert not entry["ok"]  # int8 is never within 1e-9 of the float model


def test_effective_tolerance_takes_the_stricter_value_per_key():
    used, ignored = effective_tolerance({"max_abs_err": 0.01, "top1_agreement": None},
                                        {"max_abs_err": None, "top1_agreement": 0.5, "speed": 3})
    assert used == {"max_abs_err": 0.01, "top1_agreement": 0.5}
    assert ignored == {"max_abs_err": None, "speed": 3}


# -- on the command line, every finding is exit 2 -------------------------------------------------


CLI_MUTANTS = {
    "flipped end record": lambda p: p.write_bytes(fb.fixture_bundle("tiny").read_bytes()[:-22] + b"PK\x05\x06"
                                                  + bytes(18)) or p,
    "encryption flag": lambda p: patch_headers(mutant(p), "fp32.tflite", flags=1),
    "unknown method": lambda p: patch_headers(mutant(p), "fp32.tflite", method=99),
    "two manifests": lambda p: write_zip(p, [*_members("tiny").items(), (MANIFEST, _members("tiny")[MANIFEST])]),
    "two fp32 variants": lambda p: write_zip(p, [*_members("tiny").items(), ("fp32.tflite", b"\0" * 8)]),
    "golden a string": lambda p: mutant(p, edit=lambda m: m.update(golden="x")),
    "mean of strings": lambda p: mutant(p, edit=lambda m: m["input"].update(mean=["x", "y", "z"])),
    "deep nesting": lambda p: mutant(p, raw_manifest=b"[" * 50_000 + b"]" * 50_000),
    "20000x20000 input": lambda p: mutant(p, edit=lambda m: m["input"].update(shape=[1, 20000, 20000, 3])),
}


@pytest.mark.parametrize("command", ["verify", "inspect"])
@pytest.mark.parametrize("make", list(CLI_MUTANTS.values()), ids=list(CLI_MUTANTS))
def test_every_bundle_finding_is_exit_2_with_the_file_named(tmp_path, capsys, command, make):
    path = make(tmp_path / "mutant.flb")
    code, doc, err = cli(capsys, command, path)
    assert code == 2, doc
    message = doc["problems"][0] if command == "verify" else doc["error"]
    assert str(path) in message
    assert "Traceback" not in err


def test_every_single_byte_change_in_a_npy_header_is_a_bundle_error_or_reads():
    """numpy tokenizes the header's Python literal: an unclosed bracket raises tokenize.TokenError."""
    from facelite.bundle import npy_bytes, read_npy

    data = npy_bytes(np.zeros((2, 3), np.float32))
    for i in range(10, 80):
        for value in (0x00, 0x22, 0x27, 0x28, 0x5b, 0x7b, 0xFF):
            mutated = bytearray(data)
            mutated[i] = value
            try:
                read_npy(bytes(mutated), "golden/inputs.npy")
            except BundleError:
                pass
