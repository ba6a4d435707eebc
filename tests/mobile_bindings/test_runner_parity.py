"""`facelite-run`, the native runner, gives the Python runtime's answers and the CLI contract.

The must-show of issue #10's first step: for every shipped bundle and every variant, the
runner's outputs on the goldens (`--outputs`) equal `facelite.engine.Engine(bundle,
variant).run(bundle.golden()[0])` within 1e-5 for float variants and exactly for int8, with
the same thread count. Then: `--golden` reproduces each variant's own goldens within
`facelite verify`'s tolerances, the JSON carries the bench's keys, and bad input exits 2
with a message naming what is wrong (a tampered member, a truncated file, a missing one).
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import mutants
import numpy as np
import pytest
from facelite.bundle import Bundle, write_members
from facelite.engine import Engine
from facelite.errors import BundleError
from facelite.signing import SignaturePolicy, check_signature
from fixture_bundles import fixture_bundle, tamper

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(REPO.glob("models/*/*.flb"))
FIXTURES = sorted((REPO / "tests" / "fixtures" / "bundles").glob("*.flb"))
THREADS = 2
LATENCY_KEYS = ("init_ms", "first_ms", "warmup_avg_ms", "avg_ms", "p50_ms", "p90_ms", "p99_ms", "std_ms",
                "peak_rss_mb", "accelerator", "variant")
FLOAT_TOLERANCE = 1e-5


def variants_of(paths):
    out = []
    for path in paths:
        with Bundle.open(path) as b:
            out += [pytest.param(path, v, id=f"{path.stem}-{v}") for v in sorted(b.variants)]
    return out


def run(c_build, *args, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(c_build.runner), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def run_json(c_build, *args) -> tuple[int, dict, str]:
    p = run(c_build, *args, "--json")
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 1, f"stdout is not one JSON document: {p.stdout[-1000:]}"
    return p.returncode, json.loads(lines[0]), p.stderr


@pytest.mark.parametrize("path, variant", variants_of(SHIPPED + FIXTURES))
def test_runner_outputs_on_the_goldens_equal_the_python_runtime(c_build, tmp_path, path, variant):
    out = tmp_path / "outputs.npy"
    code, doc, err = run_json(c_build, path, "--variant", variant, "--threads", THREADS, "--runs", 0, "--warmup", 0,
                              "--outputs", out)
    assert code == 0, err
    assert doc["variant"] == variant and doc["accelerator"] == "cpu"
    native = np.load(out)
    with Bundle.open(path) as b:
        x = b.golden()[0]
        engine = Engine(b, variant, "cpu", THREADS)
        python = np.concatenate([o.reshape(len(x), -1) for o in engine.run(x)], axis=1)
    assert native.dtype == np.float32 and native.shape == python.shape
    diff = float(np.abs(native.astype(np.float64) - python).max())
    print(f"{path.stem} {variant}: max |native - python| = {diff:.3g} over {native.size} values")
    if variant == "int8":
        assert np.array_equal(native, python), f"int8 outputs differ by up to {diff}"
    else:
        assert diff <= FLOAT_TOLERANCE


@pytest.mark.parametrize("path, variant", variants_of(SHIPPED))
def test_runner_reproduces_each_variants_own_goldens_within_verify_tolerance(c_build, path, variant):
    code, doc, err = run_json(c_build, path, "--variant", variant, "--golden", "--runs", 3, "--warmup", 1)
    assert code == 0, err
    for key in LATENCY_KEYS:
        assert key in doc, key
    assert doc["p50_ms"] <= doc["p90_ms"] <= doc["p99_ms"] and doc["peak_rss_mb"] > 0
    g = doc["golden"]
    with Bundle.open(path) as b:
        assert g["n"] == b.manifest["golden"]["count"]
    assert g["against"] == variant and g["ok"] and g["mismatches"] == 0, g
    assert g["max_abs_err"] <= g["tolerance"]["max_abs_err"]
    assert doc["signature"]["valid"] and doc["signature"]["development_key"]


def test_runner_json_names_the_variant_accelerator_and_fallback(c_build):
    code, doc, err = run_json(c_build, fixture_bundle("tiny"), "--accelerator", "gpu", "--runs", 5)
    assert code == 0, err
    assert doc["accelerator_requested"] == "gpu"
    assert doc["accelerator"] == "gpu" or doc["fallback_reason"].startswith("gpu: ")
    assert len(doc["samples_ms"]) == 5 and doc["runs"] == 5 and doc["threads"] == 1
    code, doc, _ = run_json(c_build, fixture_bundle("tiny"), "--variant", "int8", "--runs", 1, "--golden")
    assert code == 0 and doc["variant"] == "int8"
    assert doc["golden"]["against"] == "fp32"  # the fixture predates per-variant goldens: legacy tolerance
    assert doc["golden"]["tolerance"]["max_abs_err"] == 0.25


def test_progress_lines_go_to_stderr_only_when_asked(c_build):
    p = run(c_build, fixture_bundle("tiny"), "--runs", 3, "--golden", "--json", "--progress")
    assert p.returncode == 0
    assert "progress 3 3 timing" in p.stderr and "progress 1 1 parity" in p.stderr
    assert "progress" not in run(c_build, fixture_bundle("tiny"), "--runs", 3, "--json").stderr


# -- bad input: exit 2 with a message ----------------------------------------------------------


def expect_user_error(c_build, *args, mentions: str) -> dict:
    code, doc, err = run_json(c_build, *args)
    assert code == 2, (code, doc, err)
    assert doc["exit_code"] == 2 and doc["kind"] == "user" and mentions in doc["error"], doc
    assert f"error: {doc['error']}" in err
    return doc


def test_a_tampered_member_exits_2_naming_it(c_build, tmp_path):
    bad = tamper(fixture_bundle("tiny"), tmp_path / "tampered.flb", "int8.tflite")
    expect_user_error(c_build, bad, "--runs", 1, mentions="member int8.tflite differs from the signed bytes")


def test_a_checksum_mismatch_exits_2_naming_the_variant_before_litert_sees_it(c_build, tmp_path):
    """Unsigned (so the signature cannot catch it first) and let through with --allow-unsigned."""
    with Bundle.open(fixture_bundle("tiny")) as b:
        members = [(n, bytearray(b.member_view(n))) for n in b.member_names() if n != "signature.json"]
    for name, data in members:
        if name == "int8.tflite":
            data[len(data) // 2] ^= 0xFF
    bad = write_members(tmp_path / "unsigned.flb", [(n, bytes(d)) for n, d in members])
    expect_user_error(c_build, bad, "--runs", 1, mentions="is not signed, and a signature is required")
    code, doc, _ = run_json(c_build, bad, "--allow-unsigned", "--variant", "fp32", "--runs", 1)
    assert code == 0 and doc["signature"]["signed"] is False and "is not signed" in doc["signature"]["warning"]
    expect_user_error(c_build, bad, "--allow-unsigned", "--variant", "int8", "--runs", 1,
                      mentions="variant 'int8' (member int8.tflite) fails its sha256 check")


def test_a_truncated_bundle_exits_2(c_build, tmp_path):
    data = fixture_bundle("tiny").read_bytes()
    for cut in (0, 100, len(data) // 2, len(data) - 1):
        path = tmp_path / f"cut{cut}.flb"
        path.write_bytes(data[:cut])
        expect_user_error(c_build, path, "--runs", 1, mentions="empty" if cut == 0 else "not a facelite bundle")


def test_missing_files_and_bad_arguments_exit_2(c_build, tmp_path):
    expect_user_error(c_build, tmp_path / "missing.flb", mentions="no such bundle file")
    expect_user_error(c_build, tmp_path, mentions="is a directory")
    tiny = fixture_bundle("tiny")
    expect_user_error(c_build, tiny, "--variant", "fp8", mentions="no variant 'fp8'; this bundle has fp32, int8")
    expect_user_error(c_build, tiny, "--runs", "many", mentions="--runs many: give a whole number")
    expect_user_error(c_build, tiny, "--accelerator", "tpu", mentions="not one of auto, cpu, gpu, npu")
    expect_user_error(c_build, tiny, "--frobnicate", mentions="unknown option --frobnicate")
    expect_user_error(c_build, tiny, "--no-development-key", mentions="signed by untrusted key 8cf0cd82b2848afe")
    expect_user_error(c_build, tiny, "--trusted-keys", tmp_path / "none.pub", mentions="no such trusted key")
    p = run(c_build)
    assert p.returncode == 2 and "error: no bundle given" in p.stderr and p.stdout == ""


def test_trusted_keys_from_a_file_or_the_environment(c_build, tmp_path):
    key = REPO / "sdk_python" / "facelite" / "development_key.pub"
    tiny = fixture_bundle("tiny")
    code, doc, _ = run_json(c_build, tiny, "--no-development-key", "--trusted-keys", key, "--runs", 1)
    assert code == 0 and doc["signature"]["trusted"]
    folder = tmp_path / "keys"
    folder.mkdir()
    (folder / "dev.pub").write_bytes(key.read_bytes())
    p = subprocess.run([str(c_build.runner), str(tiny), "--no-development-key", "--runs", "1", "--json"],
                       capture_output=True, text=True, timeout=60, env={"FACELITE_TRUSTED_KEYS": str(folder)})
    assert p.returncode == 0 and json.loads(p.stdout)["signature"]["trusted"], p.stderr


# -- hostile bundles -------------------------------------------------------------------------------


def test_a_model_whose_shapes_change_in_litert_is_refused_before_it_runs(c_build, tmp_path):
    """Zeroed weights turn the classifier's reshape target into one LiteRT resolves to (64, 7)
    instead of the declared (1, 7); run, it would write past the output buffer. Re-sealed and
    re-signed by a key the run trusts, so only the engine's own check stands in the way."""
    signer = mutants.Signer(seed=bytes(range(32)))
    src = mutants.BundleSource.load(fixture_bundle("expression"), "fixture")
    m = mutants._Mutation(src, random.Random(0), signer)
    m._resign = True
    fp32 = src.manifest["variants"]["fp32"]["file"]
    bad = tmp_path / "zeroed.flb"
    bad.write_bytes(m.build(mutants._reseal(m, "fp32", mutants.zero_weights(src.members[fp32]))))
    key = tmp_path / "signer.pub"
    key.write_bytes(signer.public_pem())
    expect_user_error(c_build, bad, "--trusted-keys", key, "--variant", "fp32", "--golden",
                      mentions="is declared (1, 7) but LiteRT computes (64, 7)")


