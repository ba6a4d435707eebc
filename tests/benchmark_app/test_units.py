"""Fast unit tests: stats, PSNR, parsers (benchmark_model log, adb output), SVG, store."""

import time
import xml.dom.minidom
from pathlib import Path

import numpy as np
import pytest

from facelite_bench import plots
from facelite_bench.devices import DeviceError, resolve
from facelite_bench.devices import benchmark_model as bm
from facelite_bench.devices.adb import parse_devices, parse_getprop
from facelite_bench.measure import latency_stats
from facelite_bench.parity import psnr_db
from facelite_bench.store import MIGRATIONS, Store

HERE = Path(__file__).parent


def test_latency_stats():
    s = latency_stats(list(range(1, 101)))
    assert s["avg_ms"] == 50.5 and s["p50_ms"] == 50.5
    assert s["p90_ms"] == pytest.approx(90.1) and s["p99_ms"] == pytest.approx(99.01)
    assert s["std_ms"] == pytest.approx(np.std(np.arange(1, 101)), rel=1e-4)


def test_psnr():
    ref = np.array([0.0, 0.5, 1.0])
    assert psnr_db(ref, ref + 0.01, peak=1.0) == pytest.approx(40.0)
    assert psnr_db(ref, ref) == float("inf")


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
