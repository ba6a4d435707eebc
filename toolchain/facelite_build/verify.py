"""Bundle verification for `facelite-build verify`: the runtime's rule, plus LiteRT helpers.

Why a re-export: a bundle must be judged by one rule whoever asks (`facelite verify`,
`facelite-build verify`, the bench), and that rule must run without TensorFlow, so it
lives in the runtime (`facelite.verify`: schema + checksums + golden replay of every
variant through the runtime Engine, each against the outputs the reference runtime
recorded for that variant at build time). This module adds the small LiteRT-only helpers the toolchain needs
(`io_details`, `run_tflite`) and, like the runtime, never imports TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from facelite.errors import BundleError
from facelite.preprocess import dequantize, quantize
from facelite.verify import PARITY_TOLERANCES, compare, inspect_bundle, verify_bundle

__all__ = ["PARITY_TOLERANCES", "compare", "inspect_bundle", "io_details", "run_tflite", "verify_bundle"]


def _quant(detail: dict) -> dict[str, float] | None:
    scale, zero = detail.get("quantization", (0.0, 0))
    if not scale:
        return None
    return {"scale": float(scale), "zero_point": int(zero)}


def io_details(tflite_bytes: bytes | memoryview) -> dict[str, Any]:
    """Input/output dtypes, shapes and quantization params of a `.tflite`, via LiteRT.

    Returns {"input_dtype", "output_dtype", "input_shape", "output_shape",
    "input_quant", "output_quant"}; a quant entry is {"scale", "zero_point"} or None
    for float tensors.
    """
    interp = Interpreter(model_content=bytes(tflite_bytes))
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    return {
        "input_dtype": np.dtype(inp["dtype"]).name,
        "output_dtype": np.dtype(out["dtype"]).name,
        "input_shape": [int(v) for v in inp["shape"]],
        "output_shape": [int(v) for v in out["shape"]],
        "input_quant": _quant(inp),
        "output_quant": _quant(out),
    }


def run_tflite(tflite_bytes: bytes | memoryview, inputs: np.ndarray) -> np.ndarray:
    """Run float32 `inputs` (N, ...) one sample at a time; return float32 outputs.

    Integer models get their inputs quantized with the model's own input params
    (facelite.preprocess.quantize, as the runtime does) and outputs dequantized.
    """
    interp = Interpreter(model_content=bytes(tflite_bytes), num_threads=2)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    in_dtype = np.dtype(inp["dtype"])
    in_q, out_q = _quant(inp), _quant(out)
    results = []
    for x in np.asarray(inputs, np.float32):
        x = x[None]
        if np.issubdtype(in_dtype, np.integer):
            if in_q is None:
                raise BundleError("integer model input has no quantization parameters")
            x = quantize(x, in_q["scale"], in_q["zero_point"], in_dtype)
        else:
            x = x.astype(in_dtype)
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        y = interp.get_tensor(out["index"])
        if np.issubdtype(y.dtype, np.integer) and out_q is not None:
            y = dequantize(y, out_q["scale"], out_q["zero_point"])
        results.append(np.asarray(y, np.float32)[0])
    return np.stack(results)
