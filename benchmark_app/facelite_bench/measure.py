"""The timing loop: raw interpreter invokes, their statistics, and the process's peak RSS.

Latency is measured on `Interpreter.invoke()` alone (input set beforehand, output read
afterwards), so quantize/dequantize and Python glue never count. When the runtime's
`facelite.engine.Engine` is installed and exposes its interpreter, that interpreter (with
whatever delegate the engine chose) is the one timed, and its `.info` says which
accelerator actually ran; otherwise a plain CPU interpreter is built here.

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
    """An interpreter ready to invoke, plus what ran it."""

    interpreter: Any
    accelerator: str
    fallback_reason: str | None
    init_ms: float
    engine: Any = None
    info: dict = field(default_factory=dict)

    # -- float in / float out around the raw interpreter (parity uses this) --------
    def predict(self, x: np.ndarray) -> np.ndarray:
        """float32 batch (N, H, W, C) → float32 outputs (N, ...), one invoke per row."""
        if self.engine is not None and hasattr(self.engine, "run"):
            return np.asarray(self.engine.run(np.asarray(x, np.float32)), np.float32)
        outs = []
        for row in np.asarray(x, np.float32):
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


def load(bundle: Bundle, variant: str, accelerator: str = "cpu", num_threads: int = 1) -> Loaded:
    """Build the interpreter for `variant`; init_ms covers model load + allocate_tensors."""
    if accelerator not in ACCELERATORS:
        from facelite.errors import UserError

        raise UserError(f"accelerator '{accelerator}' is not one of {', '.join(ACCELERATORS)}")
    model = bytes(bundle.variant_bytes(variant))  # sha256-checked before it reaches LiteRT
    try:  # the runtime's engine, when it has landed
        from facelite.engine import Engine  # type: ignore
    except ImportError:
        Engine = None
    if Engine is not None:
        t0 = time.perf_counter()
        engine = Engine(bundle, variant=variant, accelerator=accelerator, num_threads=num_threads)
        init_ms = (time.perf_counter() - t0) * 1e3
        interp = getattr(engine, "interpreter", None) or getattr(engine, "_interpreter", None)
        info = engine.info if isinstance(engine.info, dict) else vars(engine.info)
        if interp is not None:
            return Loaded(interp, info.get("accelerator", "cpu"), info.get("fallback_reason"),
                          float(info.get("init_ms", init_ms)), engine, dict(info))
    from ai_edge_litert.interpreter import Interpreter

    reason = None
    used = "cpu"
    if accelerator in ("gpu", "npu"):
        reason = (f"{accelerator} requested, but the Python LiteRT on this host ships no "
                  f"{accelerator} delegate; ran on cpu (XNNPACK)")
    t0 = time.perf_counter()
    interp = Interpreter(model_content=model, num_threads=num_threads)
    interp.allocate_tensors()
    init_ms = (time.perf_counter() - t0) * 1e3
    return Loaded(interp, used, reason, init_ms)


def time_invokes(loaded: Loaded, x: np.ndarray, runs: int, warmup: int,
                 progress: ProgressFn | None = None) -> dict[str, Any]:
    """First invoke, `warmup` invokes, then `runs` timed invokes of the raw interpreter."""
    interp = loaded.interpreter
    set_input(interp, x[:1])
    t0 = time.perf_counter_ns()
    interp.invoke()
    first_ms = (time.perf_counter_ns() - t0) / 1e6
    warm = []
    for _ in range(max(0, warmup)):
        t0 = time.perf_counter_ns()
        interp.invoke()
        warm.append((time.perf_counter_ns() - t0) / 1e6)
    samples = []
    last = time.monotonic()
    for i in range(runs):
        t0 = time.perf_counter_ns()
        interp.invoke()
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


def benchmark(bundle: Bundle, variant: str, accelerator: str = "cpu", num_threads: int = 1,
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
        "variant": variant,
        "runs": runs,
        "warmup": warmup,
        "threads": num_threads,
        "pid": os.getpid(),
    })
    return result, loaded
