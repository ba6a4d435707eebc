"""Engine: sha256 gate before loading, accelerator fallback with a reason, quantization,
batching, bare .tflite bytes, tensor details, the invoke-only timing hook, quiet native logs."""

import enum
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import facelite.engine as engine_mod
from facelite.bundle import Bundle
from facelite.engine import Engine, Quantization, TensorInfo, choose_variant
from facelite.errors import BundleError, UserError
from fixture_bundles import tamper


def stand_in_gpu(data, accelerator, variant):
    """A CPU CompiledModel made the way `_try_compiled` makes a GPU/NPU one (quietly, and
    marking the process as one that created a compiled model)."""
    from ai_edge_litert.compiled_model import CompiledModel, HardwareAccelerator

    with engine_mod.quiet_native_stderr():
        engine_mod._COMPILED_USED = True
        return CompiledModel.from_buffer(bytes(data), hardware_accel=HardwareAccelerator.CPU), None


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
    assert np.abs(out - golden).max() < 0.1     # int8 vs fp32; unconverted tensors would be off by >1
    assert (out.argmax(1) == golden.argmax(1)).mean() >= 0.75


def test_batches_match_single_samples_and_reuse_one_interpreter(expression_bundle, monkeypatch):
    b = Bundle.open(expression_bundle)
    x, golden = b.golden()
    eng = Engine(b, variant="fp32", accelerator="cpu")

    def never(*a, **k):
        raise AssertionError("a second interpreter was created")

    monkeypatch.setattr(engine_mod, "Interpreter", never)
    batch = eng.run(x)[0]
    singles = np.concatenate([eng.run(x[i : i + 1])[0] for i in range(len(x))])
    np.testing.assert_allclose(batch, singles, atol=1e-6)
    np.testing.assert_allclose(batch, golden, atol=1e-4)


def test_wrong_input_shape_is_a_clear_error(expression_bundle):
    eng = Engine(expression_bundle, variant="fp32", accelerator="cpu")
    with pytest.raises(UserError, match="does not match"):
        eng.run(np.zeros((1, 8, 8, 3), np.float32))


def test_accelerated_path_reports_the_accelerator_and_matches_the_interpreter(expression_bundle, monkeypatch):
    """Stands a CPU CompiledModel in for a GPU one: same buffers/run code a real GPU would use."""
    monkeypatch.setattr(engine_mod, "_try_compiled", stand_in_gpu)
    b = Bundle.open(expression_bundle)
    x, golden = b.golden()
    for variant in ("fp32", "int8"):
        eng = Engine(b, variant=variant, accelerator="gpu" if variant == "fp32" else "npu")
        assert eng.info.accelerator == ("gpu" if variant == "fp32" else "npu")
        assert eng.info.fallback_reason is None
        ref = Engine(b, variant=variant, accelerator="cpu").run(x)[0]
        np.testing.assert_allclose(eng.run(x)[0], ref, atol=1e-6)


def test_variant_choice_for_auto_and_enum_accelerators(expression_bundle):
    b = Bundle.open(expression_bundle)
    assert choose_variant(b, "auto") == "int8"     # the NPU's pick comes first, as Engine tries it first

    class Acc(str, enum.Enum):                       # like facelite.options.Accelerator
        GPU = "gpu"

    assert choose_variant(b, Acc.GPU) == "fp32"
    with pytest.raises(UserError, match="accelerator 'tpu'"):
        choose_variant(b, "tpu")


def test_from_bytes_runs_a_bare_tflite_like_the_bundle_engine(expression_bundle):
    b = Bundle.open(expression_bundle)
    x, _ = b.golden()
    for variant in ("fp32", "int8"):
        bare = Engine.from_bytes(b.variant_bytes(variant), num_threads=1, name=f"fresh-{variant}")
        ref = Engine(b, variant=variant, accelerator="cpu").run(x)[0]
        np.testing.assert_array_equal(bare.run(x)[0], ref)
        assert bare.bundle is None and bare.info.variant == f"fresh-{variant}"
        assert (bare.info.accelerator, bare.info.fallback_reason, bare.info.num_threads) == ("cpu", None, 1)
        assert "fresh-" + variant in repr(bare)


def test_from_bytes_refuses_bytes_that_are_not_a_model_and_names_them():
    with pytest.raises(BundleError, match="model 'junk' does not load in LiteRT"):
        Engine.from_bytes(b"not a flatbuffer", name="junk")


def test_tensor_details_are_public_typed_and_match_the_inspect_json(expression_bundle):
    b = Bundle.open(expression_bundle)
    fp32 = Engine(b, variant="fp32", accelerator="cpu")
    int8 = Engine(b, variant="int8", accelerator="cpu")
    (fin,), (qin,) = fp32.input_details, int8.input_details
    assert isinstance(fin, TensorInfo) and fin.quantization is None and fin.dtype == np.float32
    assert fin.shape == fp32.input_shape and isinstance(fin.index, int)
    assert qin.dtype == np.int8 and isinstance(qin.quantization, Quantization) and qin.quantization.scale > 0
    assert [t.dtype for t in int8.output_details] == [np.dtype(np.int8)]
    assert len(fp32.output_details) == len(fp32.output_names) == 1
    assert int8.tensor_details() == {"inputs": [t.to_json() for t in int8.input_details],
                                     "outputs": [t.to_json() for t in int8.output_details]}
    q = int8.tensor_details()["inputs"][0]["quantization"]
    assert q == {"scale": qin.quantization.scale, "zero_point": qin.quantization.zero_point}


