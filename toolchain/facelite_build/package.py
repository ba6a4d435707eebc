"""Assemble the `.flb` bundle: variants + manifest + goldens + build report.

Why here and not in `facelite.bundle`: the bundle module owns the *format* (aligned
stored zip, checksums, schema); this module owns what the toolchain *knows* about
each variant and writes it down so consumers never have to guess. Dtypes and
quantization params are read back from each `.tflite` itself (not from what we asked
the converter for), so the manifest cannot disagree with the model it describes.

Every bundle leaves here signed (`facelite.signing`): with the key the build is given,
else with the facelite development key (`DEVELOPMENT_KEY`, committed, not for
production), so a rebuilt shipped bundle is signed as the committed one was.
"""

from __future__ import annotations

import copy
import datetime as _dt
import importlib.metadata
import os
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from facelite.bundle import MANIFEST, VARIANT_NAMES, Bundle, manifest_bytes, write_bundle, write_members
from facelite.errors import BundleError, UserError
from facelite.preprocess import InputSpec
from facelite.signing import SIGNATURE_MEMBER, sign_bundle

from . import __version__
from .verify import io_details

DEVELOPMENT_KEY = Path(__file__).with_name("development_key.pem")
"""The facelite development signing key: committed on purpose, so it proves nothing about
who built a bundle (Android's debug keystore, for bundles); the runtime trusts it with a
warning. Sign what you ship with your own key (`facelite-build keygen`, `--signing-key`)."""


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def build_info(recipe_sha256: str | None) -> dict[str, Any]:
    """Toolchain and library versions plus recipe hash and UTC build time."""
    return {
        "toolchain": __version__,
        "tensorflow": _version("tensorflow"),
        "tf_keras": _version("tf-keras"),
        "tfmot": _version("tensorflow-model-optimization"),
        "litert": _version("ai-edge-litert"),
        "recipe_sha256": recipe_sha256,
        "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
    }


def variant_entry(name: str, data: bytes, meta: Mapping[str, Any], input_spec: InputSpec) -> dict:
    """Manifest entry for one variant: target/sparsity/compat from `meta`, I/O from the model."""
    io = io_details(data)
    if list(io["input_shape"][1:]) != list(input_spec.shape[1:]):
        raise UserError(
            f"variant '{name}' takes input {io['input_shape']}, but the recipe's input "
            f"shape is {list(input_spec.shape)}; rebuild with matching [input] settings"
        )
    return {
        "target": meta.get("target", "cpu"),
        "input_dtype": io["input_dtype"],
        "output_dtype": io["output_dtype"],
        "input_shape": io["input_shape"],
        "output_shape": io["output_shape"],
        "input_quant": io["input_quant"],
        "output_quant": io["output_quant"],
        "sparsity": float(meta.get("sparsity", 0.0)),
        "compatibility": dict(meta.get("compatibility", {})),
        **({"measured": dict(meta["measured"])} if meta.get("measured") else {}),
    }


