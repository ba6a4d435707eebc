"""The seeded bundle fuzz campaign, in the suite: a few hundred mutants of the shipped and
fixture bundles through `facelite verify`, `inspect` and `analyze`.

Every run must exit 0 only where its mutant is still valid, else 2 (never 1, a signal or
a hang), within 30 s and 500 MB. `benchmarks/fuzz.py` runs the campaign (a forked child per
run, after one import of facelite); the inputs and the levels each one allows are
`tests/mutants.py`'s. The full campaign (`--bundles 2000 --images 200`) runs outside the
suite. A failure message names the mutant and the command that reproduces it.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

import mutants
from fixture_bundles import fixture_bundle

CHECKOUT = Path(__file__).resolve().parents[2]
SEED = 15
BUNDLE_MUTANTS = 200
MAX_PEAK_MB = 500
TIMEOUT_S = 30


@pytest.fixture(scope="module")
def campaign() -> dict:
    return mutants.run_campaign(CHECKOUT, "--bundles", str(BUNDLE_MUTANTS), "--images", "0", "--seed", str(SEED),
                                timeout_s=TIMEOUT_S, max_mb=MAX_PEAK_MB)


def test_every_bundle_mutant_exits_0_only_where_still_valid_else_2(campaign):
    wrong_exit = mutants.failing(campaign, "exit", "killed", "timeout")
    assert not wrong_exit, mutants.describe_failures(wrong_exit)


def test_no_bundle_mutant_run_takes_over_500_mb_or_30_s(campaign):
    heavy = mutants.failing(campaign, "MB")
    assert campaign["max_peak_mb"] < MAX_PEAK_MB, mutants.describe_failures(heavy)
    assert campaign["max_seconds"] < TIMEOUT_S


def test_every_category_ran_on_every_command_and_content_edits_were_also_re_signed(campaign):
    tables = campaign["bundle_categories"]
    assert set(tables) == set(mutants.BUNDLE_CATEGORIES)
    for category, t in tables.items():
        assert set(t["exits"]) == set(mutants.BUNDLE_COMMANDS), category
    if campaign["signatures_enforced"]:
        for category in ("manifest_type", "manifest_range", "golden_npy", "tflite_struct"):
            assert tables[category]["resigned"] > 0, category


def test_untouched_and_rewritten_bundles_pass_every_command(campaign):
    """The control: if pristine bundles were refused, every other result would mean nothing."""
    for category in ("identity", "rebuilt"):
        assert set().union(*(e.keys() for e in campaign["bundle_categories"][category]["exits"].values())) == {"0"}, \
            campaign["bundle_categories"][category]


def test_mutants_are_the_same_bytes_for_the_same_seed():
    sources = mutants.load_sources(CHECKOUT, ("fixture",))
    signer = mutants.Signer(seed=SEED.to_bytes(32, "little"))
    for index, category, src in mutants.plan(40, sources):
        first = mutants.bundle_mutant(index, src, category, mutants.mutant_rng(SEED, "bundle", index), signer)
        again = mutants.bundle_mutant(index, src, category, mutants.mutant_rng(SEED, "bundle", index), signer)
        assert (first.data, first.detail, first.expect) == (again.data, again.detail, again.expect), first.detail


def test_the_campaign_zip_writer_rewrites_a_bundle_byte_for_byte():
    """So a mutant differs from its source only where its recipe says."""
    src = mutants.BundleSource.load(fixture_bundle("tiny"), "fixture")
    data = mutants.write_zip([mutants.Entry(n, d) for n, d in src.members.items()])
    assert data == src.data
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert {i.filename: zf.read(i) for i in zf.infolist()} == src.members
    regions = mutants.zip_regions(data)
    assert {r.member for r in regions if r.part == "data"} == set(src.members)
    assert sum(r.size for r in regions) == len(data)


def test_flatbuffer_edits_that_reach_litert_never_crash_the_process():
    """Re-signed `.tflite` edits (tensor indices of -1 or out of range, huge shapes, broken
    offsets) get past the signature check to LiteRT itself; each variant must load or be
    refused with exit 2, never end the process with a signal, a C++ exception or a hang."""
    doc = mutants.run_campaign(CHECKOUT, "--only", "tflite_struct", "--bundles", "160", "--images", "0",
                               "--seed", str(SEED), "--commands", "verify,inspect",
                               timeout_s=TIMEOUT_S, max_mb=MAX_PEAK_MB)
    assert doc["runs"] == 320
    assert not doc["failures"], mutants.describe_failures(doc["failures"])
