"""Engine: sha256 gate before loading, accelerator fallback with a reason, quantization,
batching, bare .tflite bytes, tensor details, the invoke-only timing hook, quiet native logs."""

import enum
import hashlib
import json
import os
import struct
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
    with pytest.raises(BundleError, match="model 'junk' is not a well-formed TFLite model: not a TFLite flatbuffer"):
        Engine.from_bytes(b"not a flatbuffer", name="junk")


# -- the model structure check (before LiteRT, whose parser is not hardened) -----------------


def _model(bundle: Path, variant: str = "fp32"):
    """(raw bytes, object-API ModelT) of one variant of a bundle."""
    from ai_edge_litert import schema_py_generated as tfl

    with Bundle.open(bundle) as b:
        data = bytes(b.variant_bytes(variant))
    return data, tfl.ModelT.InitFromObj(tfl.Model.GetRootAs(bytearray(data), 0))  # writable arrays


def _packed(model) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _set(path: str, value):
    """An edit of the fixture expression model (CONV_2D, CONV_2D, MEAN, FULLY_CONNECTED,
    SOFTMAX over 13 tensors and 16 buffers): `path` into its subgraph, e.g. `operators.1.inputs.0`."""
    def edit(model):
        *parents, last = path.split(".")
        node = model.subgraphs[0]
        for part in parents:
            node = node[int(part)] if part.isdigit() else getattr(node, part)
        if last.isdigit():
            node[int(last)] = value
        else:
            setattr(node, last, value)
    return edit


def _raw(edit):
    """An edit of the serialized bytes (what the object API cannot express)."""
    def apply(data: bytes) -> bytes:
        import mutants

        fb = mutants.FlatBuffer(data)
        edit(fb, fb.model())
        return bytes(fb.b)
    return apply


def _never(*args, **kwargs):
    raise AssertionError("a malformed model reached LiteRT")


def _rebundled(src: Path, dst: Path, variant: str, model: bytes) -> Path:
    """`src` with variant `variant` replaced by `model`, its size and sha256 re-sealed
    (unsigned: `Engine` itself does not apply the signature policy, the tasks do)."""
    from facelite.bundle import write_members

    with Bundle.open(src) as b:
        members = [(name, bytes(b.member_view(name))) for name in b.member_offsets() if name != "signature.json"]
    manifest = json.loads(dict(members)["manifest.json"])
    manifest["variants"][variant].update(bytes=len(model), sha256=hashlib.sha256(model).hexdigest())
    changed = {"manifest.json": json.dumps(manifest).encode(), f"{variant}.tflite": model}
    return write_members(dst, [(n, changed.get(n, d)) for n, d in members])


