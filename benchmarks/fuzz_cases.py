"""Fuzz cases: the options, the campaign key and the case loop that both fuzz campaigns share.

The Python campaign (`benchmarks/fuzz.py`) and the native one (`benchmarks/fuzz_native.py`)
run the same inputs of `tests/mutants.py`: a case is `bundle:N` (the N-th bundle mutant of
`mutants.plan` for the campaign's `--seed`, `--sources` and `--only`) or `image:N` (the
N-th bad image). Keeping the numbering, the `--case` replay and the trust in the
campaign's own key in one place is what makes a case found by one campaign replay the
same input in the other. Each campaign supplies what differs: how a case is run and judged.

A campaign passed to `replay` and `run_bundle_mutants` has `sources` (the bundle sources),
`bundle_case(index, category, source, keep=None)` and `image_cases(indices, keep=None)`.

    p = argparse.ArgumentParser()
    add_case_arguments(p, bundles=200, images=50)
    args = p.parse_args(["--case", "bundle:3,image:1"])
    only = categories(p, args)          # also: --keep implies --keep-work
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CHECKOUT / "tests"))

import mutants  # tests/mutants.py: the inputs

TRUSTED_KEYS_ENV = "FACELITE_TRUSTED_KEYS"


def add_case_arguments(p: argparse.ArgumentParser, bundles: int, images: int) -> None:
    """The options that choose and keep the cases, with each campaign's default counts."""
    p.add_argument("--bundles", type=int, default=bundles, help=f"bundle mutants (default {bundles})")
    p.add_argument("--images", type=int, default=images, help=f"bad images (default {images})")
    p.add_argument("--seed", type=int, default=15, help="the mutants' seed; the same in both campaigns, so cases "
                                                        "line up (default 15)")
    p.add_argument("--only", default="", help="comma-separated bundle categories (default: all)")
    p.add_argument("--sources", default="shipped,fixture", help="shipped, fixture or both (default)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per run (default 30)")
    p.add_argument("--case", help="run these inputs only: bundle:N or image:N, comma-separated (the same --seed, "
                                  "--sources and --only as the campaign that found them)")
    p.add_argument("--keep", help="with --case: keep each input under this folder; implies --keep-work")
    p.add_argument("--keep-failures", metavar="DIR", help="copy each failing bundle mutant here")
    p.add_argument("--keep-work", action="store_true", help="leave the work folder in place")
    p.add_argument("--workdir", help="where the work folder goes (default: the system temp folder)")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def categories(p: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[str, ...]:
    """The `--only` bundle categories (p.error on an unknown one); sets `--keep-work` when `--keep` is given."""
    args.keep_work = args.keep_work or bool(args.keep)
    only = tuple(c for c in args.only.split(",") if c)
    unknown = set(only) - set(mutants.BUNDLE_CATEGORIES)
    if unknown:
        p.error(f"unknown categories {sorted(unknown)}; known: {', '.join(mutants.BUNDLE_CATEGORIES)}")
    return only


def trust_campaign_key(work: Path, signer: mutants.Signer) -> str:
    """Write the campaign's public key under `work/keys` and return the `FACELITE_TRUSTED_KEYS`
    value that trusts it beside any folders already trusted, so re-signed mutants get past
    the signature check and the checks behind it are fuzzed too."""
    keys = work / "keys"
    keys.mkdir()
    (keys / "fuzz-campaign.pub").write_bytes(signer.public_pem())
    return os.pathsep.join(filter(None, [str(keys), os.environ.get(TRUSTED_KEYS_ENV)]))


def replay(campaign, cases: str, keep: str | None, only: tuple[str, ...],
           error: Callable[[str], None]) -> None:
    """Run the `--case` inputs (`bundle:N,image:M`), each kept under `keep/KIND_N` when given;
    `error` (argparse's p.error) is called for a malformed case."""
    keep_root = Path(keep).resolve() if keep else None
    numbers = [int(c.partition(":")[2]) for c in cases.split(",") if c.startswith("bundle:")]
    bundle_plan = mutants.plan(max(numbers, default=-1) + 1, campaign.sources, only)
    for case in cases.split(","):
        kind, _, number = case.partition(":")
        kept = keep_root / f"{kind}_{number}" if keep_root else None
        if kind == "bundle":
            campaign.bundle_case(*bundle_plan[int(number)], keep=kept)
        elif kind == "image":
            campaign.image_cases([int(number)], keep=kept)
        else:
            error(f"--case {case}: use bundle:N or image:N")


def run_bundle_mutants(campaign, count: int, only: tuple[str, ...], name: str, failing: Callable[[], int],
                       start: float) -> None:
    """The first `count` bundle mutants, with a progress line on stderr every 100."""
    for n, (index, category, src) in enumerate(mutants.plan(count, campaign.sources, only)):
        campaign.bundle_case(index, category, src)
        if (n + 1) % 100 == 0:
            print(f"{name}: {n + 1}/{count} bundle mutants, {failing()} failing, {time.monotonic() - start:.0f} s",
                  file=sys.stderr, flush=True)


def print_document(doc: dict, as_json: bool, print_text: Callable[[dict], None]) -> int:
    """Print a campaign's document (one JSON document, or the campaign's text); the exit
    status: 1 when any run failed (`n_failures`), else 0."""
    if as_json:
        print(json.dumps(doc, indent=1))
    else:
        print_text(doc)
    return 1 if doc["n_failures"] else 0
