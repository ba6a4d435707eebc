"""`facelite-bench --device native` runs the session's `facelite-run` and reports its latency and
golden parity with the same keys as the Python reference device."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from facelite_bench.devices.base import JobSpec
from facelite_bench.devices.native import NativeDevice, find_runner, golden_to_parity
from fixture_bundles import fixture_bundle

LATENCY_KEYS = ("init_ms", "first_ms", "warmup_avg_ms", "avg_ms", "p50_ms", "p90_ms", "p99_ms", "std_ms",
                "peak_rss_mb", "accelerator")
PARITY_KEYS = ("top1_agreement", "psnr_db", "max_abs_err", "accuracy")


def test_the_runner_is_found_through_facelite_run(c_build, monkeypatch):
    monkeypatch.setenv("FACELITE_RUN", str(c_build.runner))
    assert find_runner() == str(c_build.runner)
    device = NativeDevice()
    assert device.describe() == {"id": "native", "kind": "native", "status": "ready",
                                 "info": {"runner": str(c_build.runner)}}


def test_a_native_job_reports_latency_and_golden_parity(c_build, monkeypatch):
    monkeypatch.setenv("FACELITE_RUN", str(c_build.runner))
    seen = []
    res = NativeDevice().run(str(fixture_bundle("tiny")), JobSpec(variant="int8", runs=20, warmup=2),
                             progress=lambda fraction, stage: seen.append(stage))
    for key in LATENCY_KEYS:
        assert key in res, key
    assert res["variant"] == "int8" and res["runner"] == "facelite-run" and res["device"] == "native"
    parity = res["parity"]
    assert parity["n_golden"] == 16 and parity["golden_ok"] is True and parity["golden_mismatches"] == 0
    assert parity["top1_agreement"] >= 0.75 and parity["accuracy"] is None
    assert {"timing", "parity"} <= set(seen)


def test_facelite_bench_run_device_native_prints_the_contract(c_build):
    env = dict(os.environ, FACELITE_RUN=str(c_build.runner))
    p = subprocess.run([sys.executable, "-m", "facelite_bench.cli", "run", str(fixture_bundle("tiny")),
                        "--device", "native", "--variant", "fp32", "--runs", "30", "--json"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    for key in LATENCY_KEYS:
        assert key in doc, key
    for key in PARITY_KEYS:
        assert key in doc["parity"], key
    assert doc["p50_ms"] <= doc["p90_ms"] <= doc["p99_ms"] and doc["peak_rss_mb"] > 0
    assert doc["runner"] == "facelite-run" and doc["runtime"] == "litert-c"
    assert doc["parity"]["max_abs_err"] <= 1e-4 and doc["parity"]["top1_agreement"] == 1.0


def test_a_refused_bundle_is_a_user_error_of_the_bench(c_build, tmp_path):
    from fixture_bundles import tamper

    bad = tamper(fixture_bundle("tiny"), tmp_path / "bad.flb", "int8.tflite")
    env = dict(os.environ, FACELITE_RUN=str(c_build.runner))
    p = subprocess.run([sys.executable, "-m", "facelite_bench.cli", "run", str(bad), "--device", "native",
                        "--runs", "3"], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 2 and "int8.tflite" in p.stderr and "Traceback" not in p.stderr


def test_golden_to_parity_without_a_golden_block():
    assert golden_to_parity({}) == {"top1_agreement": None, "psnr_db": None, "max_abs_err": None, "accuracy": None,
                                    "n_golden": None, "golden_mismatches": None, "golden_ok": None,
                                    "golden_against": None}


def test_an_adb_job_pushes_facelite_run_with_its_libraries_and_reports_golden_parity(c_build, tmp_path):
    """On the host-emulated phone: the native runner, libfacelite and libLiteRt.so are pushed side by side
    and the job runs with LD_LIBRARY_PATH set to that folder (what a real arm64 phone needs)."""
    from pathlib import Path

    adb = Path(__file__).resolve().parents[1] / "benchmark_app" / "host_emulated_adb" / "adb"
    env = {**os.environ, "FACELITE_BENCH_ADB": str(adb), "HOST_EMULATED_ADB_ROOT": str(tmp_path / "device"),
           "FACELITE_RUN_ANDROID": str(c_build.runner)}
    p = subprocess.run([sys.executable, "-m", "facelite_bench.cli", "run", str(fixture_bundle("tiny")),
                        "--device", "adb:host-emulated-0", "--runner", "native", "--variant", "int8",
                        "--runs", "5", "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["runner"] == "facelite-run" and doc["parity"]["golden_ok"] is True
    remote = tmp_path / "device" / "data" / "local" / "tmp" / "facelite"
    assert (remote / "facelite-run").exists() and (remote / "libLiteRt.so").exists()
    assert list(remote.glob("libfacelite.so*"))
