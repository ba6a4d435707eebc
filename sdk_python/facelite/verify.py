"""Is this bundle trustworthy? Checksums, schema, and golden replay of every variant.

A bundle records, at build time, a few real preprocessed validation inputs and what the
Keras model computed on them (`golden/`). Verifying replays those inputs through each
shipped variant *with the runtime's own Engine* (LiteRT, the same quantization code that
analysis uses) and compares. Lives in the runtime, not the toolchain, so `facelite
verify`, `facelite-build` and the bench all judge a bundle by one rule and none of them
needs TensorFlow (the toolchain's `facelite_build.verify` should re-export this module).

Tolerances (from the toolchain's tuning on a tiny MobileNet): fp32 must match the
goldens to 1e-4 (same float graph, different kernels); fp16 to 1e-2. `dynamic` and
`int8` are judged for classification on top-1 agreement with the goldens (≥ 0.75) plus
a loose max |err| (0.15 dynamic, 0.25 int8: calibration error dominates one int8 step
of 1/256). Points and heatmap outputs use max |err| only. A manifest may override them
under `verify.tolerance.<variant>`.

Example:

    >>> from facelite.verify import verify_bundle
    >>> report = verify_bundle("models/expression/expression.flb")      # doctest: +SKIP
    >>> report["ok"], report["variants"]["int8"]["top1_agreement"]      # doctest: +SKIP
    (True, 1.0)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .bundle import Bundle
from .errors import BundleError

TOLERANCES: dict[str, dict[str, float | None]] = {
    "fp32": {"max_abs_err": 1e-4, "top1_agreement": 1.0},
    "fp16": {"max_abs_err": 1e-2, "top1_agreement": None},
    "dynamic": {"max_abs_err": 0.15, "top1_agreement": 0.75},
    "int8": {"max_abs_err": 0.25, "top1_agreement": 0.75},
}


def compare(variant: str, outputs: np.ndarray, golden: np.ndarray, task: str,
            tolerance: dict[str, float | None] | None = None) -> dict[str, Any]:
    """Error statistics of `outputs` vs `golden` and pass/fail against the variant's tolerance."""
    tol = dict(TOLERANCES.get(variant, TOLERANCES["int8"]))
    tol.update(tolerance or {})
    err = np.abs(outputs.astype(np.float64) - golden.astype(np.float64))
    result: dict[str, Any] = {
        "n": int(golden.shape[0]),
        "max_abs_err": float(err.max()) if err.size else 0.0,
        "mean_abs_err": float(err.mean()) if err.size else 0.0,
        "tolerance": tol,
    }
    ok = result["max_abs_err"] <= float(tol["max_abs_err"])
    if task == "classification":
        agree = float(np.mean(outputs.reshape(len(outputs), -1).argmax(1) == golden.reshape(len(golden), -1).argmax(1)))
        result["top1_agreement"] = agree
        if tol.get("top1_agreement") is not None:
            ok = ok and agree >= float(tol["top1_agreement"])
    result["ok"] = bool(ok)
    return result


def _match_golden(outputs: list[np.ndarray], names: list[str], golden: np.ndarray) -> np.ndarray:
    """The engine output(s) shaped like the golden array (first output, or all concatenated)."""
    n = len(golden)
    if outputs[0].size == golden.size:
        return outputs[0].reshape(golden.shape)
    flat = np.concatenate([o.reshape(n, -1) for o in outputs], axis=1)
    if flat.size == golden.size:
        return flat.reshape(golden.shape)
    raise BundleError(f"outputs {[o.shape for o in outputs]} ({names}) do not match goldens {golden.shape}")


