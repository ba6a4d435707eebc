"""`facelite` command line: analyze, evaluate, inspect, verify.

Only the commands and their printing live here; the exit codes, `--json`, `--debug` and
`--verbose` rules are `facelite.cli_core`'s (shared with `facelite-build` and
`facelite-bench`), and the work is the API's (`FaceAnalyzer`, `facelite.evaluate`,
`facelite.verify`).

`analyze` takes an image, a folder (every image in it and its sub-folders; a file that
fails is reported in its entry as `"error"` and the run carries on; exit 0 when at
least one image succeeded, 2 when every image failed) or a video (by extension,
sampled every `--every` frames). No face is not an error: `faces: []`, exit 0. The
detector and landmarks bundles must be there (shipped, or in `--bundles DIR`):
`--stand-ins` lets OpenCV's Haar cascade and the mean face shape run in their place.
A target that is neither a regular file nor a folder (a FIFO, `/dev/zero`, a socket), an
image or video over the limits of `facelite.image` / `facelite.sources`, an unaccepted
image format and a video OpenCV cannot open are exit 2, before any bundle is loaded.

Examples:

    facelite analyze photo.jpg --json
    facelite analyze photos/ --annotate out/ --accelerator cpu
    facelite analyze clip.mp4 --every 15 --json
    facelite analyze photo.jpg --bundles my_models/ --stand-ins
    facelite evaluate models/expression/expression.flb --data ../shared/data/fer2013/val --variant all --json
    facelite verify models/expression/expression.flb
    facelite verify my.flb --trusted-keys keys/ --json

Bundles from outside the installed package must carry a trusted signature
(`facelite.signing`), checked by every command before any model reaches LiteRT (`inspect`
and `verify` included: LiteRT's parser is not hardened against hostile model bytes):
`--trusted-keys PATH` (repeatable: a PEM public key, or a folder of
`*.pub` files) adds trusted keys, `--no-development-key` distrusts the facelite
development key, `--allow-unsigned` loads unsigned or untrusted bundles with a warning.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
import warnings
from pathlib import Path

from .cli_core import CommandLine, Progress, log, whole_number
from .errors import UserError
from .options import Accelerator, StandIn
from .signing import SignaturePolicy, SignatureWarning
from .sources import VideoFile, image_paths, is_video

# -- analyze ------------------------------------------------------------------------


def _analyzer(args):
    from .analyzer import FaceAnalyzer, FaceAnalyzerOptions
    from .options import BaseOptions

    return FaceAnalyzer.create_from_options(FaceAnalyzerOptions(
        base_options=BaseOptions(accelerator=args.accelerator, num_threads=args.threads, variant=args.variant,
                                 **_trust_options(args)),
        bundles_dir=args.bundles, stand_in=args.stand_ins, min_face_score=args.min_score))


def _annotate(image, result, out: Path) -> None:
    import cv2

    from .annotate import draw_result
    from .image import load_image

    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), draw_result(load_image(image), result)):
        raise UserError(f"{out}: cannot write the annotated image; use a .jpg or .png path in a writable folder")


def _summary(name: str, doc: dict) -> str:
    if "error" in doc:
        return f"{name}: error: {doc['error']}"
    lines = [f"{name}: {len(doc['faces'])} face(s) [{doc['detector']}]"]
    for i, f in enumerate(doc["faces"]):
        b = f["box"]
        bits = [f"  face {i}: box {b['x']:.0f},{b['y']:.0f} {b['w']:.0f}x{b['h']:.0f} score {b['score']:.2f}"]
        if f["expression"]:
            bits.append(f"expression {f['expression']['top'][0]} {f['expression']['top'][1]:.2f}")
        if f["skin"]:
            bits += [f"{k} {v:.2f}" if v is not None else f"{k} n/a" for k, v in f["skin"]["scores"].items()]
        lines.append("  ".join(bits))
    return "\n".join(lines)


def _engines(analyzer, args) -> dict:
    """EngineInfo per stage as JSON, logging each GPU/NPU request that fell back to the CPU."""
    engines = {stage: info.to_json() for stage, info in analyzer.info.items()}
    for stage, info in engines.items():
        if info.get("fallback_reason") and args.accelerator in ("gpu", "npu"):
            log(f"{stage}: running {info['variant']} on {info['accelerator']} ({info['fallback_reason']})")
    return engines


def _trust_options(args) -> dict:
    """The `--trusted-keys`, `--allow-unsigned` and `--no-development-key` flags as policy fields."""
    return {"require_signature": False if args.allow_unsigned else None, "trusted_keys": tuple(args.trusted_keys),
            "trust_development_key": not args.no_development_key}


@contextlib.contextmanager
def _signature_warnings_logged():
    """`SignatureWarning`s as `warning: ...` lines on stderr (other warnings as Python prints them)."""
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(message, category, *rest, **kw):
            if issubclass(category, SignatureWarning):
                log(f"warning: {message}")
            else:
                shown(message, category, *rest, **kw)

        warnings.showwarning = show
        yield


def cmd_analyze(args, out) -> int:
    with _signature_warnings_logged():
        return _analyze(args, out)


def _analyze(args, out) -> int:
    target = Path(args.target)
    annotate = Path(args.annotate) if args.annotate else None
    if is_video(target):
        with VideoFile(target) as video, _analyzer(args) as analyzer:
            return _analyze_video(analyzer, video, args, annotate, out)
    files = image_paths(target)  # ImageError: missing, or no image anywhere in the folder tree
    with _analyzer(args) as analyzer:
        engines = _engines(analyzer, args)
        if target.is_dir():
            return _analyze_folder(analyzer, target, files, annotate, out, engines)
        result = analyzer.analyze(target)
        if annotate is not None:
            _annotate(target, result, annotate / f"{target.stem}.jpg"
                      if annotate.is_dir() or not annotate.suffix else annotate)
        doc = {"image": str(target), **result.to_json(), "engines": engines}
        out.result(doc, _summary(str(target), doc))
        return 0


def _analyze_folder(analyzer, folder: Path, files: list[Path], annotate: Path | None, out, engines: dict) -> int:
    entries = []
    progress = Progress(f"analyze {folder}", enabled=out.json)
    for i, (path, outcome) in enumerate(analyzer.analyze_paths(files)):
        if isinstance(outcome, UserError):
            entry = {"image": str(path), "error": str(outcome)}
        else:
            entry = {"image": str(path), **outcome.to_json()}
            if annotate is not None:
                _annotate(path, outcome, annotate / path.relative_to(folder).with_suffix(".jpg"))
        entries.append(entry)
        out.line(_summary(str(path), entry))
        progress((i + 1) / len(files), path.name)
    failed = sum("error" in e for e in entries)
    out.result({"dir": str(folder), "n_images": len(entries), "n_failed": failed, "stages": analyzer.stages,
                "engines": engines, "images": entries})
    if failed == len(entries):
        log(f"error: {folder}: every image failed; see the per-file errors")
        return 2
    return 0


def _analyze_video(analyzer, video: VideoFile, args, annotate: Path | None, out) -> int:
    engines = _engines(analyzer, args)
    frames = []
    for frame, result in analyzer.analyze_video(video, args.every, args.max_frames):
        entry = {"frame": frame.index, "time_s": frame.time_s, **result.to_json()}
        frames.append(entry)
        if annotate is not None:
            _annotate(frame.image, result, annotate / f"frame_{frame.index:06d}.jpg")
        out.line(_summary(f"frame {frame.index}", entry))
    out.result({"video": str(video.path), "fps": video.fps, "every": args.every, "n_frames": len(frames),
                "stages": analyzer.stages, "engines": engines, "frames": frames})
    return 0


# -- evaluate / inspect / verify ---------------------------------------------------------


def cmd_evaluate(args, out) -> int:
    with _signature_warnings_logged():
        return _evaluate(args, out)


def _evaluate(args, out) -> int:
    from .evaluate import evaluate

    last = [0.0]

    def progress(msg: str) -> None:
        if time.perf_counter() - last[0] > 2.0:
            log(f"evaluate: {msg}")
            last[0] = time.perf_counter()

    doc = evaluate(args.bundle, args.data, args.variant, batch_size=args.batch,
                   num_threads=args.threads, accelerator=args.accelerator, progress=progress,
                   classes=args.classes, policy=SignaturePolicy(**_trust_options(args)))
    lines = []
    for name, r in (doc.get("variants") or {doc["variant"]: doc}).items():
        keys = [k for k in ("n", "accuracy", "nme", "recall", "precision", "false_boxes_per_image",
                            "agreement_vs_fp32", "psnr_db") if k in r]
        lines.append(f"{name}: " + "  ".join(f"{k} {r[k]}" for k in keys) + f"  skipped {len(r['skipped'])}")
    out.result(doc, "\n".join(lines))
    return 0


def cmd_inspect(args, out) -> int:
    with _signature_warnings_logged():
        return _inspect(args, out)


def _inspect(args, out) -> int:
    from .verify import inspect_bundle

    doc = inspect_bundle(args.bundle, policy=SignaturePolicy(**_trust_options(args)))
    lines = [f"{doc['name']} {doc['version']} ({doc['task']}), {doc['file_bytes']} bytes", f"input: {doc['input']}",
             f"signature: {_signer(doc['signature'])}"]
    for name, v in doc["variants"].items():
        compat = ",".join(k for k, c in v["compatibility"].items() if c.get("ok")) or "cpu only"
        lines.append(f"  {name:8s} {v['bytes']:>10d} B  target {v['target']}  input {v['input_dtype']}  "
                     f"sparsity {v['sparsity']:.2f}  accelerators {compat}")
    out.result(doc, "\n".join(lines))
    broken = [f"{name}: {v['error']}" for name, v in doc["variants"].items() if "error" in v]
    if broken:  # described in full above; a variant that does not load is still a bad bundle
        log(f"error: {broken[0]}")
        return 2
    return 0


def _signer(signature: dict) -> str:
    """One phrase for `facelite verify`'s text output: who signed, and is that key trusted."""
    if not signature["signed"]:
        return "none (unsigned)"
    if not signature["valid"]:
        return "INVALID"
    dev = " (the development key)" if signature["development_key"] else ""
    return f"key {signature['key_id']}{dev}, {'trusted' if signature['trusted'] else 'untrusted'}"


