"""`facelite-build`: run build stages from a recipe, and inspect or verify bundles.

Only the commands live here; exit codes (0 ok, 2 user error: bad recipe, data or
bundle, 1 other, 130 on Ctrl-C), `--json` (exactly one JSON document on stdout, errors
included; Keras progress goes to stderr), `--debug` and `--verbose` are
`facelite.cli_core`'s, shared with `facelite` and `facelite-bench`; `inspect` and
`verify` are the runtime's own commands (`facelite.cli.add_bundle_commands`). A stopped
training resumes from its last finished epoch when the same command is run again.
"""

from __future__ import annotations

import sys
from pathlib import Path

from facelite.cli import add_bundle_commands
from facelite.cli_core import CommandLine, dumps, whole_number

from . import __version__

STAGES = ("train", "prune", "convert", "package", "build")


def cmd_stage(args, out) -> int:
    from .builder import BuildOptions, run
    from .recipe import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    opts = BuildOptions(
        out=args.out or Path("build") / recipe.name,
        data=args.data, epochs=args.epochs, limit=args.limit, strict=args.strict,
        verbose=0 if args.quiet else (2 if args.json else 1),
    )
    result = run(args.command, recipe, opts)
    out.result(result, dumps(result))  # the summary is nested: JSON either way
    return 0


def command_line() -> CommandLine:
    cli = CommandLine("facelite-build", "Run build stages from a recipe; inspect or verify bundles.",
                      version=__version__,
                      interrupted_hint="re-run the same command to resume from the last checkpoint")
    for stage in STAGES:
        s = cli.command(stage, cmd_stage, f"run the {stage} stage" if stage != "build" else "run every stage")
        s.add_argument("recipe", type=Path)
        s.add_argument("--data", type=Path, help="dataset folder (overrides the recipe's data.path)")
        s.add_argument("--out", type=Path, help="work folder (default build/<name>)")
        s.add_argument("--epochs", type=whole_number(1), help="override training.epochs")
        s.add_argument("--limit", type=whole_number(1), help="use about N training images (quick builds)")
        s.add_argument("--strict", action="store_true", default=None,
                       help="fail when a variant is incompatible with its target accelerator")
        s.add_argument("--quiet", action="store_true", help="no per-step progress bars")
        s.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a recipe value, e.g. --set backbone.arch=mobilenet_v2 (repeatable)")
    add_bundle_commands(cli)
    return cli


def main(argv: list[str] | None = None) -> int:
    return command_line().main(argv)


if __name__ == "__main__":
    sys.exit(main())
