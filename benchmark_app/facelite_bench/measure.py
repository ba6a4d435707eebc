"""The timing loop: raw interpreter invokes, their statistics, and the process's peak RSS.

The model is loaded by the runtime's `facelite.engine.Engine` (so accelerator choice and
fallback are the runtime's, and `.info` says which accelerator actually ran), but latency
is measured on the raw call alone: `Interpreter.invoke()` on the CPU path, or the
CompiledModel's `run_by_index` on a GPU/NPU; inputs are set beforehand, so quantize,
dequantize and Python glue never count. Without the engine a plain CPU interpreter is
built here.

Example:

    >>> from facelite_bench.measure import latency_stats
    >>> s = latency_stats([1.0, 2.0, 3.0, 4.0])
    >>> s["avg_ms"], s["p50_ms"]
    (2.5, 2.5)
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from facelite.bundle import Bundle
from facelite.preprocess import dequantize, quantize

ProgressFn = Callable[[int, int, str], None]
ACCELERATORS = ("cpu", "gpu", "npu", "auto")


def _status_kb(key: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """Current resident set size in MB (VmRSS)."""
    kb = _status_kb("VmRSS")
    return round((kb or 0.0) / 1024.0, 2)


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (VmHWM, else getrusage maxrss)."""
    kb = _status_kb("VmHWM")
    if kb is None:
        kb = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return round(kb / 1024.0, 2)


def latency_stats(samples_ms: list[float] | np.ndarray) -> dict[str, float]:
    a = np.asarray(samples_ms, np.float64)
    if a.size == 0:
        return {k: None for k in ("avg_ms", "p50_ms", "p90_ms", "p99_ms", "std_ms", "min_ms", "max_ms")}
    r = lambda v: round(float(v), 4)  # noqa: E731
    return {
        "avg_ms": r(a.mean()),
        "p50_ms": r(np.percentile(a, 50)),
        "p90_ms": r(np.percentile(a, 90)),
        "p99_ms": r(np.percentile(a, 99)),
        "std_ms": r(a.std()),
        "min_ms": r(a.min()),
        "max_ms": r(a.max()),
    }


@dataclass
class Loaded:
    """A model ready to invoke, plus what ran it.

    `invoke` is the raw call that is timed: `Interpreter.invoke()` on the CPU path, or
    the CompiledModel's `run_by_index` with pre-made buffers when the engine put the
    variant on a GPU/NPU. `predict` (float in, float out) is what parity uses.
    """

    variant: str
    accelerator: str
    fallback_reason: str | None
    init_ms: float
    interpreter: Any = None
    engine: Any = None
    info: dict = field(default_factory=dict)
    _compiled_io: Any = None

    def set_input(self, x: np.ndarray) -> None:
        compiled = getattr(self.engine, "_compiled", None) if self.engine is not None else None
        if compiled is not None:
            inputs = compiled.create_input_buffers(0)
            outputs = compiled.create_output_buffers(0)
            inputs[0].write(self.engine._quantize_input(np.asarray(x, np.float32)))
            self._compiled_io = (compiled, inputs, outputs)
        else:
            set_input(self.interpreter, x)

    def invoke(self) -> None:
        if self._compiled_io is not None:
            cm, inputs, outputs = self._compiled_io
            cm.run_by_index(0, inputs, outputs)
        else:
            self.interpreter.invoke()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """float32 batch (N, H, W, C) → float32 outputs (N, ...); several outputs are
        flattened and concatenated per sample."""
        x = np.asarray(x, np.float32)
        if self.engine is not None:
            outs = self.engine.run(x)
            if len(outs) == 1:
                return np.asarray(outs[0], np.float32)
            return np.concatenate([np.asarray(o, np.float32).reshape(len(x), -1) for o in outs], axis=1)
        outs = []
        for row in x:
            set_input(self.interpreter, row[None])
            self.interpreter.invoke()
            outs.append(get_output(self.interpreter)[0])
        return np.stack(outs)


def _quant(detail: dict) -> tuple[float, int]:
    scale, zp = detail.get("quantization", (0.0, 0))
    return float(scale), int(zp)


def set_input(interp, x: np.ndarray) -> None:
    d = interp.get_input_details()[0]
    dtype = np.dtype(d["dtype"])
    if dtype.kind in "iu":
        scale, zp = _quant(d)
        x = quantize(x, scale, zp, dtype)
    interp.set_tensor(d["index"], np.ascontiguousarray(x, dtype=dtype))


def get_output(interp) -> np.ndarray:
    d = interp.get_output_details()[0]
    y = interp.get_tensor(d["index"])
    if np.dtype(d["dtype"]).kind in "iu":
        scale, zp = _quant(d)
        y = dequantize(y, scale, zp)
    return np.asarray(y, np.float32)


