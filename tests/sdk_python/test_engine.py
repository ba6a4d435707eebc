"""Engine: sha256 gate before loading, accelerator fallback with a reason, quantization, batching."""

import numpy as np
import pytest

import facelite.engine as engine_mod
from facelite.bundle import Bundle
from facelite.engine import Engine, choose_variant
from facelite.errors import BundleError, UserError
from fixture_bundles import tamper


def test_tampered_variant_is_refused_before_the_interpreter_sees_it(expression_bundle, tmp_path, monkeypatch):
    bad = tamper(expression_bundle, tmp_path / "tampered.flb")

    def never(*a, **k):
        raise AssertionError("Interpreter created for a tampered model")

    monkeypatch.setattr(engine_mod, "Interpreter", never)
    with pytest.raises(BundleError, match="sha256"):
        Engine(bad, variant="int8", accelerator="cpu")


def test_untampered_variants_of_a_tampered_bundle_still_load(expression_bundle, tmp_path):
    bad = tamper(expression_bundle, tmp_path / "tampered.flb")
    assert Engine(bad, variant="fp32", accelerator="cpu").info.variant == "fp32"


def test_gpu_request_on_a_host_without_gpu_falls_back_to_cpu_and_says_why(expression_bundle, monkeypatch):
    monkeypatch.setattr(engine_mod, "_try_compiled", lambda data, acc, name: (None, "no GPU here (test)"))
    eng = Engine(expression_bundle, accelerator="gpu")
    info = eng.info
    assert info.accelerator_requested == "gpu" and info.accelerator == "cpu"
    assert "gpu" in info.fallback_reason and "no GPU here" in info.fallback_reason
    assert info.variant == "fp32" and info.init_ms > 0 and info.num_threads == 2


def test_real_litert_probe_reports_what_ran(expression_bundle):
    info = Engine(expression_bundle, accelerator="npu").info
    assert info.accelerator in ("npu", "cpu")
    if info.accelerator == "cpu":
        assert info.fallback_reason and info.fallback_reason.startswith("npu")


def test_variant_choice_follows_accelerator_and_compatibility(expression_bundle):
    b = Bundle.open(expression_bundle)
    assert choose_variant(b, "npu") == "int8"      # int8 is marked npu-compatible
    assert choose_variant(b, "gpu") == "fp32"      # no fp16 in this bundle; fp32 is gpu-compatible
    assert choose_variant(b, "cpu") == "fp32"


def test_cpu_request_has_no_fallback_reason(expression_bundle):
    info = Engine(expression_bundle, accelerator="cpu").info
    assert (info.accelerator, info.fallback_reason) == ("cpu", None)


def test_unknown_accelerator_and_variant_are_user_errors(expression_bundle):
    with pytest.raises(UserError, match="accelerator 'tpu'"):
        Engine(expression_bundle, accelerator="tpu")
    with pytest.raises(BundleError, match="no variant 'fp16'"):
        Engine(expression_bundle, variant="fp16")


def test_int8_engine_quantizes_inputs_and_dequantizes_outputs(expression_bundle):
    b = Bundle.open(expression_bundle)
    x, golden = b.golden()
    eng = Engine(b, variant="int8", accelerator="cpu")
    assert eng.input_dtype == np.int8
    out = eng.run(x)[0]
    assert out.dtype == np.float32
    assert np.abs(out - golden).max() < 0.05
    assert (out.argmax(1) == golden.argmax(1)).mean() >= 0.75


def test_batches_match_single_samples_and_reuse_one_interpreter(expression_bundle):
    b = Bundle.open(expression_bundle)
    x, golden = b.golden()
    eng = Engine(b, variant="fp32", accelerator="cpu")
    interp = eng._interp
    batch = eng.run(x)[0]
    singles = np.concatenate([eng.run(x[i : i + 1])[0] for i in range(len(x))])
    assert eng._interp is interp
    np.testing.assert_allclose(batch, singles, atol=1e-6)
    np.testing.assert_allclose(batch, golden, atol=1e-4)


def test_wrong_input_shape_is_a_clear_error(expression_bundle):
    eng = Engine(expression_bundle, variant="fp32", accelerator="cpu")
    with pytest.raises(UserError, match="does not match"):
        eng.run(np.zeros((1, 8, 8, 3), np.float32))


def test_accelerated_path_reports_the_accelerator_and_matches_the_interpreter(expression_bundle, monkeypatch):
    """Stands a CPU CompiledModel in for a GPU one: same buffers/run code a real GPU would use."""
    from ai_edge_litert.compiled_model import CompiledModel, HardwareAccelerator

    def fake_gpu(data, acc, name):
        return CompiledModel.from_buffer(bytes(data), hardware_accel=HardwareAccelerator.CPU), None

    monkeypatch.setattr(engine_mod, "_try_compiled", fake_gpu)
    b = Bundle.open(expression_bundle)
    x, golden = b.golden()
    for variant in ("fp32", "int8"):
        eng = Engine(b, variant=variant, accelerator="gpu" if variant == "fp32" else "npu")
        assert eng.info.accelerator == ("gpu" if variant == "fp32" else "npu")
        assert eng.info.fallback_reason is None
        ref = Engine(b, variant=variant, accelerator="cpu").run(x)[0]
        np.testing.assert_allclose(eng.run(x)[0], ref, atol=1e-6)
