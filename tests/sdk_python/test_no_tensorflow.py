"""The runtime never imports TensorFlow, not even indirectly (checked in a fresh process)."""

import subprocess
import sys

CODE = """
import importlib, pkgutil, sys
import facelite
for m in pkgutil.iter_modules(facelite.__path__):
    importlib.import_module("facelite." + m.name)
bad = sorted(n for n in sys.modules if n.split(".")[0] in ("tensorflow", "tf_keras", "keras", "facelite_build"))
assert not bad, bad
print("ok", len(list(pkgutil.iter_modules(facelite.__path__))))
"""


def test_importing_every_facelite_module_does_not_import_tensorflow():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")
