"""pyproject lists every package folder: a wheel (`pip install .`) holds only what is listed,
and the editable install `make setup` uses would hide an omission (it did: facelite_bench.devices)."""

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")
REPO = Path(__file__).resolve().parents[1]


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
