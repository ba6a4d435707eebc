"""Fast unit tests: stats, the invoke-only timing loop, parity figures, parsers (benchmark_model
log, adb output), SVG, store."""

import shutil
import time
import xml.dom.minidom
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from facelite import metrics
from facelite.engine import EngineInfo
from facelite.errors import DataError
from facelite_bench import parity, plots
from facelite_bench.devices import DeviceError, resolve
from facelite_bench.devices import benchmark_model as bm
from facelite_bench.devices.adb import (check_argument, check_serial, check_variant, parse_devices,
                                        parse_getprop, shell_line)
from facelite_bench.measure import Loaded, latency_stats, time_invokes
from facelite_bench.store import MIGRATIONS, Store

HERE = Path(__file__).parent


def test_latency_stats():
    s = latency_stats(list(range(1, 101)))
    assert s["avg_ms"] == 50.5 and s["p50_ms"] == 50.5
    assert s["p90_ms"] == pytest.approx(90.1) and s["p99_ms"] == pytest.approx(99.01)
    assert s["std_ms"] == pytest.approx(np.std(np.arange(1, 101)), rel=1e-4)


class CountingEngine:
    """Stands in for facelite.engine.Engine: counts what the timing loop calls."""

    def __init__(self):
        self.info = EngineInfo("fp32", "cpu", "cpu", None, 1, 12.5)
        self.bound, self.invokes = [], 0

    def bind(self, x):
        self.bound.append(np.array(x))
        return self._invoke

    def _invoke(self):
        self.invokes += 1

    def run(self, x):
        raise AssertionError("the timing loop must time the bound invoke, not run()")


def test_timing_loop_times_only_the_engines_bound_invoke():
    eng = CountingEngine()
    x = np.zeros((3, 4, 4, 1), np.float32)
    r = time_invokes(Loaded(eng), x, runs=7, warmup=2)
    assert len(eng.bound) == 1 and eng.bound[0].shape == (1, 4, 4, 1)   # one sample bound, once
    assert eng.invokes == 1 + 2 + 7                                    # first + warm-up + timed
    assert len(r["samples_ms"]) == 7 and r["init_ms"] == 12.5


def fake_bundle(task="classification", kind="probabilities", golden=None):
    return SimpleNamespace(name="fake", task=task, manifest={"output": {"kind": kind}},
                           has_golden=golden is not None, golden=lambda: golden)


def test_parity_of_identical_outputs_is_null_psnr_and_flagged_identical():
    gin = np.random.default_rng(0).uniform(size=(5, 3)).astype(np.float32)
    gout = gin / gin.sum(1, keepdims=True)
    res = parity.parity(fake_bundle(golden=(gin, gout)), lambda x: gout.copy())
    assert res["psnr_db"] is None and res["identical"] is True and res["psnr_good"] is True
    assert res["top1_agreement"] == 1.0 and res["max_abs_err"] == 0.0 and res["n_golden"] == 5


def test_parity_psnr_is_the_runtime_metric_of_the_variant_against_fp32():
    """metrics.psnr_db(outputs, reference): the peak is the fp32 reference's range (the old
    bench copy had the arguments the other way round)."""
    ref = np.array([[0.0, 4.0], [2.0, 1.0]], np.float32)
    out = np.array([[0.5, 3.0], [1.5, 2.0]], np.float32)
    res = parity.compare(out, ref, fake_bundle(kind="logits"))
    assert res["psnr_db"] == metrics.psnr_db(out, ref) != metrics.psnr_db(ref, out)
    assert res["max_abs_err"] == 1.0 and res["top1_agreement"] == 0.5
    probs = parity.compare(np.array([[0.51, 0.49]]), np.array([[0.5, 0.5]]), fake_bundle())
    assert probs["psnr_db"] == pytest.approx(40.0) and "identical" not in probs


def test_parity_of_a_task_without_classes_has_no_top1_agreement():
    ref = np.zeros((2, 136), np.float32)
    res = parity.compare(ref + 0.01, ref, fake_bundle(task="landmarks", kind="coordinates"))
    assert res["top1_agreement"] is None and res["psnr_db"] is not None


def test_labelled_folder_for_a_model_without_labels_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="without labels"):
        parity.load_labelled_folder(tmp_path, fake_bundle(task="landmarks"))


def test_benchmark_model_log_parse():
    r = bm.parse((HERE / "samples" / "benchmark_model_gpu.log").read_text())
    assert r["init_ms"] == pytest.approx(119.515)
    assert r["first_ms"] == pytest.approx(87.112)
    assert r["warmup_avg_ms"] == pytest.approx(58.1474)
    assert r["avg_ms"] == pytest.approx(63.7432)
    assert r["p50_ms"] == pytest.approx(51.891) and r["std_ms"] == pytest.approx(60.716)
    assert r["runs"] == 50
    assert r["peak_rss_mb"] == pytest.approx(63.1211)
    assert r["memory_delta_mb"] == {"init": 55.4961, "overall": 55.4961}
    assert r["delegate"] == {"name": "TfLiteGpuDelegateV2", "nodes_delegated": 62, "nodes_total": 66,
                             "coverage": pytest.approx(0.9394, abs=1e-4)}
    acc, why = bm.accelerator_from(r, "gpu")
    assert acc == "gpu" and "62/66" in why
    with pytest.raises(ValueError, match="Inference timings"):
        bm.parse("ERROR: Failed to load model")