def verify_bundle(path: str | os.PathLike, tolerance: dict | float | None = None,
                  num_threads: int = 2) -> dict[str, Any]:
    """Verify a bundle; reports problems instead of raising for a bad bundle.

    `tolerance` overrides max_abs_err for every variant (a float) or per variant
    (`{"int8": {"max_abs_err": 0.3}}`). Returns JSON-able
    `{"ok", "path", "problems": [...], "variants": {name: {"ok", "max_abs_err", "top1_agreement", ...}}}`.
    """
    from .engine import Engine

    report: dict[str, Any] = {"ok": False, "path": str(path), "problems": [], "variants": {}}
    problems = report["problems"]
    try:
        bundle = Bundle.open(path)
    except BundleError as exc:
        problems.append(str(exc))
        return report
    with bundle:
        problems.extend(bundle.verify_checksums())
        golden = None
        if not bundle.has_golden:
            problems.append(f"{path}: bundle has no golden vectors; cannot check the variants")
        else:
            try:
                golden = bundle.golden()
            except BundleError as exc:
                problems.append(str(exc))
        manifest_tol = bundle.manifest.get("verify", {}).get("tolerance", {})
        for name, variant in bundle.variants.items():
            entry: dict[str, Any] = {"target": variant.target, "bytes": variant.bytes}
            report["variants"][name] = entry
            try:
                bundle.variant_bytes(name)
            except BundleError:
                entry.update(ok=False, error="checksum mismatch")
                continue
            try:
                engine = Engine(bundle, name, "cpu", num_threads)
                model_dtype = engine.input_dtype.name
                if model_dtype != variant.input_dtype:
                    problems.append(f"variant '{name}': manifest says input {variant.input_dtype}, "
                                    f"model takes {model_dtype}")
                if golden is None:
                    entry["ok"] = False
                    continue
                outputs = _match_golden(engine.run(golden[0]), engine.output_names, golden[1])
            except Exception as exc:  # the interpreter refused the model or the shapes disagree
                entry.update(ok=False, error=f"does not run in LiteRT: {exc}")
                problems.append(f"variant '{name}' does not run in LiteRT: {exc}")
                continue
            tol = dict(manifest_tol.get(name, {}))
            tol.update(_tolerance_for(name, tolerance) or {})
            entry.update(compare(name, outputs, golden[1], bundle.task, tol))
            if not entry["ok"]:
                problems.append(
                    f"variant '{name}' does not reproduce the goldens: max_abs_err "
                    f"{entry['max_abs_err']:.3g} (allowed {entry['tolerance']['max_abs_err']})"
                    + (f", top-1 agreement {entry['top1_agreement']:.2f}" if "top1_agreement" in entry else "")
                )
    report["ok"] = not problems and all(v.get("ok") for v in report["variants"].values())
    return report


def _tolerance_for(name: str, tolerance) -> dict | None:
    if tolerance is None:
        return None
    if isinstance(tolerance, (int, float)):
        return {"max_abs_err": float(tolerance)}
    return tolerance.get(name)


def inspect_bundle(path: str | os.PathLike) -> dict[str, Any]:
    """Manifest summary: variants (bytes, target, sparsity, compatibility, tensors), size ratio, offsets."""
    from .engine import Engine

    with Bundle.open(path) as bundle:
        m = bundle.manifest
        variants = {}
        for name, v in m["variants"].items():
            entry = {
                "file": v["file"], "bytes": int(v["bytes"]), "target": v["target"],
                "sparsity": float(v.get("sparsity", 0.0)), "input_dtype": v["input_dtype"],
                "output_dtype": v.get("output_dtype", v["input_dtype"]),
                "compatibility": v.get("compatibility", {}),
            }
            try:
                entry["tensors"] = Engine(bundle, name, "cpu", 1).tensor_details()
            except BundleError as exc:
                entry["error"] = str(exc)
            variants[name] = entry
        summary: dict[str, Any] = {
            "path": str(path), "file_bytes": Path(path).stat().st_size,
            "name": m["name"], "version": m["version"], "task": m["task"],
            "labels": m.get("labels", []), "input": m["input"], "output": m["output"],
            "variants": variants, "metrics": m.get("metrics", {}), "build": m.get("build", {}),
            "golden_count": m.get("golden", {}).get("count", 0),
            "member_offsets": bundle.member_offsets(),
        }
        if "int8" in variants and "fp32" in variants and variants["fp32"]["bytes"]:
            summary["int8_fp32_size_ratio"] = variants["int8"]["bytes"] / variants["fp32"]["bytes"]
        return summary
