"""Op-compatibility gates: can a variant run whole on the accelerator it targets?

Why: a delegate that cannot take an op hands that op (and everything after it) back
to the CPU, so a "GPU" model with one unsupported op is a slow CPU model with copies.
The build records, per variant, which ops would fall off each accelerator, and in
strict mode refuses to ship a variant that does not run whole on its own target
(fp16 → gpu, int8 → npu).

GPU: `tf.lite.experimental.Analyzer.analyze(..., gpu_compatibility=True)` is run and
its per-op `GPU COMPATIBILITY WARNING: <reason>` lines (printed under the op's
`Op#N NAME(...)` line) are parsed. Observed on TF 2.21.0 / ai-edge-litert 2.3.0 pip
wheels: the checker is compiled out — every model, even one with a Flex op or
ARG_MAX/TOPK_V2/REVERSE_V2, prints "Your model looks compatible with GPU delegate on
TFLite runtime version 2.21.0." and no warning. So the analyzer is backed by an
op-name check against the builtin ops the GPU delegate's compatibility checker
(tensorflow/lite/tools/versioning/gpu_compatibility.cc) accepts, plus its few
custom ops; Flex/other custom ops are flagged. The per-op parameter checks
(strides, broadcast shapes, ...) are not replicated: a pass is necessary, not
sufficient, as the analyzer itself says.

NPU: an NPU (NNAPI/Hexagon/Edge TPU) takes integer ops only, so every op of the model
must read and write integer tensors; any op touching a float tensor is listed.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
from typing import Any, Mapping

import ai_edge_litert.schema_py_generated as schema

from facelite.errors import UserError

from .quantize import VARIANT_TARGET

# Builtin ops the GPU delegate's compatibility checker accepts (by name; see module doc).
GPU_BUILTIN_OPS = frozenset(
    """
    ABS ADD ADD_N ATAN2 AVERAGE_POOL_2D BATCH_MATMUL CAST CEIL CONCATENATION CONV_2D COS
    CUMSUM DENSIFY DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE DIV DYNAMIC_UPDATE_SLICE
    ELU EMBEDDING_LOOKUP EQUAL EXP FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GELU
    GREATER GREATER_EQUAL HARD_SWISH LEAKY_RELU LESS LESS_EQUAL LOG LOGICAL_AND LOGISTIC
    LSTM MAXIMUM MAX_POOL_2D MEAN MINIMUM MIRROR_PAD MUL NEG NOT_EQUAL ONE_HOT PACK PAD
    PADV2 POW PRELU QUANTIZE REDUCE_MAX REDUCE_MIN REDUCE_PROD RELU RELU6 RELU_N1_TO_1
    RESHAPE RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR RSQRT SELECT SELECT_V2 SIGN SIN SLICE
    SOFTMAX SPACE_TO_DEPTH SPLIT SPLIT_V SQRT SQUARE SQUARED_DIFFERENCE STABLEHLO_CLAMP
    STRIDED_SLICE SUB SUM TANH TILE TRANSPOSE TRANSPOSE_CONV
    """.split()
)
GPU_CUSTOM_OPS = frozenset(
    {"Convolution2DTransposeBias", "MaxPoolingWithArgmax2D", "MaxUnpooling2D", "Resampler"}
)

_BUILTIN_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
_TYPE_NAMES = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
_FLOAT_TYPES = {"FLOAT32", "FLOAT16", "FLOAT64", "BFLOAT16", "COMPLEX64", "COMPLEX128"}

_OP_LINE = re.compile(r"^\s*Op#(\d+)\s+([A-Za-z0-9_]+)\(")
_SUBGRAPH_LINE = re.compile(r"^Subgraph#(\d+)")
_WARNING = "GPU COMPATIBILITY WARNING:"


# -- flatbuffer walk ------------------------------------------------------------


def model_ops(tflite_bytes: bytes | memoryview) -> list[dict[str, Any]]:
    """Every op of every subgraph: {subgraph, index, name, custom, inputs, outputs}.

    Tensor entries are (index, type name) pairs; optional inputs (-1) are skipped.
    """
    buf = bytes(tflite_bytes)
    model = schema.Model.GetRootAs(buf, 0)
    ops = []
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        for j in range(sg.OperatorsLength()):
            op = sg.Operators(j)
            code = model.OperatorCodes(op.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            name = _BUILTIN_NAMES.get(builtin, f"BUILTIN_{builtin}")
            custom = name == "CUSTOM"
            if custom:
                name = (code.CustomCode() or b"").decode("utf-8", "replace") or "CUSTOM"

            def tensors(indices):
                return [
                    (int(t), _TYPE_NAMES.get(sg.Tensors(int(t)).Type(), "UNKNOWN"))
                    for t in indices
                    if int(t) >= 0
                ]

            ops.append(
                {
                    "subgraph": s,
                    "index": j,
                    "name": name,
                    "custom": custom,
                    "inputs": tensors(op.InputsAsNumpy() if op.InputsLength() else []),
                    "outputs": tensors(op.OutputsAsNumpy() if op.OutputsLength() else []),
                }
            )
    return ops


# -- GPU ------------------------------------------------------------------------


def run_analyzer(tflite_bytes: bytes | memoryview) -> str:
    """The Analyzer's text report with GPU checks, captured from Python and fd 1."""
    import facelite_build  # noqa: F401  (legacy-Keras switch before TensorFlow)
    import tensorflow as tf

    sys.stdout.flush()
    saved = os.dup(1)
    py_out = io.StringIO()
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 1)
        try:
            with contextlib.redirect_stdout(py_out):
                tf.lite.experimental.Analyzer.analyze(
                    model_content=bytes(tflite_bytes), gpu_compatibility=True
                )
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
        tmp.seek(0)
        c_out = tmp.read().decode("utf-8", "replace")
    return py_out.getvalue() + c_out


