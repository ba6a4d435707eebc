"""`variant="auto"` picks from what the build measured: on each accelerator the fastest
variant whose recorded agreement with fp32 clears `AGREEMENT_FLOOR`, ties and noise going
to fidelity; no full record means today's `PREFERENCE`. And `accelerator="auto"` probes
no GPU or NPU on a host that has no such device."""

from __future__ import annotations

import facelite.engine as engine_mod
import pytest
from facelite.bundle import Bundle
from facelite.engine import AGREEMENT_FLOOR, SPEEDUP_MARGIN, Engine, accelerator_present, choose_variant
from facelite.errors import BundleError
from fixture_bundles import fixture_bundle, measured_record, with_measured

FAST = 1.0 - SPEEDUP_MARGIN


def choice(tmp_path, records, accelerator="cpu"):
    with Bundle.open(with_measured(tmp_path / "m.flb", records)) as b:
        return choose_variant(b, accelerator)


def test_without_records_the_cpu_keeps_the_preference_order(tmp_path):
    assert choice(tmp_path, {"fp32": None, "fp16": None, "dynamic": None, "int8": None}) == "fp32"


def test_the_fastest_variant_that_agrees_enough_wins_on_the_cpu(tmp_path):
    records = {"fp32": measured_record(1.0, 1.0), "fp16": measured_record(1.0, 0.999),
               "dynamic": measured_record(8.0, 0.99), "int8": measured_record(0.5, AGREEMENT_FLOOR)}
    assert choice(tmp_path, records) == "int8"


def test_a_faster_variant_below_the_agreement_floor_is_not_picked(tmp_path):
    records = {"fp32": measured_record(1.0, 1.0), "int8": measured_record(0.2, AGREEMENT_FLOOR - 0.001)}
    assert choice(tmp_path, records) == "fp32"


def test_a_variant_with_no_agreement_figure_is_never_traded_for_speed(tmp_path):
    records = {"fp32": measured_record(1.0, 1.0), "int8": measured_record(0.2, None)}
    assert choice(tmp_path, records) == "fp32"


def test_a_speedup_inside_the_noise_margin_goes_to_fidelity(tmp_path):
    just_inside = {"fp32": measured_record(1.0, 1.0), "fp16": measured_record(FAST + 0.01, 1.0)}
    assert choice(tmp_path, just_inside) == "fp32"
    (tmp_path / "m.flb").unlink()
    at_margin = {"fp32": measured_record(1.0, 1.0), "fp16": measured_record(FAST, 1.0)}
    assert choice(tmp_path, at_margin) == "fp16"


def test_the_slow_dynamic_variant_is_not_preferred_once_measured(tmp_path):
    records = {"fp32": measured_record(0.4, 1.0), "dynamic": measured_record(3.2, 0.99)}
    assert choice(tmp_path, records) == "fp32"


def test_a_partial_record_falls_back_to_the_preference_order(tmp_path):
    records = {"fp32": measured_record(1.0, 1.0), "int8": None}
    assert choice(tmp_path, records) == "fp32"


def test_records_of_another_accelerator_do_not_decide_the_cpu(tmp_path):
    records = {"fp32": measured_record(1.0, 1.0, "gpu"), "int8": measured_record(0.1, 1.0, "gpu")}
    assert choice(tmp_path, records) == "fp32"


def test_a_measured_variant_the_accelerator_cannot_run_is_not_picked(tmp_path):
    # the tiny fixture's int8 is not marked gpu-compatible
    records = {"fp32": measured_record(1.0, 1.0, "gpu"), "int8": measured_record(0.1, 1.0, "gpu")}
    assert choice(tmp_path, records, "gpu") == "fp32"


def test_an_engine_on_auto_runs_the_measured_choice(tmp_path):
    path = with_measured(tmp_path / "m.flb", {"fp32": measured_record(1.0, 1.0), "int8": measured_record(0.5, 0.99)})
    assert Engine(path, accelerator="cpu").info.variant == "int8"


def test_the_schema_bounds_the_record(tmp_path):
    for bad in ({"latency_ms": -1.0}, {"agreement": 1.5}, {"threads": 0}, {"accelerator": "tpu"}):
        record = {**measured_record(1.0, 1.0), **bad}
        with pytest.raises(BundleError, match=r"variants\.fp32\.measured"):
            with_measured(tmp_path / "bad.flb", {"fp32": record})


def test_auto_skips_the_probe_where_the_host_has_no_such_device(monkeypatch):
    monkeypatch.delenv(engine_mod.PROBE_ENV, raising=False)
    monkeypatch.setattr(engine_mod, "DEVICE_NODES", {"gpu": ("/nonexistent/gpu*",), "npu": ("/nonexistent/npu*",)})
    monkeypatch.setattr(engine_mod.sys, "platform", "linux")
    engine_mod._device_node_found.cache_clear()
    probed = []
    monkeypatch.setattr(engine_mod, "_try_compiled", lambda data, acc, name: probed.append(acc) or (None, "x"))
    try:
        info = Engine(fixture_bundle("tiny"), accelerator="auto").info
        assert probed == [] and info.accelerator == "cpu"
        assert "npu: no NPU device on this host" in info.fallback_reason
        assert "gpu: no GPU device on this host" in info.fallback_reason
        Engine(fixture_bundle("tiny"), accelerator="gpu")  # asked for by name: still tried
        assert probed == ["gpu"]
        monkeypatch.setenv(engine_mod.PROBE_ENV, "1")  # a device this rule does not know
        probed.clear()
        Engine(fixture_bundle("tiny"), accelerator="auto")
        assert probed == ["npu", "gpu"]
    finally:
        engine_mod._device_node_found.cache_clear()


def test_a_device_node_makes_auto_probe(monkeypatch, tmp_path):
    (tmp_path / "renderD128").touch()
    monkeypatch.delenv(engine_mod.PROBE_ENV, raising=False)
    monkeypatch.setattr(engine_mod, "DEVICE_NODES", {"gpu": (str(tmp_path / "renderD*"),), "npu": ()})
    monkeypatch.setattr(engine_mod.sys, "platform", "linux")
    engine_mod._device_node_found.cache_clear()
    try:
        assert accelerator_present("gpu")[0] and not accelerator_present("npu")[0]
    finally:
        engine_mod._device_node_found.cache_clear()