def load(bundle: Bundle, variant: str | None, accelerator: str = "cpu", num_threads: int = 1) -> Loaded:
    """Build the runnable model; init_ms covers model load + delegate + allocate_tensors.

    Uses the runtime's `facelite.engine.Engine` (its accelerator choice and fallback
    reason are reported as-is); a plain CPU interpreter only if the engine is absent.
    `variant=None` lets the engine pick the variant for the accelerator.
    """
    if accelerator not in ACCELERATORS:
        from facelite.errors import UserError

        raise UserError(f"accelerator '{accelerator}' is not one of {', '.join(ACCELERATORS)}")
    try:
        from facelite.engine import Engine
    except ImportError:
        Engine = None
    if Engine is not None:
        engine = Engine(bundle, variant=variant or "auto", accelerator=accelerator, num_threads=num_threads)
        info = engine.info.to_json() if hasattr(engine.info, "to_json") else dict(vars(engine.info))
        return Loaded(info["variant"], info["accelerator"], info.get("fallback_reason"),
                      float(info["init_ms"]), getattr(engine, "_interp", None), engine, info)
    from ai_edge_litert.interpreter import Interpreter

    if variant is None:
        from .device_runner import default_variant

        variant = default_variant(bundle)
    reason = None
    if accelerator in ("gpu", "npu"):
        reason = f"{accelerator} requested, but facelite.engine is unavailable; ran on cpu"
    t0 = time.perf_counter()
    model = bytes(bundle.variant_bytes(variant))  # sha256-checked before it reaches LiteRT
    interp = Interpreter(model_content=model, num_threads=num_threads)
    interp.allocate_tensors()
    init_ms = (time.perf_counter() - t0) * 1e3
    return Loaded(variant, "cpu", reason, init_ms, interp, None, {"runtime": "ai-edge-litert (direct)"})


def time_invokes(loaded: Loaded, x: np.ndarray, runs: int, warmup: int,
                 progress: ProgressFn | None = None) -> dict[str, Any]:
    """First invoke, `warmup` invokes, then `runs` timed invokes of the raw interpreter."""
    loaded.set_input(x[:1])
    invoke = loaded.invoke
    t0 = time.perf_counter_ns()
    invoke()
    first_ms = (time.perf_counter_ns() - t0) / 1e6
    warm = []
    for _ in range(max(0, warmup)):
        t0 = time.perf_counter_ns()
        invoke()
        warm.append((time.perf_counter_ns() - t0) / 1e6)
    samples = []
    last = time.monotonic()
    for i in range(runs):
        t0 = time.perf_counter_ns()
        invoke()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
        if progress and time.monotonic() - last > 0.25:
            progress(i + 1, runs, "timing")
            last = time.monotonic()
    if progress:
        progress(runs, runs, "timing")
    out = {
        "init_ms": round(loaded.init_ms, 4),
        "first_ms": round(first_ms, 4),
        "warmup_avg_ms": round(float(np.mean(warm)), 4) if warm else None,
    }
    out.update(latency_stats(samples))
    out["samples_ms"] = [round(s, 4) for s in samples]
    return out


def sample_input(bundle: Bundle) -> np.ndarray:
    """A real input when the bundle has goldens, else a fixed pseudo-random one."""
    if bundle.has_golden:
        return bundle.golden()[0][:1].astype(np.float32)
    shape = (1, *bundle.input_spec.shape[1:])
    return np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)


def benchmark(bundle: Bundle, variant: str | None, accelerator: str = "cpu", num_threads: int = 1,
              runs: int = 50, warmup: int = 5, progress: ProgressFn | None = None) -> tuple[dict, Loaded]:
    """Load and time one variant; returns (result dict with latency + RSS keys, loaded)."""
    x = sample_input(bundle)
    baseline = rss_mb()
    loaded = load(bundle, variant, accelerator, num_threads)
    result = time_invokes(loaded, x, runs, warmup, progress)
    peak = peak_rss_mb()
    result.update({
        "peak_rss_mb": peak,
        "baseline_rss_mb": baseline,
        "peak_rss_delta_mb": round(max(0.0, peak - baseline), 2),
        "accelerator": loaded.accelerator,
        "accelerator_requested": accelerator,
        "fallback_reason": loaded.fallback_reason,
        "variant": loaded.variant,
        "runtime": loaded.info.get("runtime"),
        "runs": runs,
        "warmup": warmup,
        "threads": num_threads,
        "pid": os.getpid(),
    })
    return result, loaded
