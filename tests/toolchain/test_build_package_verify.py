"""A packaged bundle is aligned, self-describing and verifiable; tampering is caught."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from facelite.bundle import Bundle
from facelite_build.gates import check_variant
from facelite_build.package import package
from facelite_build.prune import sparsity_of
from facelite_build.quantize import VARIANT_TARGET
from facelite_build.verify import inspect_bundle, verify_bundle
from fixture_bundles import tamper



@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory, variants, goldens, pruned_model, input_spec, labels):
    sparsity = sparsity_of(pruned_model)
    meta = {
        v: {"target": VARIANT_TARGET[v], "sparsity": sparsity, "compatibility": check_variant(b, v)}
        for v, b in variants.items()
    }
    return package(
        tmp_path_factory.mktemp("bundle") / "tiny.flb",
        name="tiny",
        version="0.0.1",
        task="classification",
        labels=labels,
        input_spec=input_spec,
        output={"kind": "probabilities"},
        variants=variants,
        variant_meta=meta,
        golden_inputs=goldens[0],
        golden_outputs=goldens[1],
        metrics={"split": "val", "fp32": {"accuracy": 1.0}},
        recipe_sha256="0" * 64,
        report={"stages": ["train", "prune", "quantize"]},
    )


def test_every_member_of_a_packaged_bundle_is_4_byte_aligned(bundle_path):
    with Bundle.open(bundle_path) as b:
        offsets = b.member_offsets()
    assert set(offsets) >= {"manifest.json", "int8.tflite", "golden/inputs.npy", "report.json"}
    assert all(off % 4 == 0 for off in offsets.values())


def test_manifest_records_dtypes_quant_params_and_build_versions(bundle_path):
    with Bundle.open(bundle_path) as b:
        m = b.manifest
    int8 = m["variants"]["int8"]
    assert int8["input_dtype"] == "int8" and int8["output_dtype"] == "int8"
    assert int8["input_quant"]["scale"] > 0 and isinstance(int8["input_quant"]["zero_point"], int)
    assert int8["target"] == "npu" and int8["compatibility"]["npu"]["ok"]
    assert m["variants"]["fp32"]["input_quant"] is None
    assert abs(int8["sparsity"] - 0.5) <= 0.02
    build = m["build"]
    assert build["tensorflow"] and build["tfmot"] and build["litert"] and build["tf_keras"]
    assert build["recipe_sha256"] == "0" * 64 and build["date"].endswith("+00:00")
    assert m["golden"]["count"] == 16


def test_verify_passes_an_intact_bundle(bundle_path, toy_tolerance):
    report = verify_bundle(bundle_path, tolerance=toy_tolerance)
    json.dumps(report)  # JSON-able
    assert report["ok"], report["problems"]
    assert set(report["variants"]) == {"fp32", "fp16", "dynamic", "int8"}
    assert report["variants"]["fp32"]["max_abs_err"] < 1e-4
    assert report["variants"]["int8"]["top1_agreement"] >= 0.75


def test_verify_detects_a_flipped_byte_inside_a_variant(bundle_path, tmp_path, toy_tolerance):
    tampered = tamper(bundle_path, tmp_path / "tampered.flb", "int8.tflite")
    report = verify_bundle(tampered, tolerance=toy_tolerance)
    assert not report["ok"]
    # the signature names the changed member; verify stops there, before LiteRT sees any variant
    assert report["problems"] == [report["signature"]["problem"]]
    assert "member int8.tflite differs from the signed bytes" in report["problems"][0]
    assert report["variants"] == {}


def test_verify_reports_a_missing_file_without_raising(tmp_path):
    report = verify_bundle(tmp_path / "nope.flb")
    assert not report["ok"] and "no such bundle" in report["problems"][0]


def test_inspect_summarises_variants_ratio_and_offsets(bundle_path):
    info = inspect_bundle(bundle_path)
    assert info["variants"]["fp16"]["target"] == "gpu"
    assert info["variants"]["int8"]["bytes"] < info["variants"]["fp32"]["bytes"]
    assert 0 < info["int8_fp32_size_ratio"] < 0.5
    assert all(off % 4 == 0 for off in info["member_offsets"].values())
    json.dumps(info)


def test_bundle_members_are_stored_uncompressed(bundle_path):
    with zipfile.ZipFile(bundle_path) as zf:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())


def test_verify_module_does_not_import_tensorflow():
    code = (
        "import sys, facelite_build.verify as v; "
        "print(any(m == 'tensorflow' or m.startswith('tensorflow.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
