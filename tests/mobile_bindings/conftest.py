"""The C core built once per test session: `c_build`, a CMake build of mobile_bindings/c.

The tests of this folder drive what that build makes: `facelite-run` (the native runner),
`libfacelite`, the ctest executables and the `tool_*` helpers. It is configured into a
temporary folder with the `libLiteRt.so` of the `ai-edge-litert` wheel this Python runs
(`-DLITERT_LIB`), so the C core and the Python runtime use the very same LiteRT.

Skipped, with the reason, where a prerequisite is missing (cmake, pkg-config, Debian's
libcjson-dev, libsodium-dev, libturbojpeg0-dev, libpng-dev: `scripts/install_system_deps.sh`
installs them; the wheel: `make setup`). A build that fails is a test failure, not a skip.
Set `FACELITE_C_BUILD=DIR` to build into DIR instead (kept between sessions: a rebuild
then only compiles what changed), and `FACELITE_C_SANITIZE=1` to build with AddressSanitizer
and UndefinedBehaviorSanitizer: every test of the folder then runs the instrumented runner,
tools and ctest cases (the sanitizers abort on the first report, which fails the test).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "mobile_bindings" / "c"
PKG_CONFIG_MODULES = {"libcjson": "libcjson-dev", "libsodium": "libsodium-dev",
                      "libturbojpeg": "libturbojpeg0-dev", "libpng": "libpng-dev"}


@dataclass(frozen=True)
class CBuild:
    """Where the session's build of mobile_bindings/c is, and its executables."""

    build_dir: Path
    seconds: float

    @property
    def runner(self) -> Path:
        return self.tool("facelite-run")

    def tool(self, name: str) -> Path:
        path = self.build_dir / name
        assert path.is_file(), f"{name} was not built in {self.build_dir}"
        return path

    def ctest(self, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(["ctest", "--output-on-failure", "--test-dir", str(self.build_dir)],
                              capture_output=True, text=True, timeout=timeout)


def litert_library() -> Path | None:
    """libLiteRt.so of the installed ai-edge-litert wheel (what the Python runtime loads)."""
    try:
        import ai_edge_litert
    except ImportError:
        return None
    lib = Path(ai_edge_litert.__file__).parent / "libLiteRt.so"
    return lib if lib.is_file() else None


def missing_prerequisite() -> str | None:
    """Why the C core cannot be built here, or None."""
    for tool in ("cmake", "pkg-config", "cc"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/install_system_deps.sh installs the C toolchain)"
    absent = [pkg for module, pkg in PKG_CONFIG_MODULES.items()
              if subprocess.run(["pkg-config", "--exists", module]).returncode != 0]
    if absent:
        return f"missing {', '.join(absent)} (run scripts/install_system_deps.sh)"
    if litert_library() is None:
        return "libLiteRt.so not found: the ai-edge-litert wheel is not installed (make setup)"
    return None


def _run(cmd: list[str], what: str, timeout: float) -> None:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        pytest.fail(f"{what} failed ({' '.join(cmd)}):\n{(p.stdout + p.stderr)[-6000:]}", pytrace=False)


@pytest.fixture(scope="session")
def parity_photos(shared_data) -> dict[str, list[Path]]:
    """The real photos the native parity tests share: every k-th sorted file of ACNE04 and of
    HELEN, 25 of each (skips without them). One sample, so a photo that differs in one
    binding's test is among every other binding's photos too."""
    per_set = 25
    acne = sorted((shared_data / "acne04").glob("level*/*.jpg"))
    helen = sorted((shared_data / "landmarks300w" / "helen_train").glob("*.jpg"))
    if len(acne) < per_set or len(helen) < per_set:
        pytest.skip(f"ACNE04 and HELEN photos not found under {shared_data}")
    return {"acne04": acne[:: len(acne) // per_set][:per_set], "helen": helen[:: len(helen) // per_set][:per_set]}


@pytest.fixture(scope="session")
def c_build(tmp_path_factory) -> CBuild:
    """mobile_bindings/c configured and built (RelWithDebInfo) once for the session."""
    import time

    reason = missing_prerequisite()
    if reason:
        pytest.skip(f"C core not built: {reason}")
    forced = os.environ.get("FACELITE_C_BUILD")
    build = Path(forced) if forced else tmp_path_factory.mktemp("mobile_bindings_c")
    t0 = time.monotonic()
    sanitize = "ON" if os.environ.get("FACELITE_C_SANITIZE") else "OFF"
    _run(["cmake", "-S", str(SOURCE), "-B", str(build), f"-DLITERT_LIB={litert_library()}",
          "-DCMAKE_BUILD_TYPE=RelWithDebInfo", f"-DFACELITE_SANITIZE={sanitize}"], "configuring mobile_bindings/c", 300)
    _run(["cmake", "--build", str(build), "--parallel", str(min(4, os.cpu_count() or 1))],
         "building mobile_bindings/c", 900)
    return CBuild(build, time.monotonic() - t0)