def package(
    out_path: str | os.PathLike,
    *,
    name: str,
    version: str,
    task: str,
    labels: list[str] | None,
    input_spec: InputSpec,
    output: Mapping[str, Any],
    variants: Mapping[str, bytes],
    verify_tolerance: Mapping[str, Mapping[str, float]] | None = None,
    variant_meta: Mapping[str, Mapping[str, Any]],
    golden_inputs: np.ndarray,
    golden_outputs: np.ndarray,
    golden_variant_outputs: Mapping[str, np.ndarray] | None = None,
    metrics: Mapping[str, Any] | None = None,
    recipe_sha256: str | None = None,
    report: Mapping[str, Any] | None = None,
    signing_key: str | os.PathLike | None = None,
) -> Path:
    """Write the bundle to `out_path` and return it.

    `golden_inputs` are *real* validation samples (e.g. 8), as uint8 pixels ready for
    the manifest's normalisation (or float32 normalised tensors), `golden_outputs` the
    Keras fp32 model's outputs on them and `golden_variant_outputs[v]` the reference
    runtime's outputs of variant `v`; `verify` replays them through every variant.
    `variant_meta[name]` gives `target`, `sparsity` and `compatibility` (the gates' result),
    and `measured` when the build timed it (`facelite_build.measure`). `output` is the manifest's `output` block as the task
    entry writes it (`facelite_build.tasks`: `kind` plus the task's extras); its `shape`
    defaults to the golden outputs' shape with a batch of 1.
    Per-variant dtypes/quant params describe the model's first input and output.
    The bundle is signed with `signing_key` (a PEM Ed25519 private key), by default the
    development key `DEVELOPMENT_KEY`.
    """
    unknown = sorted(set(variants) - set(VARIANT_NAMES))
    if unknown:
        raise UserError(f"unknown variant(s) {unknown}; a bundle holds {', '.join(VARIANT_NAMES)}")
    golden_inputs = np.asarray(golden_inputs)
    if golden_inputs.dtype != np.uint8:
        golden_inputs = golden_inputs.astype(np.float32)
    golden_outputs = np.asarray(golden_outputs, np.float32)
    if golden_inputs.shape[1:] != tuple(input_spec.shape[1:]):
        raise UserError(
            f"golden inputs have shape {golden_inputs.shape[1:]}, the model takes {input_spec.shape[1:]}"
        )
    if golden_inputs.shape[0] != golden_outputs.shape[0] or golden_inputs.shape[0] == 0:
        raise UserError(
            f"need one golden output per golden input (got {golden_inputs.shape[0]} inputs, "
            f"{golden_outputs.shape[0]} outputs)"
        )
    order = [v for v in VARIANT_NAMES if v in variants]
    manifest: dict[str, Any] = {
        "schema_version": 1,
        "name": name,
        "version": version,
        "task": task,
        "labels": list(labels or []),
        "input": input_spec.to_manifest(),
        "output": {"kind": output["kind"], "shape": [1, *golden_outputs.shape[1:]], **dict(output)},
        "variants": {
            v: variant_entry(v, variants[v], variant_meta.get(v, {}), input_spec) for v in order
        },
        "metrics": dict(metrics or {}),
        "build": build_info(recipe_sha256),
    }
    if verify_tolerance:  # facelite.verify's per-bundle override: verify.tolerance.<variant>
        manifest["verify"] = {"tolerance": {v: dict(t) for v, t in verify_tolerance.items()}}
    path = write_bundle(
        out_path,
        manifest,
        {v: variants[v] for v in order},
        golden_inputs=golden_inputs,
        golden_outputs=golden_outputs,
        variant_outputs={v: np.asarray(o, np.float32) for v, o in (golden_variant_outputs or {}).items()},
        report=dict(report) if report is not None else None,
    )
    return sign_bundle(path, signing_key if signing_key is not None else DEVELOPMENT_KEY)


def rewrite_manifest(path: str | os.PathLike, edit: Callable[[dict], None], out: str | os.PathLike | None = None,
                     signing_key: str | os.PathLike | None = None) -> Path:
    """The bundle at `path` with `edit(manifest)` applied (in place, or a copy at `out`),
    re-signed as `package` signs (`signing_key`, else the development key); returns it.

    Every other member keeps its bytes; only `manifest.json` (validated against the schema)
    and the signature change. What records new facts in a shipped bundle without
    retraining uses it (`facelite-build thresholds`). Raises BundleError for a bundle
    that fails its own checksums: such a bundle is never re-signed.
    """
    path = Path(path)
    with Bundle.open(path) as bundle:
        problems = bundle.verify_checksums()
        if problems:
            raise BundleError(f"{path}: will not re-sign a bundle that fails its own checks: {problems[0]}")
        manifest = copy.deepcopy(bundle.manifest)
        edit(manifest)
        members = [(MANIFEST, manifest_bytes(manifest, where=f"{path}:{MANIFEST}"))]
        members += [(name, bytes(bundle.member_view(name))) for name in bundle.member_names()
                    if name not in (MANIFEST, SIGNATURE_MEMBER)]
    written = write_members(out if out is not None else path, members)
    return sign_bundle(written, signing_key if signing_key is not None else DEVELOPMENT_KEY)
