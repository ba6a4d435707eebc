"""GPU/NPU gates flag the ops that would fall off an accelerator, and strict mode refuses."""

from __future__ import annotations

import pytest
import tensorflow as tf
import tf_keras as keras

from facelite.errors import UserError
from facelite_build.gates import check_variant, enforce, parse_analyzer_output, run_analyzer
from facelite_build.quantize import convert


@pytest.fixture(scope="module")
def argmax_model_bytes():
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3)(inp)
    # ARG_MAX and REVERSE_V2 have no GPU delegate kernel.
    x = keras.layers.Lambda(lambda t: tf.reverse(t, axis=[1]))(x)
    idx = keras.layers.Lambda(lambda t: tf.cast(tf.argmax(t, axis=3), tf.float32))(x)
    model = keras.Model(inp, keras.layers.Flatten()(idx))
    return convert(model, "fp32")


def test_gpu_gate_flags_ops_without_gpu_kernels(argmax_model_bytes):
    compat = check_variant(argmax_model_bytes, "fp32")
    assert not compat["gpu"]["ok"]
    assert {"ARG_MAX", "REVERSE_V2"} <= set(compat["gpu"]["ops"])
    assert "CONV_2D" not in compat["gpu"]["ops"]


def test_mobilenet_variants_pass_the_gpu_gate(variants):
    for name in ("fp32", "fp16"):
        assert check_variant(variants[name], name)["gpu"] == {"ok": True, "ops": [], "reasons": []}


def test_npu_gate_passes_int8_and_fails_float_variants(variants):
    assert check_variant(variants["int8"], "int8")["npu"] == {"ok": True, "ops": []}
    fp32 = check_variant(variants["fp32"], "fp32")["npu"]
    assert not fp32["ok"] and "CONV_2D" in fp32["ops"]
    assert not check_variant(variants["dynamic"], "dynamic")["npu"]["ok"]


def test_analyzer_output_is_captured(variants):
    text = run_analyzer(variants["fp32"])
    assert "Op#0 CONV_2D(" in text
    assert "compatib" in text  # the GPU verdict line


def test_analyzer_warnings_are_attributed_to_their_op():
    text = (
        "Subgraph#0 main(T#0) -> [T#2]\n"
        "  Op#0 CONV_2D(T#0, T#1) -> [T#3]\n"
        "  Op#1 FlexErf(T#3) -> [T#2]\n"
        "GPU COMPATIBILITY WARNING: Not supported custom op FlexErf\n"
        "\nGPU COMPATIBILITY WARNING: Subgraph#0 has GPU delegate compatibility issues "
        "at nodes 1 on TFLite runtime version 2.21.0\n"
    )
    assert parse_analyzer_output(text) == [
        {"subgraph": 0, "index": 1, "name": "FlexErf", "reason": "Not supported custom op FlexErf"}
    ]


def test_enforce_strict_raises_for_a_variant_incompatible_with_its_target():
    compat = {
        "fp16": {"gpu": {"ok": False, "ops": ["ARG_MAX"]}, "npu": {"ok": False, "ops": []}},
        "int8": {"gpu": {"ok": True, "ops": []}, "npu": {"ok": True, "ops": []}},
        "fp32": {"gpu": {"ok": False, "ops": ["ARG_MAX"]}, "npu": {"ok": False, "ops": []}},
    }
    warnings = enforce(compat, strict=False)
    assert len(warnings) == 1 and "fp16" in warnings[0] and "ARG_MAX" in warnings[0]
    with pytest.raises(UserError, match="ARG_MAX"):
        enforce(compat, strict=True)
    assert enforce({"int8": compat["int8"]}, strict=True) == []


def test_enforce_accepts_the_recipe_form_accelerator_to_variants():
    compat = {"fp16": {"gpu": {"ok": False, "ops": ["TOPK_V2"]}}, "int8": {"npu": {"ok": True, "ops": []}}}
    assert enforce(compat, {"gpu": ["fp16"], "npu": ["int8"]}) == [
        "variant 'fp16' targets gpu but these ops cannot run there: TOPK_V2"
    ]
    assert enforce(compat, {"gpu": [], "npu": ["int8"]}, strict=True) == []
