"""`facelite-bench run` standalone: local, native (not built), adb via the host-emulated device."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixture_bundles import tamper

HERE = Path(__file__).parent
HOST_ADB = HERE / "host_emulated_adb" / "adb"
LATENCY_KEYS = ("init_ms", "first_ms", "warmup_avg_ms", "avg_ms", "p50_ms", "p90_ms", "p99_ms",
                "std_ms", "peak_rss_mb", "accelerator")
PARITY_KEYS = ("top1_agreement", "psnr_db", "max_abs_err", "accuracy")


def bench(*args, env=None, timeout=120):
    p = subprocess.run([sys.executable, "-m", "facelite_bench.cli", *map(str, args)],
                       capture_output=True, text=True, timeout=timeout, env=dict(os.environ, **(env or {})))
    return p


def check_contract(doc):
    for k in LATENCY_KEYS:
        assert k in doc, k
    for k in PARITY_KEYS:
        assert k in doc["parity"], k
    assert doc["p50_ms"] <= doc["p90_ms"] <= doc["p99_ms"]
    assert doc["peak_rss_mb"] > 0


def test_local_run_json_int8_parity(tiny_bundle, labelled_dir):
    p = bench("run", tiny_bundle, "--device", "local", "--variant", "int8", "--runs", 200,
              "--data", labelled_dir, "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    check_contract(doc)
    assert doc["variant"] == "int8" and doc["accelerator"] == "cpu" and doc["runs"] == 200
    par = doc["parity"]
    assert par["n_golden"] == 16 and par["n_images"] == 24
    assert par["psnr_db"] >= 30, par          # int8 vs fp32 outputs
    assert par["top1_agreement"] >= 0.9, par
    assert par["accuracy"] is not None and abs(par["accuracy"] - par["fp32_accuracy"]) <= 0.1
    assert "%" in p.stderr  # progress shown on stderr
    assert doc["peak_rss_delta_mb"] >= 0


def test_gpu_request_reports_fallback(tiny_bundle):
    p = bench("run", tiny_bundle, "--variant", "fp32", "--accelerator", "gpu", "--runs", 20, "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["accelerator_requested"] == "gpu"
    # the accelerator that actually ran is reported, with the reason when it differs
    assert doc["accelerator"] == "gpu" or doc["fallback_reason"]
    assert doc["parity"]["psnr_db"] is None or doc["parity"]["psnr_db"] > 60  # fp32 vs recorded fp32


def test_user_errors_exit_2(tiny_bundle, tmp_path):
    p = bench("run", tmp_path / "missing.flb", "--json")
    assert p.returncode == 2 and "no such bundle file" in p.stderr and "Traceback" not in p.stderr
    p = bench("run", tiny_bundle, "--variant", "fp8")
    assert p.returncode == 2 and "no variant 'fp8'" in p.stderr
    p = bench("run", tiny_bundle, "--device", "phone")
    assert p.returncode == 2 and "unknown device" in p.stderr
    p = bench("run", tiny_bundle, "--device", "agent:lab")
    assert p.returncode == 2 and "--server" in p.stderr
    bad = tamper(tiny_bundle, tmp_path / "tampered.flb", "int8.tflite")
    p = bench("run", bad, "--variant", "int8", "--runs", 5)
    assert p.returncode == 2 and "sha256" in p.stderr


def test_native_not_built(tiny_bundle, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "FACELITE_RUN": "", "FACELITE_BENCH_ADB": str(HOST_ADB),
           "HOST_EMULATED_ADB_ROOT": str(tmp_path / "device")}
    p = bench("devices", "--json", env=env)
    native = [d for d in json.loads(p.stdout)["devices"] if d["id"] == "native"][0]
    if native["status"] != "not built":
        pytest.skip("facelite-run is built here; the not-built path does not apply")
    p = bench("run", tiny_bundle, "--device", "native", env=env)
    assert p.returncode == 2 and "not built" in p.stderr


@pytest.fixture
def host_adb(tmp_path):
    return {"FACELITE_BENCH_ADB": str(HOST_ADB), "HOST_EMULATED_ADB_ROOT": str(tmp_path / "device")}


def test_adb_host_emulated_discovery_and_run(tiny_bundle, labelled_dir, host_adb, tmp_path):
    p = bench("devices", "--json", env=host_adb)
    dev = [d for d in json.loads(p.stdout)["devices"] if d["kind"] == "adb"][0]
    assert dev["id"] == "adb:host-emulated-0" and dev["status"] == "ready"
    assert dev["info"]["model"] == "Host-Emulated Device" and dev["info"]["android"] == "14"
    assert dev["info"]["soc"].startswith("host-") and dev["info"]["host_emulated"] is True
    p = bench("run", tiny_bundle, "--device", "adb:host-emulated-0", "--variant", "int8", "--runs", 50,
              "--data", labelled_dir, "--json", env=host_adb)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    check_contract(doc)
    assert doc["runner"] == "python-reference (host-emulated)"
    assert doc["parity"]["n_images"] == 24 and doc["parity"]["psnr_db"] >= 30
    remote = tmp_path / "device" / "data" / "local" / "tmp" / "facelite"
    assert (remote / "facelite-run").exists() and list(remote.glob("*.flb"))  # really pushed
    assert (remote / "data").is_dir()


def test_adb_benchmark_model_path(tiny_bundle, host_adb):
    p = bench("run", tiny_bundle, "--device", "adb:host-emulated-0", "--variant", "int8",
              "--accelerator", "gpu", "--runs", 20, "--json",
              "--benchmark-model", HERE / "stand_in_benchmark_model", env=host_adb)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["runner"] == "benchmark_model" and doc["avg_ms"] == pytest.approx(0.1905)
    assert doc["delegate"]["nodes_delegated"] == 5 and doc["accelerator"] == "gpu"


def test_adb_unknown_serial_and_real_phone_without_runner(tiny_bundle, host_adb):
    p = bench("run", tiny_bundle, "--device", "adb:NOPE123", "--runs", 5, env=host_adb)
    assert p.returncode == 2 and "not found" in p.stderr
    from facelite_bench.devices.adb import Adb, AdbDevice
    from facelite_bench.devices.base import DeviceError

    dev = AdbDevice("host-emulated-0", Adb(str(HOST_ADB)))
    dev._props = {"ro.product.model": "Pixel 8", "ro.product.cpu.abi": "arm64-v8a"}  # a real phone
    os.environ.update(host_adb)
    with pytest.raises(DeviceError, match="no runner to push"):
        dev.choose_runner(Path("/tmp"))


INJECTION = "x;touch${IFS}INJECTED;#"


def test_adb_shell_arguments_arrive_quoted_on_the_host_emulated_device(host_adb, tmp_path, monkeypatch):
    from facelite_bench.devices.adb import Adb

    monkeypatch.setenv("HOST_EMULATED_ADB_ROOT", host_adb["HOST_EMULATED_ADB_ROOT"])
    monkeypatch.chdir(tmp_path)
    adb = Adb(str(HOST_ADB))
    adb.shell("host-emulated-0", ["mkdir", "-p", "/data/local/tmp/with space/and'quote"])
    root = Path(host_adb["HOST_EMULATED_ADB_ROOT"])
    assert (root / "data" / "local" / "tmp" / "with space" / "and'quote").is_dir()
    assert adb.shell("host-emulated-0", ["echo", INJECTION]).strip() == INJECTION  # a word, not a command
    assert not list(root.rglob("INJECTED*")) and not list(tmp_path.rglob("INJECTED*"))


def test_adb_variant_with_shell_syntax_is_refused_before_reaching_the_device(tiny_bundle, host_adb, tmp_path,
                                                                              monkeypatch):
    from facelite_bench.devices.adb import Adb, AdbDevice
    from facelite_bench.devices.base import DeviceError, JobSpec

    monkeypatch.setenv("HOST_EMULATED_ADB_ROOT", host_adb["HOST_EMULATED_ADB_ROOT"])
    monkeypatch.chdir(tmp_path)
    for benchmark_model in (str(HERE / "stand_in_benchmark_model"), None):
        dev = AdbDevice("host-emulated-0", Adb(str(HOST_ADB)), benchmark_model=benchmark_model)
        with pytest.raises(DeviceError, match="not a valid variant name"):
            dev.run(str(tiny_bundle), JobSpec(variant=INJECTION, runs=5))
    # and through the command line, exit 2
    p = bench("run", tiny_bundle, "--device", "adb:host-emulated-0", "--variant", INJECTION, "--runs", 5,
              "--benchmark-model", HERE / "stand_in_benchmark_model", env=host_adb)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    p = bench("run", tiny_bundle, "--device", "adb:x;touch${IFS}INJECTED", "--runs", 5, env=host_adb)
    assert p.returncode == 2 and "not a device serial" in p.stderr
    assert not list(tmp_path.rglob("INJECTED*")) and not list(Path.cwd().glob("INJECTED*"))


@pytest.mark.skipif(not shutil.which("adb"), reason="Debian's adb is not installed "
                    "(scripts/install_system_deps.sh installs it)")
def test_real_adb_client_discovery():
    from facelite_bench.devices.adb import Adb, discover

    real = Adb(shutil.which("adb"))
    try:
        found = discover(real)  # no phone attached here: an empty list, no error
        assert isinstance(found, list)
        assert all(d["id"].startswith("adb:") for d in found)
    finally:
        subprocess.run([real.path, "kill-server"], capture_output=True, timeout=20)


def test_user_errors_with_json_print_one_json_document(tmp_path):
    p = bench("run", tmp_path / "missing.flb", "--json")
    doc = json.loads(p.stdout)
    assert p.returncode == 2 and doc["exit_code"] == 2 and "no such bundle file" in doc["error"]
    p = bench("run", tmp_path / "missing.flb", "--runs", "0", "--json")
    assert p.returncode == 2 and "argument --runs: must be a whole number >= 1" in json.loads(p.stdout)["error"]


@pytest.mark.parametrize("raised, code", [(KeyboardInterrupt, 130), (RuntimeError("boom"), 1)])
def test_ctrl_c_exits_130_and_a_crash_exits_1_with_one_json_document(monkeypatch, capsys, raised, code):
    from facelite_bench import cli

    def devices(a, out):
        raise raised

    monkeypatch.setattr(cli, "cmd_devices", devices)
    assert cli.main(["devices", "--json"]) == code
    captured = capsys.readouterr()
    assert json.loads(captured.out)["exit_code"] == code and "Traceback" not in captured.err
