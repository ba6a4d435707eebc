"""What a bundle records about each variant's speed and fidelity, for `variant="auto"`.

`facelite.engine.choose_variant` picks, per accelerator, the fastest variant whose
agreement with fp32 clears `facelite.engine.AGREEMENT_FLOOR`; this module writes what it
picks from (`variants.<name>.measured` in the manifest, `facelite.bundle.Measured`):

- **latency_ms**: the median of the raw LiteRT invoke (`Engine.bind`, batch 1, the
  runtime's default thread count `BaseOptions().num_threads`) on the build host, every
  variant timed in one run, in blocks interleaved round by round after a warm-up, so
  that a busy host slows them all alike and the medians compare (`interleaved_latency_ms`);
- **agreement**: the fraction of validation samples on which the variant gives the fp32
  model's answer, the figure the build's evaluation already computes
  (`metrics.<variant>.agreement_vs_fp32`; 1 for fp32 itself; None where the task has no
  such notion, e.g. landmarks' raw points, and a None never qualifies for speed);
- **host**: CPU model, logical cores, OS and LiteRT version, so a reader can tell whose
  machine the numbers describe.

The package stage records it for every new bundle; `facelite-build measure BUNDLE`
records it into an existing one (no retraining: the agreement comes from the manifest's
metrics), re-signing it as the package stage does (development key unless given one).

Example:

    >>> from facelite_build.measure import measure_bundle
    >>> measure_bundle("models/expression/expression.flb")          # doctest: +SKIP
    PosixPath('models/expression/expression.flb')
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from facelite.bundle import Bundle
from facelite.engine import Engine
from facelite.errors import UserError
from facelite.options import BaseOptions

WARMUP_ROUNDS = 2
"""Untimed rounds first (LiteRT's first invokes pack weights and warm caches)."""
ROUNDS = 20
"""Timed rounds; each round runs every variant's block once, starting from a rotating variant."""
BLOCK = 10
"""Invokes per variant per round; the first `SETTLE` of each block are not timed."""
SETTLE = 2
"""Invokes that absorb the switch between variants: each interpreter has its own thread
pool, whose workers keep spinning a while after an invoke and slow the next variant's
first invokes (timing single invokes in turn doubled fp32's median on 2 cores)."""
REPEATS = ROUNDS * (BLOCK - SETTLE)
"""Timed invokes per variant (160): shipped models take 0.1-3 ms an invoke, so medians of
this many hold within about 10% between runs on a busy 2-core host."""


def build_host() -> dict[str, Any]:
    """The machine the numbers come from: CPU model, logical cores, OS, LiteRT version."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        litert = importlib.metadata.version("ai-edge-litert")
    except importlib.metadata.PackageNotFoundError:
        litert = None
    return {"cpu": cpu[:256], "cores": os.cpu_count() or 1, "os": platform.platform()[:256], "litert": litert}


def interleaved_latency_ms(engines: Mapping[str, Engine], x: np.ndarray, rounds: int = ROUNDS,
                           block: int = BLOCK, settle: int = SETTLE,
                           warmup: int = WARMUP_ROUNDS) -> dict[str, float]:
    """Median raw-invoke milliseconds per engine on one sample `x` (float32 (1, H, W, C)),
    over `rounds` × (`block` − `settle`) timed invokes each.

    Round r runs a block of `block` invokes of every engine, starting from the r-th
    (rotating), so a burst of load on the host slows every variant alike and no variant
    always follows the same one; the first `settle` invokes of a block are not timed.
    """
    if rounds < 1 or block <= settle:
        raise UserError(f"rounds {rounds}, block {block}, settle {settle}: need rounds >= 1 and block > settle")
    names = list(engines)
    invokes = {n: engines[n].bind(x) for n in names}
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(warmup + rounds):
        for k in range(len(names)):
            name = names[(r + k) % len(names)]
            invoke = invokes[name]
            for i in range(block):
                t0 = time.perf_counter()
                invoke()
                if r >= warmup and i >= settle:
                    samples[name].append((time.perf_counter() - t0) * 1000.0)
    return {n: float(np.median(samples[n])) for n in names}


def recorded_agreement(metrics: Mapping[str, Any], variant: str) -> float | None:
    """Variant `variant`'s agreement with fp32 as the build's evaluation measured it on the
    validation split (`metrics.<variant>.agreement_vs_fp32`); 1.0 for fp32; None if absent."""
    if variant == "fp32":
        return 1.0
    value = (metrics.get(variant) or {}).get("agreement_vs_fp32") if isinstance(metrics, Mapping) else None
    return None if value is None else float(value)


def measure_engines(engines: Mapping[str, Engine], x: np.ndarray, metrics: Mapping[str, Any],
                   rounds: int = ROUNDS) -> dict[str, dict[str, Any]]:
    """Per variant, its `measured` manifest record (see the module doc). `engines` are CPU
    engines of every variant of one bundle, all with the same thread count; `x` one
    float32 sample; `metrics` the manifest's `metrics` block (the agreement's source)."""
    threads = {e.num_threads for e in engines.values()}
    if len(threads) != 1:
        raise UserError(f"time every variant with one thread count, got {sorted(threads)}")
    latency = interleaved_latency_ms(engines, x, rounds=rounds)
    host = build_host()
    return {name: {"accelerator": "cpu", "threads": next(iter(threads)), "latency_ms": round(ms, 4),
                   "repeats": rounds * (BLOCK - SETTLE), "agreement": recorded_agreement(metrics, name),
                   "host": dict(host)}
            for name, ms in latency.items()}


def measure_variants(variants: Mapping[str, bytes], x: np.ndarray, metrics: Mapping[str, Any],
                     num_threads: int | None = None, rounds: int = ROUNDS) -> dict[str, dict[str, Any]]:
    """`measure_engines` on freshly converted `.tflite` bytes (the package stage's), with
    the runtime's default thread count unless `num_threads` is given."""
    threads = num_threads or BaseOptions().num_threads
    engines = {name: Engine.from_bytes(data, num_threads=threads, name=name) for name, data in variants.items()}
    return measure_engines(engines, x, metrics, rounds)


def measure_bundle(path: str | os.PathLike, out: str | os.PathLike | None = None,
                   num_threads: int | None = None, rounds: int = ROUNDS,
                   signing_key: str | os.PathLike | None = None) -> Path:
    """Record every variant's `measured` entry into the bundle at `path` (or a copy at
    `out`), re-signed (`package.rewrite_manifest`: only `manifest.json` and the signature
    change; `signing_key`, else the development key); returns it.

    The timed input is the first golden input (normalised as the runtime does), or zeros
    for a bundle without goldens. Raises BundleError for a bundle that fails its checksums.
    """
    from .package import rewrite_manifest

    threads = num_threads or BaseOptions().num_threads
    with Bundle.open(path) as bundle:
        engines = {name: Engine(bundle, name, "cpu", threads) for name in bundle.variants}
        x = bundle.golden()[0][:1] if bundle.has_golden else np.zeros(bundle.manifest["input"]["shape"], np.float32)
        records = measure_engines(engines, x, bundle.manifest.get("metrics", {}), rounds)
        del engines

    def record(manifest: dict) -> None:
        for name, entry in records.items():
            manifest["variants"][name]["measured"] = entry

    return rewrite_manifest(path, record, out=out, signing_key=signing_key)
