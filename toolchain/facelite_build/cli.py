"""`facelite-build`: run build stages from a recipe, and inspect or verify bundles.

Only the commands live here; exit codes (0 ok, 2 user error: bad recipe, data or
bundle, 1 other, 130 on Ctrl-C), `--json` (exactly one JSON document on stdout, errors
included; Keras progress goes to stderr), `--debug` and `--verbose` are
`facelite.cli_core`'s, shared with `facelite` and `facelite-bench`; `inspect` and
`verify` are the runtime's own commands (`facelite.cli.add_bundle_commands`). A stopped
training resumes from its last finished epoch when the same command is run again.

Signing (`facelite.signing`): the package stage signs every bundle, with `--signing-key
KEY` or else the development key (not for production); `keygen OUT.pem` makes a key pair
(`OUT.pem` private, `OUT.pub` public, for `facelite verify --trusted-keys`), and
`sign BUNDLE --key KEY [--out SIGNED]` (re-)signs an existing bundle.

`measure BUNDLE [--out OUT.flb]` times every variant on this host and records it with
its agreement with fp32 in the manifest (`facelite_build.measure`: what `variant="auto"`
picks from), signed again; the package stage records the same for every new bundle.

`splits RECIPE --out DIR` writes the recipe's held-out files (`facelite_build.splits`):
`val.txt` without exact or near copies of training files, `val_exact.txt` with identical
files only kept together (acne 2.0.0's rule), `val_all.txt` with none (the other shipped
bundles': each recipe's `data.duplicates` names its rule), for `facelite evaluate --files`.

`thresholds RECIPE BUNDLE [--out OUT.flb]` chooses each variant's operating point (a
detector's score threshold) on the recipe's training split and records it in the
manifest, signed again (`facelite_build.thresholds`); the package stage chooses the same.

`slim BUNDLE --variants int8[,fp16] --out OUT.flb` writes a copy with only those variants
and their goldens (`facelite_build.slim`), signed again; `inspect` shows each variant's
shipping size (what a slim bundle of that variant alone weighs).

    facelite-build keygen keys/release.pem
    facelite-build build models/expression/recipe.toml --signing-key keys/release.pem
    facelite-build sign my.flb --key keys/release.pem --out my.signed.flb
    facelite-build slim my.flb --variants int8 --out my.int8.flb --signing-key keys/release.pem
"""

from __future__ import annotations

import sys
from pathlib import Path

from facelite.cli import add_bundle_commands
from facelite.cli_core import CommandLine, whole_number
from facelite.strict_json import dumps

from . import __version__
from .distribute import STRATEGIES

STAGES = ("train", "prune", "convert", "package", "build")


def cmd_stage(args, out) -> int:
    from .builder import BuildOptions, run
    from .recipe import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    opts = BuildOptions(
        out=args.out or Path("build") / recipe.name,
        data=args.data, epochs=args.epochs, limit=args.limit, strict=args.strict,
        verbose=0 if args.quiet else (2 if args.json else 1), signing_key=args.signing_key,
        strategy=getattr(args, "strategy", None),
    )
    result = run(args.command, recipe, opts)
    out.result(result, dumps(result, indent=2))  # the summary is nested: JSON either way
    return 0


def cmd_sign(args, out) -> int:
    from facelite.signing import check_signature, load_private_key, sign_bundle

    key = load_private_key(args.key)  # UserError before the bundle is touched
    path = sign_bundle(args.bundle, key, out=args.out)
    check = check_signature(path)
    doc = {"bundle": str(path), "key_id": check.key_id, "development_key": check.development_key}
    out.result(doc, f"{path}: signed with key {check.key_id}"
               + (" (the development key: not for production)" if check.development_key else ""))
    return 0


def cmd_keygen(args, out) -> int:
    from facelite.signing import generate_key_pair, key_id, load_public_key

    private, public = generate_key_pair(args.out)
    kid = key_id(load_public_key(public))
    out.result({"private_key": str(private), "public_key": str(public), "key_id": kid},
               f"private key {private} (keep it secret)\npublic key  {public} (key id {kid}): "
               "give it to facelite as --trusted-keys / trusted_keys")
    return 0


def cmd_slim(args, out) -> int:
    from facelite.bundle import Bundle

    from .slim import parse_variants, slim_bundle

    path = slim_bundle(args.bundle, parse_variants(args.variants), args.out, signing_key=args.signing_key)
    with Bundle.open(path) as slim:
        doc = {"bundle": str(path), "bytes": slim.file_bytes, **slim.manifest["slim"]}
    out.result(doc, f"{path}: {doc['bytes']:,} bytes, variants {', '.join(doc['kept'])} "
                    f"(removed {', '.join(doc['removed']) or 'none'}; the full bundle is {doc['from_bytes']:,} bytes)")
    return 0


