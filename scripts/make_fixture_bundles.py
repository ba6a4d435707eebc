"""Regenerate the tiny test bundles committed under tests/fixtures/bundles/.

The runtime and bench tests open these files instead of training models, so they run
without TensorFlow. Rerun this (it needs the toolchain extra and FER2013 under
FACELITE_DATA or ../shared/data; about a minute) when the bundle format or the
builders in tests/fixture_bundles.py change, then commit the files it writes.

    python scripts/make_fixture_bundles.py              # rewrite tests/fixtures/bundles/
    python scripts/make_fixture_bundles.py --out /tmp/fx
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(TESTS))
    import fixture_bundles
    from facelite_build.paths import data_root

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=fixture_bundles.FIXTURE_BUNDLES,
                   help="folder to write the bundles into (default: tests/fixtures/bundles)")
    p.add_argument("--data", type=Path, default=None, help="data root holding fer2013/val (default: FACELITE_DATA)")
    args = p.parse_args(argv)
    data = args.data or data_root()
    if not (data / "fer2013" / "val").is_dir():
        print(f"error: no fer2013/val under {data}; pass --data or set FACELITE_DATA", file=sys.stderr)
        return 2
    for name, path in fixture_bundles.build_fixture_bundles(args.out, data).items():
        print(f"{name}: {path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
