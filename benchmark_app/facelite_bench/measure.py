"""The timing loop: raw LiteRT invokes, their statistics, and the process's peak RSS.

The model is loaded by the runtime's `facelite.engine.Engine` (so variant choice,
accelerator choice and fallback are the runtime's, and `.info` says which accelerator
actually ran), but latency is measured on the raw call alone: `Engine.bind` sets the
(quantized) input beforehand and hands back LiteRT's own invoke (the CPU interpreter's, or
the GPU/NPU compiled model's run on pre-made buffers), so quantize, dequantize and Python
glue never count.

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
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from facelite.bundle import Bundle
from facelite.engine import Engine

ProgressFn = Callable[[int, int, str], None]


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
    """A model ready to time, plus what ran it (the engine's own report)."""

    engine: Engine

    @property
    def info(self) -> dict[str, Any]:
        return self.engine.info.to_json()

    @property
    def variant(self) -> str:
        return self.engine.info.variant

    @property
    def accelerator(self) -> str:
        return self.engine.info.accelerator

    @property
    def fallback_reason(self) -> str | None:
        return self.engine.info.fallback_reason

    @property
    def init_ms(self) -> float:
        return self.engine.info.init_ms

    def predict(self, x: np.ndarray) -> np.ndarray:
        """float32 batch (N, H, W, C) → float32 outputs (N, ...); several outputs are
        flattened and concatenated per sample."""
        x = np.asarray(x, np.float32)
        outs = self.engine.run(x)
        if len(outs) == 1:
            return np.asarray(outs[0], np.float32)
        return np.concatenate([np.asarray(o, np.float32).reshape(len(x), -1) for o in outs], axis=1)


def load(bundle: Bundle, variant: str | None, accelerator: str = "cpu", num_threads: int = 1) -> Loaded:
    """Load through the runtime Engine; its init_ms covers model load + delegate +
    allocate_tensors, and its accelerator choice and fallback reason are reported as-is.
    `variant=None` lets the engine pick the variant for the accelerator (`choose_variant`).
    """
    return Loaded(Engine(bundle, variant=variant or "auto", accelerator=accelerator, num_threads=num_threads))


def time_invokes(loaded: Loaded, x: np.ndarray, runs: int, warmup: int,
                 progress: ProgressFn | None = None) -> dict[str, Any]:
    """First invoke, `warmup` invokes, then `runs` timed invokes of the raw LiteRT call."""
    invoke = loaded.engine.bind(x[:1])
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