STRUCTURE_FINDINGS = {
    # the fuzz campaign's crashes: an operator input of -1 where the kernel needs a tensor
    "operator input 0 = -1": (_set("operators.1.inputs.0", -1), "operator 1 (CONV_2D): input 0 is tensor -1"),
    "operator input 1 = -1": (_set("operators.3.inputs.1", -1),
                              "operator 3 (FULLY_CONNECTED): input 1 is tensor -1, not in [0, 13); -1"),
    "operator input past the end": (_set("operators.0.inputs.0", 13), "input 0 is tensor 13, not in [0, 13)"),
    "operator output -1": (_set("operators.4.outputs.0", -1), "operator 4 (SOFTMAX): output 0 is tensor -1"),
    "subgraph input -7": (_set("inputs.0", -7), "subgraph 0: input 0 is tensor -7"),
    "subgraph output 2**31-1": (_set("outputs.0", 2**31 - 1), "subgraph 0: output 0 is tensor 2147483647"),
    "opcode index": (_set("operators.2.opcodeIndex", 10**6), "operator 2 has opcode_index 1000000 of 4"),
    "tensor buffer": (_set("tensors.3.buffer", 2**31), "tensor 3 names buffer 2147483648 of 16"),
    "negative dimension": (_set("tensors.0.shape", np.array([1, -5, 32, 3], np.int32)),
                           "tensor 0 has shape [1, -5, 32, 3]"),
    "2**30 elements": (_set("tensors.9.shape", np.array([1, 2**15, 2**15], np.int32)), "at most 268435456 elements"),
    "vtable before the file": (_raw(lambda fb, m: struct.pack_into("<i", fb.b, m["tensors"][0], 2**31 - 1)),
                               "tensor 0's vtable is at byte -"),
    "tensors vector length": (_raw(lambda fb, m: struct.pack_into(
        "<I", fb.b, fb.field(m["subgraph"], 0) + fb.u32(fb.field(m["subgraph"], 0)), 2**31)), "tensors"),
    "file identifier": (_raw(lambda fb, m: fb.b.__setitem__(slice(4, 8), b"XXXX")), "identifier TFL3"),
    "truncated": (lambda data: data[: len(data) // 3], "TFLite model"),
}


@pytest.mark.parametrize("edit, expected", list(STRUCTURE_FINDINGS.values()), ids=list(STRUCTURE_FINDINGS))
def test_a_malformed_model_is_refused_by_name_before_litert_parses_it(expression_bundle, monkeypatch, edit,
                                                                      expected):
    """Each of these reached LiteRT's parser through a trusted signature in the fuzz campaign
    (or could): some crash the process (SIGSEGV, double free, std::bad_alloc). The structure
    check must refuse them first, naming the model and the first problem."""
    data, model = _model(expression_bundle)
    if edit.__name__ == "edit":
        edit(model)
        bad = _packed(model)
    else:
        bad = edit(data)

    monkeypatch.setattr(engine_mod, "Interpreter", _never)
    with pytest.raises(BundleError, match="model 'mutant' is not a well-formed TFLite model") as err:
        Engine.from_bytes(bad, name="mutant")
    assert expected in str(err.value) and str(err.value).endswith("re-export the .tflite")


def test_an_optional_input_of_minus_one_from_the_third_input_on_passes_the_check(expression_bundle):
    """A convolution without bias (input 2 = -1) is a legal model; LiteRT decides whether it runs."""
    _, model = _model(expression_bundle)
    model.subgraphs[0].operators[0].inputs[2] = -1
    engine_mod.check_model_structure(_packed(model), "model 'no bias'")


def test_a_bundle_variant_is_structure_checked_after_its_sha256_and_before_litert(expression_bundle, tmp_path,
                                                                                 monkeypatch):
    """The bundle path of the same check: `Engine(bundle)` names the bundle and the variant
    (GPU/NPU probing included: the check runs before `CompiledModel` too)."""

    _, model = _model(expression_bundle, "int8")
    model.subgraphs[0].operators[0].inputs[0] = -1
    path = _rebundled(expression_bundle, tmp_path / "bad.flb", "int8", _packed(model))
    monkeypatch.setattr(engine_mod, "Interpreter", _never)
    monkeypatch.setattr(engine_mod, "_try_compiled", _never)
    monkeypatch.setitem(engine_mod._UNAVAILABLE, "npu", "no NPU")
    with pytest.raises(BundleError, match=rf"{path}: variant 'int8' is not a well-formed TFLite model: subgraph 0: "
                                          r"operator 0 \(\w+\): input 0 is tensor -1.*; rebuild the bundle"):
        Engine(path, variant="int8", accelerator="cpu")


def test_a_bundle_variant_whose_input_is_not_the_manifests_is_refused_before_litert(expression_bundle, tmp_path,
                                                                                    monkeypatch):
    """LiteRT sizes every activation from the model's input, and only the manifest's input
    shape is bounded by the schema: a re-signed model claiming a 32x1048576 input took
    1 GB before LiteRT refused it (fuzz seed 16, bundle:1259)."""
    _, model = _model(expression_bundle, "int8")
    model.subgraphs[0].tensors[model.subgraphs[0].inputs[0]].shape = np.array([1, 32, 2**20, 3], np.int32)
    path = _rebundled(expression_bundle, tmp_path / "wide.flb", "int8", _packed(model))
    monkeypatch.setattr(engine_mod, "Interpreter", _never)
    with pytest.raises(BundleError, match=r"variant 'int8': its first input has shape \[1, 32, 1048576, 3\], "
                                          r"the manifest's input.shape is \[1, 32, 32, 3\]; rebuild the bundle"):
        Engine(path, variant="int8", accelerator="cpu")


def test_every_shipped_and_fixture_model_passes_the_structure_check():
    """No false refusal: every variant facelite ships or tests with is well-formed."""
    repo = Path(__file__).resolve().parents[2]
    paths = sorted(repo.glob("models/*/*.flb")) + sorted(repo.glob("tests/fixtures/bundles/*.flb"))
    assert len(paths) >= 8
    for path in paths:
        with Bundle.open(path) as b:
            for name in b.variants:
                engine_mod.check_model_structure(b.variant_bytes(name), f"{path}: variant '{name}'")


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