def cmd_verify(args, out) -> int:
    from .verify import verify_bundle

    doc = verify_bundle(args.bundle, num_threads=args.threads, policy=SignaturePolicy(**_trust_options(args)))
    signature = doc.get("signature")
    if signature and signature["warning"]:
        log(f"warning: {signature['warning']}")
    lines = []
    for name, v in doc["variants"].items():
        status = "ok" if v.get("ok") else "FAIL"
        detail = v.get("error") or f"max_abs_err {v.get('max_abs_err', float('nan')):.3g}" + (
            f"  top1_agreement {v['top1_agreement']:.3f}" if "top1_agreement" in v else "")
        lines.append(f"  {name:8s} {status:4s}  {detail}")
    if signature:
        lines.append(f"  signature {_signer(signature)}")
    lines.append("bundle ok" if doc["ok"] else "bundle FAILED verification")
    out.result(doc, "\n".join(lines))
    if not doc["ok"]:
        first = doc["problems"][0] if doc["problems"] else "a variant does not reproduce its goldens"
        if (signature and first == signature["problem"]) or "rebuild" in first:
            log(f"error: {first}")  # says what to do itself: trust the key, or rebuild / re-download
        else:
            log(f"error: {first}; rebuild the bundle or re-download it")
        return 2
    return 0


