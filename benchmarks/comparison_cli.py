"""The command line every facelite-vs-MediaPipe benchmark shares: its options and its ending.

Why one place: `pipeline.py`, `video.py` and `coldstart.py` compare the same sides —
facelite's Python reference, its C core (benchmarks/native_side.py) and MediaPipe — under
the same settings (threads and CPUs, facelite's variant and bundles, faces per image, the
MediaPipe venv, the C core's build folder), print a table, may write it as JSON, and exit
0 when every target is met, 1 when one is not, 2 when something they need is missing.

Example:

    >>> import argparse
    >>> from comparison_cli import add_comparison_arguments
    >>> p = argparse.ArgumentParser()
    >>> add_comparison_arguments(p, faces_help="faces per photo")
    >>> p.parse_args(["--variant", "int8"]).threads
    2
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable

from helen_photos import default_data  # benchmarks/helen_photos.py
from mediapipe_side import MEDIAPIPE_VERSION, MediaPipeUnavailable

from facelite import UserError
from facelite.files import write_file_atomic

VARIANTS = ("auto", "fp32", "fp16", "int8", "dynamic")


def add_comparison_arguments(p: argparse.ArgumentParser, faces_help: str = "faces per image") -> None:
    """The options every side shares: --threads, --variant, --max-faces, --bundles, --data,
    --mediapipe-venv, --native-build, --no-native and --json."""
    p.add_argument("--threads", type=int, default=2, help="CPU threads (and CPUs) on both sides (default 2)")
    p.add_argument("--variant", default="auto", choices=VARIANTS, help="facelite's model variant (default auto)")
    p.add_argument("--max-faces", type=int, default=1,
                   help=f"{faces_help} at most, on every side (default 1, MediaPipe's; the C core gets it as "
                        "facelite-run's --max-faces)")
    p.add_argument("--bundles", help="folder of <name>/<name>.flb (default: the shipped bundles)")
    p.add_argument("--data", default=default_data(), help="the shared data folder (FACELITE_DATA)")
    p.add_argument("--mediapipe-venv", help="the MediaPipe venv (default FACELITE_MEDIAPIPE_VENV or "
                                            f"~/.cache/facelite/mediapipe-{MEDIAPIPE_VERSION}; made if missing)")
    p.add_argument("--native-build", metavar="DIR",
                   help="build the C core (facelite-run) in DIR for the native side (default FACELITE_C_BUILD, else "
                        "~/.cache/facelite/mobile_bindings_c; incremental)")
    p.add_argument("--no-native", action="store_true", help="leave out the native side (the C core)")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")


def run_comparison(args: argparse.Namespace, measure: Callable[[], dict], print_text: Callable[[dict], None],
                   met: Callable[[dict], bool], missing: tuple[type[BaseException], ...] = ()) -> int:
    """Measure, print, write `--json` atomically; 0 when `met(doc)`, 1 when not, 2 when
    MediaPipe, data or a bundle is missing (the message on stderr)."""
    try:
        doc = measure()
    except (MediaPipeUnavailable, UserError, *missing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_text(doc)
    if args.json:
        write_file_atomic(args.json, (json.dumps(doc, indent=1) + "\n").encode())
    return 0 if met(doc) else 1