def test_adb_output_parsers():
    text = ("* daemon not running; starting now at tcp:5037\n* daemon started successfully\n"
            "List of devices attached\n"
            "R58M123ABC             device usb:1-1 product:a52qnsxx model:SM_A525F device:a52q transport_id:3\n"
            "emulator-5554          unauthorized transport_id:1\n\n")
    devs = parse_devices(text)
    assert devs[0] == {"serial": "R58M123ABC", "state": "device", "usb": "1-1", "product": "a52qnsxx",
                       "model": "SM_A525F", "device": "a52q", "transport_id": "3"}
    assert devs[1]["state"] == "unauthorized"
    props = parse_getprop("[ro.product.model]: [SM-A525F]\n[ro.soc.model]: [SM7125]\n"
                          "[ro.build.version.release]: [13]\n")
    assert props == {"ro.product.model": "SM-A525F", "ro.soc.model": "SM7125", "ro.build.version.release": "13"}


INJECTION = "x;touch${IFS}INJECTED;#"


def test_adb_shell_line_quotes_every_argument():
    assert shell_line(["mkdir", "-p", "/data/local/tmp/facelite"]) == "mkdir -p /data/local/tmp/facelite"
    assert shell_line(["ls", "/data/local/tmp/a b"]) == "ls '/data/local/tmp/a b'"
    assert shell_line(["echo", INJECTION]) == "echo 'x;touch${IFS}INJECTED;#'"
    with pytest.raises(TypeError):
        shell_line("rm -rf /")  # a command string is never accepted


@pytest.mark.parametrize("bad", ["a\nreboot", "a\rb", "a\0b"])
def test_adb_arguments_with_control_characters_are_refused(bad):
    with pytest.raises(DeviceError, match="control characters"):
        shell_line(["ls", bad])
    with pytest.raises(DeviceError):
        check_argument(bad, "remote path")


def test_adb_variant_names_and_serials_are_validated():
    assert check_variant("int8") == "int8" and check_variant("fp16_gpu") == "fp16_gpu"
    for bad in (INJECTION, "INT8", "fp32 ", "", "../x", None):
        with pytest.raises(DeviceError, match="variant"):
            check_variant(bad)
    for ok in ("R58M123ABC", "emulator-5554", "192.168.1.5:5555", "adb-R58M-x._adb-tls-connect._tcp"):
        assert check_serial(ok) == ok
    for bad in ("x;reboot", "-s", "a b", "$(id)", ""):
        with pytest.raises(DeviceError, match="serial"):
            check_serial(bad)
    with pytest.raises(DeviceError, match="not a device serial"):
        resolve("adb:x;reboot")


def test_resolve_rejects_unknown_device():
    with pytest.raises(DeviceError, match="unknown device 'phone'"):
        resolve("phone")


def test_svg_plots_are_valid_xml():
    samples = list(np.random.default_rng(0).gamma(4, 0.5, 500))
    marks = {"p50": 2.0, "p90": 3.0, "p99": 4.5}
    for svg in (plots.histogram_svg(samples, marks), plots.cdf_svg(samples, marks)):
        doc = xml.dom.minidom.parseString(svg)
        assert doc.documentElement.tagName == "svg"
    assert plots.histogram_svg(samples).count('class="bar"') > 10
    with_outlier = plots.histogram_svg(samples + [1000.0])
    assert "1 of 501 runs" in with_outlier and with_outlier.count('class="bar"') > 10


def test_store_wal_migrations_and_requeue(tmp_path):
    st = Store(tmp_path / "s.db")
    assert st.schema_version == len(MIGRATIONS)
    with st.read() as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    st.add_bundle("ab" * 32, "/x.flb", "x.flb", 1, {"name": "x", "variants": {"fp32": {}}})
    jid = st.create_job("ab" * 32, "agent:a", "fp32", "cpu", 1, 10, 1, None)
    job = st.claim_job("agent:a:1", lease_s=0.01, device="agent:a")
    assert job["id"] == jid and job["status"] == "running"
    time.sleep(0.05)
    assert st.requeue_expired() == 1
    assert st.get_job(jid)["status"] == "queued" and st.get_job(jid)["requeued"] == 1
    assert not st.finish_job(jid, "agent:a:1", {})  # lost its lease: result refused
    job = st.claim_job("agent:a:2", lease_s=30, device="agent:a")
    assert st.finish_job(jid, "agent:a:2", {"avg_ms": 1.0})
    assert Store(tmp_path / "s.db").get_job(jid)["result"] == {"avg_ms": 1.0}


def test_labelled_folder_is_read_recursively_and_prepared_by_the_runtime(tiny_bundle, labelled_dir, tmp_path):
    from facelite.bundle import Bundle
    from facelite.preprocess import prepare

    root = tmp_path / "data"
    shutil.copytree(labelled_dir, root)
    (root / "checker" / "more").mkdir()
    shutil.copy(root / "checker" / "0.png", root / "checker" / "more" / "deep.png")
    bundle = Bundle.open(tiny_bundle)
    x, y = parity.load_labelled_folder(root, bundle)
    files = sorted(p for p in root.rglob("*.png"))
    assert len(x) == len(y) == len(files) == 25
    deep = [i for i, label in enumerate(y) if label == bundle.labels.index("checker")][-1]
    np.testing.assert_array_equal(x[deep], prepare(root / "checker" / "more" / "deep.png", bundle.input_spec))
    assert sorted(bundle.labels[i] for i in y) == sorted(p.relative_to(root).parts[0] for p in files)
