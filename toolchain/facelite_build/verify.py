"""Bundle verification for `facelite-build verify`: the runtime's rule, plus two model helpers.

Why a re-export: a bundle must be judged by one rule whoever asks (`facelite verify`,
`facelite-build verify`, the bench), and that rule must run without TensorFlow, so it
lives in the runtime (`facelite.verify`: schema + checksums + golden replay of every
variant through the runtime Engine, each against the outputs the reference runtime
recorded for that variant at build time). This module adds the two helpers the toolchain
needs for freshly converted `.tflite` bytes (`io_details`, `run_tflite`); both go through
the runtime's `facelite.engine.Engine.from_bytes`, the only code that touches LiteRT, so a
variant is checked exactly as the runtime will run it. Like the runtime, never imports
TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from facelite.engine import Engine, TensorInfo
from facelite.verify import PARITY_TOLERANCES, compare, inspect_bundle, verify_bundle

__all__ = ["PARITY_TOLERANCES", "compare", "inspect_bundle", "io_details", "run_tflite", "verify_bundle"]


def _quant(t: TensorInfo) -> dict[str, float] | None:
    q = t.quantization
    return None if q is None else {"scale": q.scale, "zero_point": q.zero_point}


def io_details(tflite_bytes: bytes | memoryview) -> dict[str, Any]:
    """Input/output dtypes, shapes and quantization params of a `.tflite` (first input and
    first output).

    Returns {"input_dtype", "output_dtype", "input_shape", "output_shape",
    "input_quant", "output_quant"}; a quant entry is {"scale", "zero_point"} or None
    for float tensors.
    """
    engine = Engine.from_bytes(tflite_bytes, num_threads=1)
    inp, out = engine.input_details[0], engine.output_details[0]
    return {
        "input_dtype": inp.dtype.name,
        "output_dtype": out.dtype.name,
        "input_shape": list(inp.shape),
        "output_shape": list(out.shape),
        "input_quant": _quant(inp),
        "output_quant": _quant(out),
    }


def run_tflite(tflite_bytes: bytes | memoryview, inputs: np.ndarray) -> np.ndarray:
    """Run float32 `inputs` (N, ...) one sample at a time; return the first output, float32.

    Integer models get their inputs quantized with the model's own input params and their
    outputs dequantized, by the runtime Engine.
    """
    engine = Engine.from_bytes(tflite_bytes, num_threads=2)
    return np.stack([engine.run(x[None])[0][0] for x in np.asarray(inputs, np.float32)])
