"""`facelite` command line: analyze, evaluate, inspect, verify.

Contract (DESIGN.md): with `--json` each command prints exactly one JSON document on
stdout; logs and progress go to stderr. Exit 0 on success, 2 for a user error (bad
path, unreadable image, tampered or failing bundle, bad data folder) printed as
`error: <what>: <problem>; <what to do>` without a traceback (`--debug` adds one),
1 for anything else. With `--json`, an error also prints `{"error": ..., "exit_code": ...}`
on stdout so a caller always gets a document.

`analyze` on a folder analyses every image in it (not recursive); a file that fails is
reported in its entry (`"error"`) and the run carries on. The exit code is 0 when at
least one image succeeded, 2 when every image failed. A video (by extension) is sampled
every `--every` frames. No face is not an error: `faces: []`, exit 0.

Examples:

    facelite analyze photo.jpg --json
    facelite analyze photos/ --annotate out/ --accelerator cpu
    facelite analyze clip.mp4 --every 15 --json
    facelite evaluate models/expression/expression.flb --data ../shared/data/fer2013/val --variant all --json
    facelite verify models/expression/expression.flb
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from .errors import ImageError, UserError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def jsonable(obj: Any) -> Any:
    """NaN/inf → null, numpy scalars/arrays → Python, so the output is strict JSON."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def emit(doc: dict) -> None:
    print(json.dumps(jsonable(doc), indent=2, allow_nan=False))


# -- analyze ------------------------------------------------------------------------


def _analyzer(args):
    from .analyzer import FaceAnalyzer, FaceAnalyzerOptions

    return FaceAnalyzer.create_from_options(FaceAnalyzerOptions(
        bundles_dir=args.bundles, accelerator=args.accelerator, num_threads=args.threads,
        min_face_score=args.min_score))


def _annotate(image, result, out: Path) -> None:
    import cv2

    from .annotate import draw_result

    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), draw_result(image, result)):
        raise UserError(f"{out}: cannot write the annotated image; use a .jpg or .png path in a writable folder")


def _analyze_one(analyzer, path: Path, annotate: Path | None) -> dict:
    from .image import load_image

    image = load_image(path)
    result = analyzer.analyze(image)
    if annotate is not None:
        _annotate(image, result, annotate)
    return {"image": str(path), **result.to_json()}


def _summary_line(doc: dict) -> str:
    if "error" in doc:
        return f"{doc['image']}: error: {doc['error']}"
    parts = [f"{doc.get('image', '')}: {len(doc['faces'])} face(s) [{doc['detector']}]"]
    for i, f in enumerate(doc["faces"]):
        b = f["box"]
        bits = [f"  face {i}: box {b['x']:.0f},{b['y']:.0f} {b['w']:.0f}x{b['h']:.0f} score {b['score']:.2f}"]
        if f["expression"]:
            bits.append(f"expression {f['expression']['top'][0]} {f['expression']['top'][1]:.2f}")
        if f["skin"]:
            for k, v in f["skin"]["scores"].items():
                bits.append(f"{k} {v:.2f}" if v is not None else f"{k} n/a")
        parts.append("  ".join(bits))
    return "\n".join(parts)