# -- entry point -------------------------------------------------------------------


def command_line() -> CommandLine:
    cli = CommandLine("facelite", "facelite runtime: analyze images, evaluate and check bundles.")
    accelerators = [a.value for a in Accelerator]

    def threads(p: argparse.ArgumentParser) -> None:
        p.add_argument("--threads", type=whole_number(1), default=2, help="interpreter threads (default 2)")

    a = cli.command("analyze", cmd_analyze, "faces, landmarks, regions, expression, skin")
    a.add_argument("target", help="image file, folder of images (searched with its sub-folders), or video")
    a.add_argument("--annotate", metavar="OUT", help="draw results: a file for an image, a folder for a folder/video")
    a.add_argument("--bundles", metavar="DIR", help="folder of <name>/<name>.flb bundles, the only place looked in "
                   "(default: the bundles shipped with facelite)")
    a.add_argument("--stand-ins", action="store_const", const=StandIn.IF_MISSING, default=StandIn.NEVER,
                   help="run OpenCV's Haar cascade / the mean face shape where the detector / landmarks bundle "
                        "is missing (default: a missing bundle is an error)")
    a.add_argument("--accelerator", default="auto", choices=accelerators)
    a.add_argument("--variant", default="auto", help="auto, or a variant every bundle has (fp32, fp16, dynamic, int8)")
    a.add_argument("--min-score", type=float, default=None,
                   help="drop faces below this detector score (default: the bundle's score_threshold, else 0.5)")
    a.add_argument("--every", type=whole_number(1), default=10, metavar="N",
                   help="video: analyse every Nth frame (default 10)")
    a.add_argument("--max-frames", type=whole_number(0), default=0, help="video: stop after this many analysed frames")
    threads(a)
    trust_arguments(a)

    e = cli.command("evaluate", cmd_evaluate, "accuracy / NME / recall of a bundle on a labelled folder")
    e.add_argument("bundle")
    e.add_argument("--data", required=True, metavar="DIR", help="<label>/*.jpg folders, or 300W .pts folders")
    e.add_argument("--variant", default="fp32", help="fp32, fp16, dynamic, int8 or all (default fp32)")
    e.add_argument("--batch", type=whole_number(1), default=64)
    e.add_argument("--classes", type=lambda v: [c.strip() for c in v.split(",") if c.strip()], metavar="A,B,...",
                   help="classification: restrict the arg-max to these labels (a folder holding a subset of them)")
    e.add_argument("--accelerator", default="cpu", choices=accelerators)
    trust_arguments(e)
    threads(e)

    add_bundle_commands(cli)
    return cli


