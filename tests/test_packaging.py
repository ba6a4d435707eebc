"""What `pip install .` installs: every package folder is listed for the wheel (a wheel holds
only what is listed, and the editable install `make setup` uses would hide an omission: it
did, for facelite_bench.devices), and the built wheel holds the shipped bundles and the
manifest schema, so an installed facelite runs the real models, not stand-ins."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")
REPO = Path(__file__).resolve().parents[1]
BUILD_INPUTS = ("pyproject.toml", "README.md", "sdk_python", "toolchain", "benchmark_app", "models")
"""What a wheel is built from (pyproject's package-dir folders and readme)."""


def test_every_package_folder_is_listed_for_the_wheel():
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = set()
    for name, rel in cfg["package-dir"].items():
        root = REPO / rel
        dirs = [root, *(d for d in root.rglob("*") if d.is_dir())]
        for d in dirs:
            parts = d.relative_to(root).parts
            if any(p.startswith((".", "__")) for p in parts):   # __pycache__, hidden folders
                continue
            found.add(".".join([name, *parts]))
    assert found == set(cfg["packages"])


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory) -> set[str]:
    """File names inside a wheel built (offline, no build isolation) from a copy of the checkout."""
    pytest.importorskip("setuptools", minversion="77", reason="building the wheel needs setuptools>=77 (the dev extra)")
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", ".*")
    for name in BUILD_INPUTS:
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy2)(REPO / name, src / name, **(
            {"ignore": skip} if (REPO / name).is_dir() else {}))
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                        "-q", "-w", str(out), str(src)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    (wheel,) = out.glob("facelite-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def test_the_wheel_holds_every_shipped_bundle_and_nothing_else_of_models(wheel_files):
    shipped = {f"facelite_models/{p.relative_to(REPO / 'models').as_posix()}" for p in (REPO / "models").glob("*/*.flb")}
    assert len(shipped) >= 5  # acne, expression, face_detector, landmarks, skin_metrics (+ restoration)
    assert shipped <= wheel_files
    assert {f for f in wheel_files if f.startswith("facelite_models/")} == shipped | {"facelite_models/__init__.py"}


def test_the_wheel_holds_the_manifest_schema(wheel_files):
    assert "facelite/manifest.v1.schema.json" in wheel_files
    assert "facelite/schema.py" in wheel_files and "facelite/paths.py" in wheel_files
