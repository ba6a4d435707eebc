"""Task metrics for a converted variant, computed in LiteRT on preprocessed arrays.

The toolchain uses this to write per-variant accuracy and fp32 agreement into the
manifest; it runs the `.tflite` bytes exactly as shipped (integer I/O included).
"""

from __future__ import annotations

import numpy as np

from facelite.preprocess import dequantize, quantize

try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError:  # pragma: no cover
    from tflite_runtime.interpreter import Interpreter


def run_tflite(model: bytes, x: np.ndarray, batch: int = 64, threads: int = 2) -> np.ndarray:
    """Float outputs of a `.tflite` on float inputs x (N, H, W, C), quantizing as needed."""
    interp = Interpreter(model_content=bytes(model), num_threads=threads)
    inp = interp.get_input_details()[0]
    outs = []
    current = None
    for start in range(0, len(x), batch):
        chunk = x[start : start + batch]
        if current != len(chunk):
            interp.resize_tensor_input(inp["index"], [len(chunk), *x.shape[1:]])
            interp.allocate_tensors()
            current = len(chunk)
            inp = interp.get_input_details()[0]
            out = interp.get_output_details()[0]
        scale, zero = inp["quantization"]
        if np.issubdtype(inp["dtype"], np.integer):
            chunk = quantize(chunk, scale, zero, inp["dtype"])
        interp.set_tensor(inp["index"], chunk.astype(inp["dtype"], copy=False))
        interp.invoke()
        y = interp.get_tensor(out["index"])
        if np.issubdtype(out["dtype"], np.integer):
            y = dequantize(y, *out["quantization"])
        outs.append(y.astype(np.float32).reshape(len(chunk), -1))
    return np.concatenate(outs)


def psnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Output PSNR vs the reference's peak-to-peak range; inf when identical."""
    mse = float(np.mean((reference.astype(np.float64) - test) ** 2))
    peak = float(reference.max() - reference.min()) or 1.0
    return float("inf") if mse == 0 else 10.0 * np.log10(peak**2 / mse)


def classification_metrics(probs: np.ndarray, y: np.ndarray, reference: np.ndarray | None = None) -> dict:
    pred = probs.argmax(1)
    out = {"n": int(len(y)), "accuracy": round(float((pred == y).mean()), 4)}
    if reference is not None:
        out["agreement_vs_fp32"] = round(float((pred == reference.argmax(1)).mean()), 4)
        out["psnr_db"] = round(psnr_db(reference, probs), 2)
    return out


def nme(points: np.ndarray, truth: np.ndarray) -> float:
    """Mean point error over the outer-eye-corner distance (36–45), both (N, 68, 2)."""
    iod = np.linalg.norm(truth[:, 36] - truth[:, 45], axis=1)
    err = np.linalg.norm(points - truth, axis=2).mean(axis=1)
    return float(np.mean(err / np.maximum(iod, 1e-6)))


def landmark_metrics(pred: np.ndarray, y: np.ndarray, reference: np.ndarray | None = None) -> dict:
    out = {"n": int(len(y)), "nme": round(nme(pred.reshape(-1, 68, 2), y.reshape(-1, 68, 2)), 5)}
    if reference is not None:
        out["max_abs_err_vs_fp32"] = round(float(np.abs(pred - reference).max()), 5)
    return out
