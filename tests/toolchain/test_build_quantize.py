"""The four variants convert, run in LiteRT and agree with Keras; int8 is integer end to end."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from ai_edge_litert import schema_py_generated as schema

from facelite.engine import Engine
from facelite_build.quantize import VARIANT_TARGET, VARIANTS, ConversionError, convert, op_from_message
from facelite_build.verify import compare, io_details, run_tflite


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_runs_in_litert_and_agrees_with_keras(
    variant, variants, goldens, toy_tolerance, record_property
):
    x, ref = goldens
    out = run_tflite(variants[variant], x)
    result = compare(variant, out, ref, "classification", toy_tolerance[variant])
    record_property(f"{variant}_max_abs_err", result["max_abs_err"])
    record_property(f"{variant}_top1_agreement", result["top1_agreement"])
    print(f"{variant}: max_abs_err={result['max_abs_err']:.2e} top1={result['top1_agreement']:.3f}")
    assert result["ok"], result


def test_int8_variant_has_int8_input_and_output_with_quant_params(variants):
    io = io_details(variants["int8"])
    assert io["input_dtype"] == "int8" and io["output_dtype"] == "int8"
    assert io["input_quant"]["scale"] > 0 and io["output_quant"]["scale"] > 0
    for v in ("fp32", "fp16", "dynamic"):
        d = io_details(variants[v])
        assert d["input_dtype"] == "float32" and d["input_quant"] is None


def test_variants_are_traced_at_batch_one(variants):
    assert io_details(variants["fp32"])["input_shape"] == [1, 32, 32, 3]


def test_variant_targets_cover_cpu_gpu_npu():
    assert VARIANT_TARGET == {"fp32": "cpu", "fp16": "gpu", "dynamic": "cpu", "int8": "npu"}


def test_float_variants_shrink_in_order(variants):
    sizes = {v: len(b) for v, b in variants.items()}
    assert sizes["fp16"] < 0.6 * sizes["fp32"]
    assert sizes["dynamic"] < 0.4 * sizes["fp32"]


def test_dynamic_variant_keeps_depthwise_weights_float_so_xnnpack_runs_the_whole_graph():
    """A hybrid (int8-weight) depthwise convolution is not XNNPack's: it split the shipped
    models into 8 partitions and made `dynamic` 8x slower than fp32."""
    keras.utils.set_random_seed(5)
    inp = keras.Input((12, 12, 8))
    x = keras.layers.Conv2D(128, 1, activation="relu")(inp)  # 1,024 weights: int8 in `dynamic`
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)  # 1,152: int8 from the converter
    x = keras.layers.Conv2D(128, 1, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(4)(x))
    dynamic = convert(model, "dynamic")
    m = schema.ModelT.InitFromPackedBuf(bytearray(dynamic), 0)
    sub = m.subgraphs[0]
    kinds = {max(m.operatorCodes[op.opcodeIndex].builtinCode, m.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode):
             sub.tensors[op.inputs[1]].type for op in sub.operators if len(op.inputs) > 1}
    assert kinds[schema.BuiltinOperator.DEPTHWISE_CONV_2D] == schema.TensorType.FLOAT32
    assert kinds[schema.BuiltinOperator.CONV_2D] == schema.TensorType.INT8  # still dynamic-range elsewhere
    engine = Engine.from_bytes(dynamic, 1)
    assert engine.delegate_partitions == 1
    x = np.random.default_rng(0).normal(size=(2, 12, 12, 8)).astype(np.float32)
    reference = Engine.from_bytes(convert(model, "fp32"), 1).run(x)[0]
    np.testing.assert_allclose(engine.run(x)[0], reference, atol=0.05 * np.abs(reference).max())


def test_int8_is_at_most_30_percent_of_fp32_for_a_weight_heavy_model(data):
    keras.utils.set_random_seed(4)
    inp = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(inp)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    out = keras.layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inp, out)
    fp32 = convert(model, "fp32")
    int8 = convert(model, "int8", data[0][:32])
    ratio = len(int8) / len(fp32)
    print(f"int8/fp32 = {ratio:.3f}")
    assert ratio <= 0.30


def test_int8_without_representative_data_is_a_user_error(trained_model):
    from facelite.errors import UserError

    with pytest.raises(UserError, match="representative"):
        convert(trained_model, "int8", None)


def test_unsupported_op_conversion_error_names_the_op():
    inp = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3)(inp)
    x = keras.layers.Lambda(lambda t: tf.math.erf(t))(x)  # no TFLite builtin kernel
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(x))
    with pytest.raises(ConversionError) as info:
        convert(model, "fp32")
    assert info.value.op == "tf.Erf"
    assert "tf.Erf" in str(info.value)


def test_op_is_parsed_from_known_converter_messages():
    assert op_from_message("Quantization not yet supported for op: 'COS'.") == "COS"
    assert op_from_message("error: 'tf.Erf' op is neither a custom op nor a flex op") == "tf.Erf"
    assert op_from_message("TF Select ops: Erf\nDetails:") == "Erf"
    assert op_from_message("something else broke") is None


def test_input_rounding_flags_mean_127_5_and_passes_an_integer_mean(variants):
    from facelite_build.quantize import input_rounding

    q = io_details(variants["int8"])["input_quant"]
    assert q["scale"] == pytest.approx(2 / 255)          # calibrated on inputs spanning [-1, 1]
    half = input_rounding(variants["int8"], _spec(127.5))
    assert half == {"max_step_error": 0.5, "exact": False}
    assert input_rounding(variants["int8"], _spec(128.0))["exact"] is True
    assert input_rounding(variants["fp32"], _spec(127.5)) is None


def _spec(mean: float):
    from facelite.preprocess import InputSpec

    return InputSpec((1, 32, 32, 3), "rgb", "bilinear", (mean,) * 3, (127.5,) * 3)
