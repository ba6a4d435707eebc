"""Is this bundle trustworthy? Checksums, schema, and golden replay of every variant.

A bundle records, at build time, a few real preprocessed validation inputs and what the
Keras model computed on them (`golden/`). Verifying replays those inputs through each
shipped variant *with the runtime's own Engine* (LiteRT, the same quantization code that
analysis uses) and compares. Lives in the runtime, not the toolchain, so `facelite
verify`, `facelite-build` and the bench all judge a bundle by one rule and none of them
needs TensorFlow (the toolchain's `facelite_build.verify` should re-export this module).

Two comparisons per variant:

* **parity** (gates `ok`): the variant against the outputs the reference runtime computed
  with that same variant at build time (`golden/<variant>_outputs.npy`; fp32 against the
  trained Keras model). Another LiteRT build, CPU or binding must reproduce them: fp32
  within 1e-4, fp16 1e-3, dynamic 5e-3, int8 within 3 steps of its output quantization.
* **vs fp32** (reported as `vs_fp32`, never gates): how far quantization moved the
  variant from the float model. That is a property of the model, measured on the whole
  validation split in the manifest's metrics; eight goldens are too few to judge it.

Bundles written before per-variant goldens existed are judged the old way: each variant
against the fp32 goldens with the loose `LEGACY_TOLERANCES`. A manifest may set
tolerances under `verify.tolerance.<variant>`, but only to tighten the runtime's
(`effective_tolerance`: the smaller `max_abs_err`, the larger agreement): a bundle that
could loosen its own check would verify after any tampering. The caller's `tolerance`
argument (the verifier's own choice) still overrides both.

Example:

    >>> from facelite.verify import verify_bundle
    >>> report = verify_bundle("models/expression/expression.flb")      # doctest: +SKIP
    >>> report["ok"], report["variants"]["int8"]["top1_agreement"]      # doctest: +SKIP
    (True, 1.0)
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import metrics
from .bundle import Bundle
from .errors import BundleError
from .signing import SignaturePolicy, check_signature, enforce_signature_policy
from .tasks import get_task

TOLERANCE_RULE = ("a bundle's verify.tolerance only tightens the runtime's: max_abs_err takes the smaller value, "
                  "agreement statistics the larger; looser values are ignored")
"""What `verify_bundle` reports under `tolerance_rule`."""

PARITY_TOLERANCES: dict[str, dict[str, float | None]] = {
    "fp32": {"max_abs_err": 1e-4, "top1_agreement": 1.0},
    "fp16": {"max_abs_err": 1e-3, "top1_agreement": None},
    "dynamic": {"max_abs_err": 5e-3, "top1_agreement": None},
    "int8": {"max_abs_err": None, "top1_agreement": None},   # 3 output quantization steps
}
INT8_PARITY_STEPS = 3
INT8_FALLBACK_ERR = 0.02
LEGACY_TOLERANCES: dict[str, dict[str, float | None]] = {
    "fp32": {"max_abs_err": 1e-4, "top1_agreement": 1.0},
    "fp16": {"max_abs_err": 1e-2, "top1_agreement": None},
    "dynamic": {"max_abs_err": 0.15, "top1_agreement": 0.75},
    "int8": {"max_abs_err": 0.25, "top1_agreement": 0.75},
}


def compare(variant: str, outputs: np.ndarray, golden: np.ndarray, task: str,
            tolerance: dict[str, float | None] | None = None) -> dict[str, Any]:
    """Error statistics of `outputs` vs `golden` and pass/fail against `tolerance`
    (defaults: the variant's `LEGACY_TOLERANCES`).

    `max_abs_err` must stay within `tolerance["max_abs_err"]`; the task's own statistics
    (`facelite.tasks`: `top1_agreement` for a classifier) must reach their tolerance
    entry where it is not None.
    """
    tol = dict(LEGACY_TOLERANCES.get(variant, LEGACY_TOLERANCES["int8"]))
    tol.update(tolerance or {})
    result: dict[str, Any] = {
        "n": int(golden.shape[0]),
        "max_abs_err": metrics.max_abs_err(outputs, golden),
        "mean_abs_err": metrics.mean_abs_err(outputs, golden),
        "tolerance": tol,
    }
    ok = result["max_abs_err"] <= float(tol["max_abs_err"])
    for name, value in get_task(task).compare(outputs, golden).items():
        result[name] = value
        if tol.get(name) is not None:
            ok = ok and value is not None and value >= float(tol[name])
    result["ok"] = bool(ok)
    return result


def effective_tolerance(runtime: dict[str, float | None], bundle: dict[str, Any] | None
                        ) -> tuple[dict[str, float | None], dict[str, Any]]:
    """(the tolerance to use, the bundle's entries ignored as looser or unknown).

    `max_abs_err` is an upper bound: the smaller of the two wins. Every other key is a
    "higher is better" statistic (`top1_agreement`): the larger wins. None means "not
    gated", the loosest value, so a bundle's None never replaces a runtime number, and a
    bundle's number always adds a gate the runtime lacks.

        >>> effective_tolerance({"max_abs_err": 1e-3, "top1_agreement": None},
        ...                     {"max_abs_err": 0.5, "top1_agreement": 0.9})
        ({'max_abs_err': 0.001, 'top1_agreement': 0.9}, {'max_abs_err': 0.5})
    """
    used, ignored = dict(runtime), {}
    for key, asked in (bundle or {}).items():
        if key not in runtime:
            ignored[key] = asked
            continue
        own = runtime[key]
        tighter = own is None or (asked is not None and (asked < own if key == "max_abs_err" else asked > own))
        if tighter:
            used[key] = asked
        elif asked != own:
            ignored[key] = asked
    return used, ignored


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
                  num_threads: int = 2, policy: SignaturePolicy | None = None) -> dict[str, Any]:
    """Verify a bundle; reports problems instead of raising for a bad bundle.

    `tolerance` overrides max_abs_err for every variant (a float) or per variant
    (`{"int8": {"max_abs_err": 0.3}}`). The signature is judged by `policy` (default
    `SignaturePolicy()`: required outside the installed package) and reported under
    `"signature"` (`facelite.signing.SignatureCheck.to_json`). Returns JSON-able
    `{"ok", "path", "problems": [...], "variants": {name: {"ok", "max_abs_err", "top1_agreement", ...}}}`.
    """
    from .engine import Engine

    report: dict[str, Any] = {"ok": False, "path": str(path), "problems": [], "variants": {},
                              "tolerance_rule": TOLERANCE_RULE}
    problems = report["problems"]
    try:
        bundle = Bundle.open(path)
    except BundleError as exc:
        problems.append(str(exc))
        return report
    with bundle:
        signature = check_signature(bundle, policy)
        report["signature"] = signature.to_json()
        if signature.problem:  # nothing the policy refuses reaches LiteRT (see `inspect_bundle`)
            problems.append(signature.problem)
            return report
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
            except BundleError as exc:  # refused before LiteRT parsed it, or by LiteRT: the message names it
                entry.update(ok=False, error=str(exc))
                problems.append(str(exc))
                continue
            try:
                misfit = get_task(bundle.task).check_engine(bundle.manifest, engine)
                problems.extend(f"variant '{name}': {problem}" for problem in misfit)
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
            try:
                own = bundle.golden_outputs(name)
            except BundleError as exc:
                entry.update(ok=False, error=str(exc))
                problems.append(str(exc))
                continue
            runtime = dict(LEGACY_TOLERANCES.get(name, LEGACY_TOLERANCES["int8"])) if own is None \
                else _parity_tolerance(name, engine)
            tol, ignored = effective_tolerance(runtime, manifest_tol.get(name))
            if name in manifest_tol:
                entry["bundle_tolerance"] = {"asked": manifest_tol[name], "ignored": ignored}
            tol.update(_tolerance_for(name, tolerance) or {})
            reference = golden[1] if own is None else own.reshape(golden[1].shape)
            entry.update(compare(name, outputs, reference, bundle.task, tol))
            entry["against"] = "fp32" if own is None or name == "fp32" else name
            if own is not None and name != "fp32":
                vs = compare(name, outputs, golden[1], bundle.task)
                entry["vs_fp32"] = {k: vs[k] for k in ("max_abs_err", "mean_abs_err", "top1_agreement") if k in vs}
            if not entry["ok"]:
                problems.append(
                    f"variant '{name}' does not reproduce its goldens ({entry['against']} outputs): max_abs_err "
                    f"{entry['max_abs_err']:.3g} (allowed {entry['tolerance']['max_abs_err']:.3g})"
                    + (f", top-1 agreement {entry['top1_agreement']:.2f}" if "top1_agreement" in entry else "")
                )
    report["ok"] = not problems and all(v.get("ok") for v in report["variants"].values())
    return report


def _parity_tolerance(name: str, engine) -> dict[str, float | None]:
    """The variant's parity tolerance; int8's is a few steps of its first output's scale."""
    tol = dict(PARITY_TOLERANCES.get(name, PARITY_TOLERANCES["int8"]))
    if tol["max_abs_err"] is None:
        q = engine.output_details[0].quantization
        tol["max_abs_err"] = INT8_PARITY_STEPS * q.scale if q else INT8_FALLBACK_ERR
    return tol


def _tolerance_for(name: str, tolerance) -> dict | None:
    if tolerance is None:
        return None
    if isinstance(tolerance, (int, float)):
        return {"max_abs_err": float(tolerance)}
    return tolerance.get(name)


def shipping_bytes(bundle: Bundle) -> dict[str, int]:
    """Per variant: about what a slim bundle holding that variant alone weighs
    (`facelite-build slim --variants V`): its model and golden outputs plus every member
    all variants share (manifest, golden inputs, fp32 reference outputs, report,
    signature), member headers included; the manifest's own shrinkage is ignored."""
    golden = bundle.manifest.get("golden", {})
    own = {v: {entry["file"]} for v, entry in bundle.manifest["variants"].items()}
    for v, member in golden.get("variant_outputs", {}).items():
        own.setdefault(v, set()).add(member)
    owned = set().union(*own.values()) if own else set()
    offsets = bundle.member_offsets()
    ends = sorted(offsets.values())[1:] + [bundle.file_bytes]
    span = {name: end - start for (name, start), end in zip(sorted(offsets.items(), key=lambda kv: kv[1]), ends)}
    shared = sum(size for name, size in span.items() if name not in owned)
    return {v: shared + sum(span[m] for m in members if m in span) for v, members in own.items()
            if v in bundle.manifest["variants"]}


def inspect_bundle(path: str | os.PathLike, policy: SignaturePolicy | None = None) -> dict[str, Any]:
    """Manifest summary: variants (bytes, target, sparsity, compatibility, measured latency
    and agreement, tensors), what `variant="auto"` runs per accelerator (`auto_variant`),
    size ratio, offsets, and the signature (`"signature"`, as `verify_bundle` reports it).

    Reading tensor details loads every variant into LiteRT, whose flatbuffer parser is not
    hardened against hostile bytes (`facelite.engine`), so the signature policy (`policy`,
    default `SignaturePolicy()`: a trusted signature for bundles from outside the
    installed package) is enforced first, as every other loader does: a bundle it refuses
    raises BundleError (exit 2) naming what failed, before any model is parsed.
    """
    from .engine import Engine, choose_variant

    with Bundle.open(path) as bundle:
        signature = enforce_signature_policy(bundle, policy)
        m = bundle.manifest
        variants = {}
        for name, v in m["variants"].items():
            entry = {
                "file": v["file"], "bytes": int(v["bytes"]), "target": v["target"],
                "sparsity": float(v.get("sparsity", 0.0)), "input_dtype": v["input_dtype"],
                "output_dtype": v.get("output_dtype", v["input_dtype"]),
                "compatibility": v.get("compatibility", {}), "measured": v.get("measured"),
            }
            try:  # a malformed model is reported per variant, as is one that does not fit the task
                engine = Engine(bundle, name, "cpu", 1)
                entry["tensors"] = engine.tensor_details()
                misfit = get_task(bundle.task).check_engine(m, engine)
                if misfit:
                    entry["error"] = "; ".join(misfit)
            except BundleError as exc:
                entry["error"] = str(exc)
            variants[name] = entry
        summary: dict[str, Any] = {
            "path": str(path), "file_bytes": bundle.file_bytes,
            "name": m["name"], "version": m["version"], "task": m["task"],
            "labels": m.get("labels", []), "input": m["input"], "output": m["output"],
            "variants": variants, "metrics": m.get("metrics", {}), "build": m.get("build", {}),
            "golden_count": m.get("golden", {}).get("count", 0),
            "golden_input_domain": m.get("golden", {}).get("input_domain", "normalized") if "golden" in m else None,
            "golden_variant_outputs": sorted(m.get("golden", {}).get("variant_outputs", {})),
            "member_offsets": bundle.member_offsets(), "signature": signature.to_json(),
            "auto_variant": {acc: choose_variant(bundle, acc) for acc in ("cpu", "gpu", "npu")},
        }
        for name, size in shipping_bytes(bundle).items():
            variants[name]["shipping_bytes"] = size
        if "slim" in m:
            summary["slim"] = m["slim"]
        if "int8" in variants and "fp32" in variants and variants["fp32"]["bytes"]:
            summary["int8_fp32_size_ratio"] = variants["int8"]["bytes"] / variants["fp32"]["bytes"]
        return summary
