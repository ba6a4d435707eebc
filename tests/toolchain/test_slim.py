"""`facelite-build slim`: a smaller bundle with only the shipped variants, still verifiable,
saying what it dropped; `inspect` shows each variant's shipping size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from facelite.bundle import Bundle
from facelite.cli import main as facelite_main
from facelite.signing import check_signature
from facelite.verify import verify_bundle
from facelite_build.cli import main
from fixture_bundles import fixture_bundle, tamper

SHIPPED_EXPRESSION = Path(__file__).resolve().parents[2] / "models" / "expression" / "expression.flb"


def _run(capsys, entry, *args):
    code = entry([*map(str, args), "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out)


def test_slim_keeps_only_the_named_variant_with_its_goldens_and_still_verifies(capsys, tmp_path):
    full = SHIPPED_EXPRESSION  # four variants, each with its own golden outputs
    out = tmp_path / "expression.int8.flb"
    code, doc = _run(capsys, main, "slim", full, "--variants", "int8", "--out", out)
    assert code == 0
    assert doc["kept"] == ["int8"] and doc["removed"] == ["fp32", "fp16", "dynamic"] and doc["bytes"] < full.stat().st_size
    with Bundle.open(out) as slim, Bundle.open(full) as original:
        assert list(slim.manifest["variants"]) == ["int8"]
        assert slim.manifest["slim"]["from_sha256"] == original.file_sha256()
        assert not any(name.startswith(("fp32", "fp16", "dynamic", "golden/fp16", "golden/dynamic"))
                       for name in slim.member_names())
        assert original.golden_outputs("int8") is not None
        assert np.array_equal(slim.golden_outputs("int8"), original.golden_outputs("int8"))
        assert np.array_equal(slim.golden_outputs("fp32"), original.golden_outputs("fp32"))  # the reference stays
        assert "fp32" not in slim.manifest["metrics"]
    assert check_signature(out).ok
    assert verify_bundle(out)["ok"]


def test_inspect_reports_each_variants_shipping_size_close_to_the_slim_bundle(capsys, tmp_path):
    full = fixture_bundle("expression")
    code, doc = _run(capsys, facelite_main, "inspect", full)
    assert code == 0
    estimate = doc["variants"]["int8"]["shipping_bytes"]
    out = tmp_path / "int8.flb"
    assert main(["slim", str(full), "--variants", "int8", "--out", str(out)]) == 0
    assert abs(estimate - out.stat().st_size) <= 0.05 * out.stat().st_size


@pytest.mark.parametrize("variants, problem", [
    ("fp16", "has no variant(s) ['fp16']"),
    ("int9", "unknown variant(s) ['int9']"),
    ("int8,int8", "names a variant twice"),
    (",", "name at least one variant"),
])
def test_slim_refuses_variants_the_bundle_cannot_give(capsys, tmp_path, variants, problem):
    out = tmp_path / "slim.flb"
    code, doc = _run(capsys, main, "slim", fixture_bundle("expression"), "--variants", variants, "--out", out)
    assert code == 2 and problem in doc["error"] and not out.exists()


def test_slim_never_overwrites_its_input(capsys, tmp_path):
    copy = tmp_path / "expression.flb"
    copy.write_bytes(fixture_bundle("expression").read_bytes())
    code, doc = _run(capsys, main, "slim", copy, "--variants", "int8", "--out", copy)
    assert code == 2 and "is the input bundle" in doc["error"]
    assert copy.read_bytes() == fixture_bundle("expression").read_bytes()


def test_slim_of_a_damaged_bundle_fails_and_writes_nothing(capsys, tmp_path):
    damaged = tamper(fixture_bundle("expression"), tmp_path / "damaged.flb")
    out = tmp_path / "slim.flb"
    code, doc = _run(capsys, main, "slim", damaged, "--variants", "int8", "--out", out)
    assert code == 2 and "sha256" in doc["error"] and not out.exists()
