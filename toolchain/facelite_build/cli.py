"""`facelite-build`: run build stages from a recipe, and inspect or verify bundles.

Exit codes follow DESIGN.md: 0 ok, 2 user error (bad recipe, data or bundle), 1 other.
With `--json`, stdout carries exactly one JSON document; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import traceback
from pathlib import Path

from facelite.errors import UserError

from . import __version__


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="facelite-build", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"facelite-build {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for stage in ("train", "prune", "convert", "package", "build"):
        s = sub.add_parser(stage, help=f"run the {stage} stage" if stage != "build" else "run every stage")
        s.add_argument("recipe", type=Path)
        s.add_argument("--data", type=Path, help="dataset folder (overrides the recipe's data.path)")
        s.add_argument("--out", type=Path, help="work folder (default build/<name>)")
        s.add_argument("--epochs", type=int, help="override training.epochs")
        s.add_argument("--limit", type=int, help="use about N training images (quick builds)")
        s.add_argument("--strict", action="store_true", default=None,
                       help="fail when a variant is incompatible with its target accelerator")
        s.add_argument("--quiet", action="store_true", help="no per-step progress bars")
        s.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a recipe value, e.g. --set backbone.arch=mobilenet_v2 (repeatable)")
        _common(s)
    for name, help_ in (("inspect", "summarise a bundle"), ("verify", "check schema, checksums and goldens")):
        s = sub.add_parser(name, help=help_)
        s.add_argument("bundle", type=Path)
        _common(s)
    return p


def _common(s: argparse.ArgumentParser) -> None:
    s.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    s.add_argument("--debug", action="store_true", help="show tracebacks")


def _print(result: dict, as_json: bool) -> None:
    """JSON either way (the summary is nested); --json guarantees nothing else is on stdout."""
    print(json.dumps(result, indent=2 if not as_json else None, default=str))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command in ("inspect", "verify"):
            from facelite.verify import inspect_bundle, verify_bundle

            result = inspect_bundle(args.bundle) if args.command == "inspect" else verify_bundle(args.bundle)
            _print(result, args.json)
            return 0 if result.get("ok", True) else 2
        from .builder import BuildOptions, run
        from .recipe import load_recipe

        recipe = load_recipe(args.recipe, args.overrides)
        opts = BuildOptions(
            out=args.out or Path("build") / recipe.name,
            data=args.data, epochs=args.epochs, limit=args.limit, strict=args.strict,
            verbose=0 if args.quiet else (2 if args.json else 1),
        )
        with contextlib.redirect_stdout(sys.stderr):  # Keras progress must not pollute --json
            result = run(args.command, recipe, opts)
        _print(result, args.json)
        return 0
    except UserError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: re-run the same command to resume from the last checkpoint", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 — last-resort report, exit 1
        if args.debug:
            traceback.print_exc()
        print(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
