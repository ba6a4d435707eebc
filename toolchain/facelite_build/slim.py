"""Slim bundles: a copy of a bundle holding only the variants an app ships.

A full bundle carries four variants (fp32, fp16, dynamic, int8) plus their goldens,
2–3 MB, while a phone app ships one target: int8 for an NPU/CPU build, fp16 for a GPU
build. `slim_bundle` writes a bundle with the chosen variants and only their golden
outputs, so `facelite verify` still proves each shipped variant against what the
reference runtime computed at build time. Kept unchanged: the manifest's input spec,
output block, labels, thresholds, build info and metrics of the kept variants, the golden
inputs and the trained model's fp32 outputs (the reference every variant's accuracy was
measured against, even when the fp32 variant itself is dropped), and `report.json`. The
manifest's `slim` block says what was removed and from which bundle (its sha256), so a
slim bundle is never mistaken for the full one.

The result is signed again (a signature covers every member, and the members changed):
with `signing_key`, else the development key. A production bundle slimmed for release
must be signed with the release key (`facelite-build slim ... --signing-key KEY`).

Example:

    >>> from facelite_build.slim import slim_bundle
    >>> slim_bundle("models/expression/expression.flb", ["int8"], "/tmp/expr_int8.flb")  # doctest: +SKIP
    PosixPath('/tmp/expr_int8.flb')
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Iterable

from facelite.bundle import Bundle, VARIANT_NAMES, write_bundle
from facelite.errors import BundleError, UserError
from facelite.signing import sign_bundle

from .package import DEVELOPMENT_KEY


def parse_variants(text: str | Iterable[str]) -> list[str]:
    """`"int8,fp16"` (or a list) → ["int8", "fp16"], each a known variant name, none twice."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in names if n]
    if not names:
        raise UserError("--variants: name at least one variant to keep, e.g. --variants int8")
    unknown = [n for n in names if n not in VARIANT_NAMES]
    if unknown:
        raise UserError(f"--variants: unknown variant(s) {unknown}; a bundle holds {', '.join(VARIANT_NAMES)}")
    if len(set(names)) != len(names):
        raise UserError(f"--variants: {text!r} names a variant twice")
    return names


def slim_bundle(path: str | os.PathLike, keep: Iterable[str], out: str | os.PathLike,
                signing_key: str | os.PathLike | None = None) -> Path:
    """Write `out`: the bundle at `path` with only the variants in `keep`; returns `out`.

    Raises UserError when a kept variant is not in the bundle, when `out` is the input
    itself (the full bundle is never overwritten), and BundleError for a damaged bundle
    (every kept member is read through its checksum).
    """
    keep = parse_variants(list(keep))
    path, out = Path(path), Path(out)
    if out.exists() and path.exists() and out.resolve() == path.resolve():
        raise UserError(f"--out {out}: is the input bundle; write the slim bundle to another file")
    with Bundle.open(path) as bundle:
        present = list(bundle.manifest["variants"])
        missing = [v for v in keep if v not in present]
        if missing:
            raise UserError(f"{path}: has no variant(s) {missing}; it holds {', '.join(present)}")
        manifest = copy.deepcopy(bundle.manifest)
        removed = [v for v in present if v not in keep]
        order = [v for v in present if v in keep]
        variants = {v: bytes(bundle.variant_bytes(v)) for v in order}
        manifest["variants"] = {v: manifest["variants"][v] for v in order}
        manifest.pop("golden", None)
        golden = {}
        if bundle.has_golden:
            golden = dict(golden_inputs=bundle.golden_inputs(), golden_outputs=bundle.golden_outputs("fp32"),
                          variant_outputs={v: o for v in order if v != "fp32"
                                           for o in [bundle.golden_outputs(v)] if o is not None})
        metrics = manifest.get("metrics", {})
        for v in removed:
            metrics.pop(v, None)
        tolerance = manifest.get("verify", {}).get("tolerance", {})
        for v in removed:
            tolerance.pop(v, None)
        manifest["slim"] = {"kept": order, "removed": removed, "from_sha256": bundle.file_sha256(),
                            "from_bytes": bundle.file_bytes}
        report = bundle.report() or None
    written = write_bundle(out, manifest, variants, report=report, **golden)
    try:
        return sign_bundle(written, signing_key if signing_key is not None else DEVELOPMENT_KEY)
    except BundleError:
        written.unlink(missing_ok=True)
        raise