def add_bundle_commands(cli: CommandLine) -> None:
    """`inspect BUNDLE` and `verify BUNDLE`, the same in `facelite` and `facelite-build`; both
    load the variants into LiteRT, so both take the signature-policy flags and apply them first."""
    i = cli.command("inspect", cmd_inspect, "manifest, signature, variants, tensors, offsets")
    i.add_argument("bundle")
    trust_arguments(i)
    v = cli.command("verify", cmd_verify, "schema, checksums and golden replay of every variant")
    v.add_argument("bundle")
    v.add_argument("--threads", type=whole_number(1), default=2, help="interpreter threads (default 2)")
    trust_arguments(v)


def trust_arguments(p: argparse.ArgumentParser) -> None:
    """The signature-policy flags (`facelite.signing.SignaturePolicy`) of analyze, evaluate, inspect and verify."""
    p.add_argument("--trusted-keys", action="append", default=[], metavar="PATH",
                   help="trust signatures by this PEM public key, or by every *.pub key in this folder "
                        "(repeatable; FACELITE_TRUSTED_KEYS adds more)")
    p.add_argument("--allow-unsigned", action="store_true",
                   help="load unsigned or untrusted bundles with a warning (default: bundles from outside "
                        "the installed package need a trusted signature)")
    p.add_argument("--no-development-key", action="store_true",
                   help="do not trust the facelite development key (not for production)")


def main(argv: list[str] | None = None) -> int:
    return command_line().main(argv)


if __name__ == "__main__":
    sys.exit(main())
