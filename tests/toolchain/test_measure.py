"""`facelite-build measure BUNDLE` records every variant's latency on this host and its
agreement with fp32 into an existing bundle, changing nothing else, and re-signs it."""

from __future__ import annotations

import json

from facelite.bundle import MANIFEST, Bundle
from facelite.options import DEFAULT_THREADS
from facelite.signing import SIGNATURE_MEMBER, check_signature
from facelite.verify import verify_bundle
from facelite_build.cli import main
from facelite_build.measure import interleaved_latency_ms, recorded_agreement
from fixture_bundles import fixture_bundle


def test_measure_records_every_variant_and_keeps_every_other_member(tmp_path, capsys):
    src, out = fixture_bundle("expression"), tmp_path / "measured.flb"
    assert main(["measure", str(src), "--out", str(out), "--rounds", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    with Bundle.open(src) as before, Bundle.open(out) as after:
        assert set(doc["variants"]) == set(after.variants) == set(before.variants)
        for v in after.variants.values():
            assert v.measured.latency_ms > 0 and v.measured.repeats == 16 and v.measured.threads == DEFAULT_THREADS
        assert after.variants["fp32"].measured.agreement == 1.0
        kept = [n for n in before.member_names() if n not in (MANIFEST, SIGNATURE_MEMBER)]
        assert all(before.member_bytes(n) == after.member_bytes(n) for n in kept)
        check = check_signature(after)
        assert check.valid and check.development_key
    assert verify_bundle(out)["ok"]


def test_measure_in_place_replaces_an_earlier_record(tmp_path):
    path = tmp_path / "m.flb"
    path.write_bytes(fixture_bundle("tiny").read_bytes())
    for _ in range(2):
        assert main(["measure", str(path), "--rounds", "1", "--threads", "1"]) == 0
    with Bundle.open(path) as b:
        assert {v.measured.threads for v in b.variants.values()} == {1}


def test_agreement_is_the_builds_validation_figure_and_fp32_agrees_with_itself():
    metrics = {"int8": {"agreement_vs_fp32": 0.9588}, "fp16": {"max_abs_err_vs_fp32": 0.001}}
    assert recorded_agreement(metrics, "fp32") == 1.0
    assert recorded_agreement(metrics, "int8") == 0.9588
    assert recorded_agreement(metrics, "fp16") is None and recorded_agreement({}, "dynamic") is None


def test_latency_is_timed_in_blocks_interleaved_across_engines_with_the_switch_untimed():
    calls = []

    class Fake:
        num_threads = 2

        def __init__(self, name):
            self.name = name

        def bind(self, x):
            return lambda: calls.append(self.name)

    medians = interleaved_latency_ms({"a": Fake("a"), "b": Fake("b")}, None, rounds=2, block=2, settle=1, warmup=1)
    assert set(medians) == {"a", "b"}
    assert calls == ["a", "a", "b", "b", "b", "b", "a", "a", "a", "a", "b", "b"]  # rotating start per round