def cmd_analyze(args) -> int:
    from .image import list_images

    target = Path(args.target)
    if not target.exists():
        raise ImageError(f"{target}: no such file or folder; check the path")
    analyzer = _analyzer(args)
    annotate = Path(args.annotate) if args.annotate else None
    engines = analyzer.engines()
    for stage, info in engines.items():
        if info.get("fallback_reason") and args.accelerator in ("gpu", "npu"):
            log(f"{stage}: running {info['variant']} on {info['accelerator']} ({info['fallback_reason']})")

    if target.is_dir():
        files = list_images(target)
        if not files:
            raise ImageError(f"{target}: folder holds no images (.jpg, .png, .bmp, .webp, .tif); check the path")
        entries = []
        for i, f in enumerate(files):
            out = (annotate / f"{f.stem}.jpg") if annotate else None
            try:
                entries.append(_analyze_one(analyzer, f, out))
            except UserError as exc:
                entries.append({"image": str(f), "error": str(exc)})
            if not args.json:
                print(_summary_line(entries[-1]))
            else:
                log(f"[{i + 1}/{len(files)}] {f.name}")
        failed = sum("error" in e for e in entries)
        doc = {"dir": str(target), "n_images": len(entries), "n_failed": failed,
               "stages": analyzer.stages, "engines": engines, "images": entries}
        if args.json:
            emit(doc)
        if failed == len(entries):
            log(f"error: {target}: every image failed; see the per-file errors")
            return 2
        return 0

    if target.suffix.lower() in VIDEO_EXTENSIONS:
        doc = _analyze_video(analyzer, target, args, annotate)
        if args.json:
            emit(doc)
        return 0

    out = annotate
    if annotate is not None and (annotate.is_dir() or not annotate.suffix):
        out = annotate / f"{target.stem}.jpg"
    doc = _analyze_one(analyzer, target, out)
    doc["engines"] = engines
    if args.json:
        emit(doc)
    else:
        print(_summary_line(doc))
    return 0


def _analyze_video(analyzer, path: Path, args, annotate: Path | None) -> dict:
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ImageError(f"{path}: cannot open the video; use a format OpenCV reads (mp4, avi, mkv)")
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    every = max(1, int(args.every))
    frames, index = [], 0
    try:
        while True:
            ok = cap.grab()
            if not ok:
                break
            if index % every == 0:
                ok, frame = cap.retrieve()
                if not ok:
                    break
                result = analyzer.analyze(frame)
                entry = {"frame": index, "time_s": round(index / fps, 3) if fps else None, **result.to_json()}
                frames.append(entry)
                if annotate is not None:
                    _annotate(frame, result, annotate / f"frame_{index:06d}.jpg")
                if not args.json:
                    print(_summary_line({"image": f"frame {index}", **entry}))
                if args.max_frames and len(frames) >= args.max_frames:
                    break
            index += 1
    finally:
        cap.release()
    if index == 0:
        raise ImageError(f"{path}: no frames could be read; the video is empty or its codec is unsupported")
    return {"video": str(path), "fps": fps, "every": every, "n_frames": len(frames),
            "stages": analyzer.stages, "frames": frames}


# -- evaluate / inspect / verify ---------------------------------------------------------


def cmd_evaluate(args) -> int:
    from .evaluate import evaluate

    last = [0.0]

    def progress(msg: str) -> None:
        if time.perf_counter() - last[0] > 2.0:
            log(f"evaluate: {msg}")
            last[0] = time.perf_counter()

    doc = evaluate(args.bundle, args.data, args.variant, batch_size=args.batch,
                   num_threads=args.threads, accelerator=args.accelerator, progress=progress)
    if args.json:
        emit(doc)
    else:
        runs = doc.get("variants") or {doc["variant"]: doc}
        for name, r in runs.items():
            keys = [k for k in ("n", "accuracy", "nme", "recall", "precision", "false_boxes_per_image",
                                "agreement_vs_fp32", "psnr_db") if k in r]
            print(f"{name}: " + "  ".join(f"{k} {r[k]}" for k in keys) + f"  skipped {len(r['skipped'])}")
    return 0


def cmd_inspect(args) -> int:
    from .verify import inspect_bundle

    doc = inspect_bundle(args.bundle)
    if args.json:
        emit(doc)
    else:
        print(f"{doc['name']} {doc['version']} ({doc['task']}), {doc['file_bytes']} bytes")
        print(f"input: {doc['input']}")
        for name, v in doc["variants"].items():
            compat = ",".join(k for k, c in v["compatibility"].items() if c.get("ok")) or "cpu only"
            print(f"  {name:8s} {v['bytes']:>10d} B  target {v['target']}  input {v['input_dtype']}  "
                  f"sparsity {v['sparsity']:.2f}  accelerators {compat}")
    return 0


