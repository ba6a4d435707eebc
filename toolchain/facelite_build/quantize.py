"""Keras model → the four LiteRT variants a bundle ships, one per accelerator class.

Why four: each accelerator wants a different number format. `fp32` is the reference
every other variant is verified against; `fp16` halves the file and is what mobile
GPU delegates compute in; `dynamic` stores int8 weights (≈4× smaller) but keeps
float activations, the cheapest win on CPU (its depthwise convolutions keep float
weights: `float_depthwise_weights` says why); `int8` is fully integer, inputs and
outputs included, which is what NPUs/DSPs (NNAPI, Hexagon, Edge TPU) require. Its
activation ranges are calibrated on `representative`: a few hundred *preprocessed*
float32 training inputs, so calibration sees exactly what inference will see.

Converter failures become `ConversionError` (a `UserError`) whose message names the
offending op when the converter's message does, so a user can swap that layer.

`io_details` (re-exported from `verify`, which must stay TensorFlow-free) reads the
input/output dtypes and quantization params back from the flatbuffer.
"""

from __future__ import annotations

import re
from typing import Iterator

import facelite_build  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
import flatbuffers
import numpy as np
import tensorflow as tf
import tf_keras as keras

from ai_edge_litert import schema_py_generated as schema

from facelite.errors import UserError
from facelite.preprocess import InputSpec, normalize

from .verify import io_details  # noqa: F401  (re-exported: dtypes + quant params)

VARIANTS = ("fp32", "fp16", "dynamic", "int8")
VARIANT_TARGET = {"fp32": "cpu", "fp16": "gpu", "dynamic": "cpu", "int8": "npu"}


class ConversionError(UserError):
    """The LiteRT converter rejected the model; `op` names the culprit when known."""

    def __init__(self, message: str, op: str | None = None):
        super().__init__(message)
        self.op = op


# Converter/quantizer messages that name an op, most specific first.
_OP_PATTERNS = (
    re.compile(r"Quantization not yet supported for op: '?([\w.]+)'?"),
    re.compile(r"'((?:tf|tfl)\.\w+)' op is neither a custom op nor a flex op"),
    re.compile(r"TF Select ops: ([\w.]+)"),
    re.compile(r"Ops that (?:can be supported by the flex runtime|need custom implementation)[^:]*:\s*(?:\n\s*)?((?:tf|tfl)\.\w+)"),
    re.compile(r"failed to legalize operation '([\w.]+)'"),
    re.compile(r"'((?:tf|tfl)\.\w+)' op"),
    re.compile(r"\b(tf\.[A-Z]\w+)"),
)


def op_from_message(message: str) -> str | None:
    """The op a converter error message blames, e.g. 'tf.ExtractImagePatches', or None."""
    for pattern in _OP_PATTERNS:
        m = pattern.search(message)
        if m:
            return m.group(1)
    return None


def _representative_gen(representative: np.ndarray) -> Iterator[list[np.ndarray]]:
    for i in range(representative.shape[0]):
        yield [representative[i : i + 1].astype(np.float32)]


def _batch1_converter(model: keras.Model):
    """Converter for the model traced at batch 1, the shape a phone feeds.

    A dynamic batch makes Reshape layers compute their shape at run time (SHAPE →
    STRIDED_SLICE → PACK ops), which GPU delegates reject; a static batch of 1
    folds those away.
    """
    shape = [1, *model.input_shape[1:]]
    if any(d is None for d in shape):
        raise UserError(f"model input shape {model.input_shape} must be fixed except for the batch")
    fn = tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec(shape, tf.float32, name="input")],
    )
    return tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], model)


def converter_for(model: keras.Model, variant: str, representative: np.ndarray | None = None):
    """A configured `tf.lite.TFLiteConverter` for `variant` (exposed for experiments)."""
    if variant not in VARIANTS:
        raise UserError(f"unknown variant '{variant}'; choose one of {', '.join(VARIANTS)}")
    converter = _batch1_converter(model)
    if variant == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif variant == "int8":
        if representative is None or len(representative) == 0:
            raise UserError(
                "the int8 variant needs representative inputs for calibration "
                "(a few hundred preprocessed training samples)"
            )
        representative = np.asarray(representative, np.float32)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: _representative_gen(representative)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter


def convert(model: keras.Model, variant: str, representative: np.ndarray | None = None) -> bytes:
    """Convert `model` to the `.tflite` bytes of `variant` (fp32, fp16, dynamic, int8)."""
    converter = converter_for(model, variant, representative)
    try:
        data = bytes(converter.convert())
        return float_depthwise_weights(data) if variant == "dynamic" else data
    except UserError:
        raise
    except Exception as exc:  # ConverterError, RuntimeError from the quantizer, ...
        message = str(exc)
        op = op_from_message(message)
        first = next((ln.strip() for ln in message.splitlines() if ln.strip()), type(exc).__name__)
        where = f"op {op} is not supported" if op else "the converter failed"
        raise ConversionError(
            f"cannot convert the model to the '{variant}' variant: {where} "
            f"({first[:300]}); replace that layer or drop the variant from the recipe",
            op=op,
        ) from None


