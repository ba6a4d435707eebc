"""A fresh process pays only for what it uses: `import facelite` loads no numpy, OpenCV,
LiteRT or cryptography, and each public name loads its own module on first use."""

from __future__ import annotations

import subprocess
import sys

import facelite

HEAVY = ("numpy", "cv2", "ai_edge_litert", "cryptography")


def fresh(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_importing_facelite_loads_no_heavy_dependency():
    loaded = fresh(f"import sys, facelite; print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    assert loaded == "[]"


def test_every_public_name_resolves_and_is_listed():
    for name in facelite.__all__:
        assert getattr(facelite, name) is not None, name
    assert set(facelite.__all__) <= set(dir(facelite))


def test_an_analyzer_does_not_load_the_history_and_forecast_modules():
    loaded = fresh("import sys; from facelite import FaceAnalyzer; "
                   "print(sorted(m for m in ('facelite.skin_history', 'facelite.forecast') if m in sys.modules))")
    assert loaded == "[]"


def test_an_unknown_name_is_an_attribute_error():
    try:
        facelite.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("facelite.NoSuchThing resolved")