def parse_analyzer_output(text: str) -> list[dict[str, Any]]:
    """Per-op GPU warnings: [{subgraph, index, name, reason}] from the Analyzer's text.

    Format (tensorflow/lite/python/analyzer_wrapper/model_analyzer.cc): each op line
    `  Op#3 FlexErf(T#5) -> [T#6]` may be followed by
    `GPU COMPATIBILITY WARNING: Not supported custom op FlexErf`; a subgraph summary
    `GPU COMPATIBILITY WARNING: Subgraph#0 has GPU delegate compatibility issues at
    nodes 3 ...` follows the ops and is skipped (it repeats the per-op lines).
    """
    found = []
    subgraph, current = 0, None
    for line in text.splitlines():
        m = _SUBGRAPH_LINE.match(line.strip())
        if m:
            subgraph, current = int(m.group(1)), None
            continue
        m = _OP_LINE.match(line)
        if m:
            current = (int(m.group(1)), m.group(2))
            continue
        if _WARNING in line:
            reason = line.split(_WARNING, 1)[1].strip()
            if "has GPU delegate compatibility issues" in reason or current is None:
                continue
            found.append(
                {"subgraph": subgraph, "index": current[0], "name": current[1], "reason": reason}
            )
    return found


def check_gpu(tflite_bytes: bytes | memoryview, ops: list[dict] | None = None) -> dict[str, Any]:
    """{"ok", "ops": [names], "reasons": [...]}: ops the GPU delegate would not take."""
    ops = model_ops(tflite_bytes) if ops is None else ops
    flagged: dict[str, str] = {}
    for w in parse_analyzer_output(run_analyzer(tflite_bytes)):
        flagged.setdefault(w["name"], f"analyzer: {w['reason']}")
    for op in ops:
        name = op["name"]
        if name in flagged:
            continue
        if op["custom"]:
            if name not in GPU_CUSTOM_OPS:
                flagged[name] = f"custom op {name} has no GPU delegate kernel"
        elif name not in GPU_BUILTIN_OPS:
            flagged[name] = f"op {name} is not supported by the GPU delegate"
    names = sorted(flagged)
    return {"ok": not names, "ops": names, "reasons": [flagged[n] for n in names]}


# -- NPU ------------------------------------------------------------------------


def check_npu(tflite_bytes: bytes | memoryview, ops: list[dict] | None = None) -> dict[str, Any]:
    """{"ok", "ops": [names]}: ops that read or write a float tensor (NPUs are integer-only)."""
    ops = model_ops(tflite_bytes) if ops is None else ops
    bad: list[str] = []
    for op in ops:
        types = {t for _, t in op["inputs"] + op["outputs"]}
        if types & _FLOAT_TYPES and op["name"] not in bad:
            bad.append(op["name"])
    return {"ok": not bad, "ops": sorted(bad)}


# -- per variant ------------------------------------------------------------------


def check_variant(tflite_bytes: bytes | memoryview, variant: str | None = None) -> dict[str, Any]:
    """Both gates for one variant's bytes: {"gpu": {...}, "npu": {...}}."""
    ops = model_ops(tflite_bytes)
    return {"gpu": check_gpu(tflite_bytes, ops), "npu": check_npu(tflite_bytes, ops)}


def _required(compat: Mapping[str, Any], targets: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(variant, accelerator) pairs that must pass, from either form of `targets`."""
    targets = dict(targets or {})
    if targets and set(targets) <= {"cpu", "gpu", "npu"} and all(
        isinstance(v, (list, tuple, set)) for v in targets.values()
    ):  # the recipe's [gates] form: {accelerator: [variants]}
        return [(v, acc) for acc, names in targets.items() for v in names if v in compat]
    merged = dict(VARIANT_TARGET, **targets)  # {variant: accelerator}
    return [(v, merged.get(v, "cpu")) for v in compat]


def enforce(
    compat_by_variant: Mapping[str, Mapping[str, Any]],
    targets: Mapping[str, Any] | None = None,
    strict: bool = False,
) -> list[str]:
    """Problems where a variant cannot run whole on the accelerator it is meant for.

    `targets` is either `{variant: accelerator}` (default `VARIANT_TARGET`: fp16→gpu,
    int8→npu) or the recipe's `{accelerator: [variants]}` (e.g. `{"gpu": ["fp16"],
    "npu": ["int8"]}`). Returns the messages (warnings for the build report); raises
    `UserError` with all of them when `strict`. CPU always passes.
    """
    problems = []
    for variant, target in _required(compat_by_variant, targets):
        if target == "cpu":
            continue
        gate = compat_by_variant[variant].get(target, {})
        if not gate.get("ok", False):
            ops = ", ".join(gate.get("ops", [])) or "unknown ops"
            problems.append(
                f"variant '{variant}' targets {target} but these ops cannot run there: {ops}"
            )
    if problems and strict:
        raise UserError(
            "; ".join(problems)
            + ". Replace those layers, or build without strict gates (the variant then "
            "falls back to CPU for those ops)"
        )
    return problems