def cmd_verify(args) -> int:
    from .verify import verify_bundle

    doc = verify_bundle(args.bundle, num_threads=args.threads)
    if args.json:
        emit(doc)
    else:
        for name, v in doc["variants"].items():
            status = "ok" if v.get("ok") else "FAIL"
            detail = v.get("error") or f"max_abs_err {v.get('max_abs_err', float('nan')):.3g}" + (
                f"  top1_agreement {v['top1_agreement']:.3f}" if "top1_agreement" in v else "")
            print(f"  {name:8s} {status:4s}  {detail}")
        print("bundle ok" if doc["ok"] else "bundle FAILED verification")
    if not doc["ok"]:
        first = doc["problems"][0] if doc["problems"] else "a variant does not reproduce its goldens"
        log(f"error: {first}; rebuild the bundle or re-download it")
        return 2
    return 0


# -- entry point -------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    common.add_argument("--debug", action="store_true", help="show tracebacks and native logs")
    common.add_argument("--threads", type=int, default=2, help="interpreter threads (default 2)")

    p = argparse.ArgumentParser(prog="facelite", description="facelite runtime: analyze images, evaluate and check bundles.")
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("analyze", parents=[common], help="faces, landmarks, regions, expression, skin")
    a.add_argument("target", help="image file, folder of images, or video")
    a.add_argument("--annotate", metavar="OUT", help="draw results: a file for an image, a folder for a folder/video")
    a.add_argument("--bundles", metavar="DIR", help="folder of <name>/<name>.flb bundles, the only place looked in: a stage without "
                   "its bundle there uses its stand-in or is skipped (default: the repo's models/, "
                   "the shipped bundles)")
    a.add_argument("--accelerator", default="auto", choices=("auto", "cpu", "gpu", "npu"))
    a.add_argument("--min-score", type=float, default=None,
                   help="drop faces below this detector score (default: the bundle's score_threshold, else 0.5)")
    a.add_argument("--every", type=int, default=10, metavar="N", help="video: analyse every Nth frame (default 10)")
    a.add_argument("--max-frames", type=int, default=0, help="video: stop after this many analysed frames")
    a.set_defaults(fn=cmd_analyze)

    e = sub.add_parser("evaluate", parents=[common], help="accuracy / NME / recall of a bundle on a labelled folder")
    e.add_argument("bundle")
    e.add_argument("--data", required=True, metavar="DIR", help="<label>/*.jpg folders, or 300W .pts folders")
    e.add_argument("--variant", default="fp32", help="fp32, fp16, dynamic, int8 or all (default fp32)")
    e.add_argument("--batch", type=int, default=64)
    e.add_argument("--accelerator", default="cpu", choices=("auto", "cpu", "gpu", "npu"))
    e.set_defaults(fn=cmd_evaluate)

    i = sub.add_parser("inspect", parents=[common], help="manifest, variants, tensors, offsets")
    i.add_argument("bundle")
    i.set_defaults(fn=cmd_inspect)

    v = sub.add_parser("verify", parents=[common], help="checksums and golden replay of every variant")
    v.add_argument("bundle")
    v.set_defaults(fn=cmd_verify)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.debug:
        os.environ["FACELITE_DEBUG"] = "1"
    try:
        return args.fn(args)
    except UserError as exc:
        return _fail(args, f"error: {exc}", 2)
    except KeyboardInterrupt:
        return _fail(args, "error: interrupted", 1)
    except Exception as exc:  # a bug or an environment failure
        return _fail(args, f"error: internal: {type(exc).__name__}: {exc}; rerun with --debug and report it", 1)


def _fail(args, message: str, code: int) -> int:
    if args.debug:
        traceback.print_exc()
    log(message)
    if getattr(args, "json", False):
        emit({"error": message[len("error: "):], "exit_code": code})
    return code


if __name__ == "__main__":
    sys.exit(main())