def float_depthwise_weights(tflite_bytes: bytes) -> bytes:
    """The model with every int8 depthwise-convolution weight tensor stored as float32
    again (its dequantized values: `(q − zero_point) · scale` per channel), other tensors
    untouched.

    Why: the converter's dynamic-range quantization gives every weight tensor of 1,024+
    elements int8 weights, including the 3×3×C depthwise kernels of the wider layers
    (C ≥ 114). XNNPack runs dynamic-range ("hybrid") CONV_2D and FULLY_CONNECTED, but not
    a hybrid DEPTHWISE_CONV_2D: those stay in LiteRT's reference hybrid kernel and cut the
    graph into delegate partitions (8 in the MobileNet-style shipped models, 6–7 ms per
    inference against fp32's 0.5–1). With float depthwise weights the whole graph is one
    XNNPack partition, as fast as or faster than fp32, for about 15 KB more per model;
    the values are the ones the hybrid kernel computed with, so accuracy stays the
    dynamic variant's. Returns the bytes unchanged when there is nothing to convert.
    """
    model = schema.ModelT.InitFromPackedBuf(bytearray(tflite_bytes), 0)
    depthwise = {i for i, code in enumerate(model.operatorCodes)
                 if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.DEPTHWISE_CONV_2D}
    changed = 0
    for subgraph in model.subgraphs or []:
        for op in subgraph.operators or []:
            if op.opcodeIndex not in depthwise or len(op.inputs) < 2 or op.inputs[1] < 0:
                continue
            tensor = subgraph.tensors[op.inputs[1]]
            q = tensor.quantization
            if tensor.type != schema.TensorType.INT8 or q is None or q.scale is None:
                continue
            raw = np.frombuffer(bytes(bytearray(model.buffers[tensor.buffer].data)), np.int8).reshape(tensor.shape)
            axis = [1] * raw.ndim
            axis[q.quantizedDimension if len(q.scale) > 1 else 0] = -1
            scale = np.asarray(q.scale, np.float32).reshape(axis)
            zero_point = np.asarray(q.zeroPoint if q.zeroPoint is not None else [0], np.float32).reshape(axis)
            weights = ((raw.astype(np.float32) - zero_point) * scale).astype("<f4")
            model.buffers[tensor.buffer].data = np.frombuffer(weights.tobytes(), np.uint8)
            tensor.type, tensor.quantization = schema.TensorType.FLOAT32, None
            changed += 1
    if not changed:
        return tflite_bytes
    builder = flatbuffers.Builder(2 * len(tflite_bytes))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def convert_all(
    model: keras.Model, representative: np.ndarray | None, variants=VARIANTS
) -> dict[str, bytes]:
    """Every requested variant's bytes, in `VARIANTS` order."""
    return {v: convert(model, v, representative) for v in VARIANTS if v in variants}


def quantize_aware(model: keras.Model, preserve_sparsity: bool = False) -> keras.Model:
    """Wrap `model` for quantization-aware training (fake-quant on weights and activations).

    Fine-tune the result briefly, then `convert(qat_model, "int8", representative)`:
    ranges learned in training replace most of post-training calibration error.
    Checked with tf-keras MobileNet v1 (α 0.25, 32×32): wraps in ~5 s, trains, and
    converts to a full-int8 model (Conv2D/DepthwiseConv2D/BatchNorm/ReLU6/Reshape are
    in TFMOT's default 8-bit registry). TFMOT refuses models nested inside models, so
    build the backbone inline (as `model.build_model` does). The returned model is
    compiled like `model` (fresh optimizer of the same config) when `model` was compiled.
    With `preserve_sparsity`, TFMOT's prune-preserving scheme keeps pruned zeros at zero.
    """
    import tensorflow_model_optimization as tfmot

    from .prune import compiled_metrics

    nested = [layer.name for layer in model.layers if isinstance(layer, keras.Model)]
    if nested:
        raise UserError(
            f"quantization-aware training needs a flat model, but layer(s) {nested} are whole "
            "models; build the backbone inline (keras.Model(backbone.input, head(...)))"
        )
    if preserve_sparsity:
        annotated = tfmot.quantization.keras.quantize_annotate_model(model)
        scheme = tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
        qat = tfmot.quantization.keras.quantize_apply(annotated, scheme)
    else:
        qat = tfmot.quantization.keras.quantize_model(model)
    if getattr(model, "optimizer", None) is not None and getattr(model, "loss", None) is not None:
        opt = model.optimizer
        qat.compile(
            optimizer=opt.__class__.from_config(opt.get_config()),
            loss=model.loss,
            metrics=compiled_metrics(model),
        )
    return qat


def input_rounding(tflite_bytes: bytes | memoryview, spec: InputSpec) -> dict | None:
    """How far the 256 pixel levels land from the integer model's input levels.

    An int8 model quantizes the normalised input (`facelite.preprocess.normalize`) with
    its input scale and zero point. With the common mean 127.5 and the calibrated scale
    2/255, every pixel falls exactly halfway between two int8 levels, so each one is
    rounded: measured on the expression model, that rounding alone flips 1.4% of fp32's
    answers. An integer mean (128) maps pixels onto levels exactly. Returns
    `{"max_step_error": 0.5, "exact": False}` for such a model, None for float inputs.
    """
    q = io_details(tflite_bytes)["input_quant"]
    if q is None:
        return None
    pixels = np.repeat(np.arange(256, dtype=np.uint8)[:, None], spec.channels, axis=1)
    levels = normalize(pixels, spec) / q["scale"] + q["zero_point"]
    err = float(np.abs(levels - np.round(levels)).max())
    return {"max_step_error": round(err, 4), "exact": err < 0.01}