def test_bound_invoke_runs_only_litert_and_gives_the_run_outputs(expression_bundle, monkeypatch):
    b = Bundle.open(expression_bundle)
    x, _ = b.golden()
    for variant in ("fp32", "int8"):
        eng = Engine(b, variant=variant, accelerator="cpu")
        expected = eng.run(x[1:2])[0]
        eng.run(x)                                   # leaves the interpreter at batch N
        invoke = eng.bind(x[1])
        monkeypatch.setattr(engine_mod, "quantize", lambda *a: pytest.fail("quantized inside invoke"))
        for _ in range(3):
            assert invoke() is None
        monkeypatch.undo()
        np.testing.assert_array_equal(eng.outputs()[0], expected)
    with pytest.raises(UserError, match="one sample"):
        eng.bind(x[:2])


def test_bound_invoke_on_an_accelerated_engine_uses_its_buffers(expression_bundle, monkeypatch):
    monkeypatch.setattr(engine_mod, "_try_compiled", stand_in_gpu)
    b = Bundle.open(expression_bundle)
    x, _ = b.golden()
    eng = Engine(b, variant="fp32", accelerator="gpu")
    assert eng.info.accelerator == "gpu"
    with pytest.raises(UserError, match="call bind"):
        eng.outputs()
    invoke = eng.bind(x[:1])
    invoke()
    np.testing.assert_allclose(eng.outputs()[0], eng.run(x[:1])[0], atol=1e-6)


_CREATE_ENGINE = textwrap.dedent("""
    import sys
    from facelite.engine import Engine
    Engine(sys.argv[1], variant="fp32", accelerator="cpu").run(
        __import__("facelite.bundle").bundle.Bundle.open(sys.argv[1]).golden()[0])
    print("python stderr still works", file=sys.stderr)
""")


@pytest.mark.parametrize("verbose", [None, "FACELITE_VERBOSE", "FACELITE_DEBUG"])
def test_litert_native_info_lines_stay_off_stderr_unless_verbose(expression_bundle, verbose):
    env = {k: v for k, v in os.environ.items() if k not in engine_mod.VERBOSE_ENV}
    if verbose:
        env[verbose] = "1"
    p = subprocess.run([sys.executable, "-c", _CREATE_ENGINE, str(expression_bundle)],
                       env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "python stderr still works" in p.stderr
    assert ("XNNPACK" in p.stderr) == bool(verbose), p.stderr


_ACCELERATED_RUN = textwrap.dedent("""
    import sys
    import facelite.engine as m
    from ai_edge_litert.compiled_model import CompiledModel, HardwareAccelerator
    from facelite.bundle import Bundle

    def stand_in_gpu(data, acc, name):      # what _try_compiled does when a GPU is there
        with m.quiet_native_stderr():
            m._COMPILED_USED = True
            return CompiledModel.from_buffer(bytes(data), hardware_accel=HardwareAccelerator.CPU), None

    m._try_compiled = stand_in_gpu
    b = Bundle.open(sys.argv[1])
    x = b.golden()[0][:1]
    for _ in range(2):                       # the second engine is dropped while the process runs
        eng = m.Engine(b, "fp32", "gpu")
        assert eng.info.accelerator == "gpu"
        eng.run(x)
        invoke = eng.bind(x)
        invoke()
        del invoke
    print("done", file=sys.stderr)
""")


@pytest.mark.parametrize("verbose", [False, True])
def test_accelerated_engines_keep_litert_logs_quiet_from_creation_to_exit(expression_bundle, verbose):
    env = {k: v for k, v in os.environ.items() if k not in engine_mod.VERBOSE_ENV}
    if verbose:
        env["FACELITE_VERBOSE"] = "1"
    p = subprocess.run([sys.executable, "-c", _ACCELERATED_RUN, str(expression_bundle)],
                       env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "done" in p.stderr
    assert ("INFO" in p.stderr) == verbose, p.stderr


def test_quiet_blocks_nest_and_restore_stderr(monkeypatch, capfd):
    monkeypatch.delenv("FACELITE_VERBOSE", raising=False)
    monkeypatch.delenv("FACELITE_DEBUG", raising=False)
    with engine_mod.quiet_native_stderr():
        with engine_mod.quiet_native_stderr():
            os.write(2, b"hidden-inner\n")
        os.write(2, b"hidden-outer\n")
    os.write(2, b"shown-after\n")
    err = capfd.readouterr().err
    assert "hidden" not in err and "shown-after" in err


LITERT_RUNNERS = ("ai_edge_litert.interpreter", "ai_edge_litert.compiled_model", "tflite_runtime",
                  "Interpreter(", "CompiledModel")


def test_the_engine_is_the_only_code_that_runs_litert_models():
    """Reading the flatbuffer schema (ai_edge_litert.schema_py_generated) is not running a model."""
    root = Path(__file__).resolve().parents[2]
    engine = root / "sdk_python" / "facelite" / "engine.py"
    offenders = [f"{path.relative_to(root)}: {name}"
                 for folder in ("sdk_python", "toolchain", "benchmark_app", "benchmarks")
                 for path in sorted((root / folder).rglob("*.py")) if path != engine
                 for name in LITERT_RUNNERS if name in path.read_text(encoding="utf-8")]
    assert not offenders, offenders