def cmd_measure(args, out) -> int:
    from facelite.bundle import Bundle

    from .measure import measure_bundle

    path = measure_bundle(args.bundle, out=args.out, num_threads=args.threads, signing_key=args.signing_key,
                          **({"rounds": args.rounds} if args.rounds else {}))
    with Bundle.open(path) as b:
        doc = {"bundle": str(path), "variants": {n: e["measured"] for n, e in b.manifest["variants"].items()}}
    out.result(doc, "\n".join(f"{path}: {n} {m['latency_ms']:.3g} ms median invoke ({m['threads']} threads), "
                               f"agreement with fp32 {m['agreement']}" for n, m in doc["variants"].items()))
    return 0


def cmd_thresholds(args, out) -> int:
    from .thresholds import record_operating_points

    fields = record_operating_points(args.recipe, args.bundle, data=args.data, out=args.out,
                                     signing_key=args.signing_key)
    path = args.out or args.bundle
    out.result({"bundle": str(path), **fields}, "\n".join(
        f"{path}: {key} {value}" for key, value in fields.items()))
    return 0


def cmd_splits(args, out) -> int:
    from .recipe import load_recipe
    from .splits import write_split_lists

    recipe = load_recipe(args.recipe)
    doc = write_split_lists(recipe, recipe.data_dir(args.data), args.out)
    out.result(doc, f"{doc['val']} held-out files ({doc['removed']} of {doc['val_all']} removed: a copy in "
                    f"training) -> {doc['lists']['val']}; evaluate with --data {doc['base']} --files "
                    f"{doc['lists']['val']}")
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
        s.add_argument("--signing-key", type=Path, metavar="KEY",
                       help="sign the bundle with this PEM Ed25519 private key (default: the facelite "
                            "development key, not for production)")
        if stage in ("train", "build"):
            s.add_argument("--strategy", choices=STRATEGIES,
                           help="where training runs (overrides training.strategy): default (one device), "
                                "mirrored (this machine's GPUs), multiworker (the machines in TF_CONFIG)")
    sign = cli.command("sign", cmd_sign, "sign a bundle (replacing any signature)")
    sign.add_argument("bundle", type=Path)
    sign.add_argument("--key", type=Path, required=True, help="PEM Ed25519 private key (facelite-build keygen)")
    sign.add_argument("--out", type=Path, help="write the signed bundle here (default: sign in place)")
    keygen = cli.command("keygen", cmd_keygen, "make an Ed25519 key pair for signing bundles")
    keygen.add_argument("out", type=Path, metavar="OUT.pem",
                        help="private key file to write; the public key goes beside it as .pub")
    slim = cli.command("slim", cmd_slim, "copy a bundle keeping only the variants an app ships")
    slim.add_argument("bundle", type=Path)
    slim.add_argument("--variants", required=True, metavar="V[,V]",
                      help="variants to keep, e.g. int8 or int8,fp16; their goldens are kept too")
    slim.add_argument("--out", type=Path, required=True, help="the slim bundle to write (never the input)")
    slim.add_argument("--signing-key", type=Path, metavar="KEY",
                      help="sign with this PEM Ed25519 private key (default: the development key)")
    measure = cli.command("measure", cmd_measure, "record each variant's latency on this host and agreement "
                                                  "with fp32 in a bundle (what variant auto picks from)")
    measure.add_argument("bundle", type=Path)
    measure.add_argument("--out", type=Path, help="write the measured bundle here (default: in place)")
    measure.add_argument("--threads", type=whole_number(1), help="CPU threads (default: the runtime's default)")
    measure.add_argument("--rounds", type=whole_number(1),
                         help="timed rounds of 10 invokes per variant (default facelite_build.measure.ROUNDS, 20)")
    measure.add_argument("--signing-key", type=Path, metavar="KEY",
                         help="sign with this PEM Ed25519 private key (default: the development key)")
    thresholds = cli.command("thresholds", cmd_thresholds,
                             "choose each variant's operating point (detection: score threshold) on the "
                             "recipe's training split and record it in the bundle, without retraining")
    thresholds.add_argument("recipe", type=Path)
    thresholds.add_argument("bundle", type=Path)
    thresholds.add_argument("--data", type=Path, help="data root (default: the recipe's, FACELITE_DATA)")
    thresholds.add_argument("--out", type=Path, help="write the bundle here (default: in place)")
    thresholds.add_argument("--signing-key", type=Path, metavar="KEY",
                            help="sign with this PEM Ed25519 private key (default: the development key)")
    splits = cli.command("splits", cmd_splits, "write a recipe's held-out file lists, duplicates of training out")
    splits.add_argument("recipe", type=Path)
    splits.add_argument("--data", type=Path, help="data root (default: the recipe's, FACELITE_DATA)")
    splits.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="folder for val.txt (deduplicated), val_exact.txt, removed.txt and splits.json")
    add_bundle_commands(cli)
    return cli


def main(argv: list[str] | None = None) -> int:
    return command_line().main(argv)


if __name__ == "__main__":
    sys.exit(main())