def test_fuzz_mutants_never_crash_the_runner_and_exit_0_only_where_python_accepts(c_build, tmp_path):
    signer = mutants.Signer(seed=(10).to_bytes(32, "little"))
    key = tmp_path / "signer.pub"
    key.write_bytes(signer.public_pem())
    sources = mutants.load_sources(REPO, ("fixture",))
    for i, category, src in mutants.plan(120, sources):
        m = mutants.bundle_mutant(i, src, category, mutants.mutant_rng(10, "bundle", i), signer)
        path = tmp_path / f"m{i}.flb"
        path.write_bytes(m.data)
        p = run(c_build, path, "--golden", "--runs", 1, "--warmup", 0, "--json", "--trusted-keys", key, timeout=60)
        assert p.returncode in (0, 2), f"mutant {i} ({category}: {m.detail}) exit {p.returncode}\n{p.stderr[-2000:]}"
        assert len(p.stdout.strip().splitlines()) == 1 and json.loads(p.stdout)
        if p.returncode == 0:
            assert python_accepts(path, key), f"mutant {i} ({category}: {m.detail}) ran natively, Python refuses it"
        path.unlink()


def python_accepts(path: Path, key: Path) -> bool:
    try:
        with Bundle.open(path) as b:
            return check_signature(b, SignaturePolicy(require_signature=True, trusted_keys=(key,))).ok
    except BundleError:
        return False


def test_runner_accepts_a_slim_bundle_and_replays_its_kept_variants_goldens(c_build, tmp_path):
    from facelite_build.slim import slim_bundle

    slim = slim_bundle(REPO / "models" / "expression" / "expression.flb", ["int8"], tmp_path / "int8.flb")
    code, doc, err = run_json(c_build, slim, "--golden", "--runs", 1, "--warmup", 0)
    assert code == 0, err
    assert doc["variant"] == "int8" and doc["golden"]["against"] == "int8" and doc["golden"]["ok"]
