"""`facelite` command line: analyze, skin-report, evaluate, inspect, verify.

Only the commands and their printing live here; the exit codes, `--json`, `--debug` and
`--verbose` rules are `facelite.cli_core`'s (shared with `facelite-build` and
`facelite-bench`), and the work is the API's (`FaceAnalyzer`, `facelite.evaluate`,
`facelite.verify`).

`analyze` takes an image, a folder (every image in it and its sub-folders; a file that
fails is reported in its entry as `"error"` and the run carries on; exit 0 when at
least one image succeeded, 2 when every image failed) or a video (by extension). A video
runs in VIDEO mode (`docs/video.md`): faces are tracked from frame to frame and carry a
`track_id`; each frame is stamped with its timestamp from the file; `--every N` analyses
every Nth frame only (default 1: tracking follows a face best on consecutive frames).
`--camera SOURCE` (a camera index, a stream URL, or a video file played at its own frame
rate) runs LIVE_STREAM mode: the newest frame is analysed and the frames the pipeline
has no time for are dropped and counted (`dropped` at the end); it stops at the end of
the source, at `--max-frames` frames read, or on Ctrl-C (exit 130, after the summary).
Video and camera print a line per analysed frame as it comes (`--jsonl`: that line is
the frame's JSON, and the last line the summary's), or, with `--json`, one document at
the end with every frame. `--annotate OUT.mp4` (or .avi, .mkv) writes the annotated
video; `--annotate FOLDER` one picture per frame. No face is not an error: `faces: []`, exit 0.
`--max-faces N` keeps at most N faces per image or frame, highest detector score first
(default `options.DEFAULT_MAX_FACES`), and `--min-score S` the faces scoring at least S
(default: the detector bundle's threshold); `facelite-run --analyze` takes both. `--skin`
adds each face's skin report (`facelite.skin.SkinReport`: 0–100 scores per region and
concern, tone, the capture verdict; `"skin": null` without it) and prints it; with
`--annotate` the regions are then drawn tinted and numbered by score. `skin-report IMAGE
--out report.png` renders the report as one readable page per photo. The
detector and landmarks bundles must be there (shipped, or in `--bundles DIR`):
`--stand-ins` lets OpenCV's Haar cascade and the mean face shape run in their place.
A target that is neither a regular file nor a folder (a FIFO, `/dev/zero`, a socket), an
image or video over the limits of `facelite.image` / `facelite.sources`, an unaccepted
image format and a video OpenCV cannot open are exit 2, before any bundle is loaded.

Examples:

    facelite analyze photo.jpg --json
    facelite analyze photo.jpg --skin --annotate out.jpg
    facelite skin-report photo.jpg --out report.png
    facelite analyze photos/ --annotate out/ --accelerator cpu
    facelite analyze clip.mp4 --json
    facelite analyze clip.mp4 --annotate tracked.mp4 --jsonl
    facelite analyze --camera 0 --max-frames 300 --annotate live.mp4
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
import threading
import time
import warnings
from pathlib import Path

from .cli_core import EXIT_INTERRUPTED, CommandLine, Progress, log, whole_number
from .errors import UserError
from .files import write_file_atomic
from .options import DEFAULT_MAX_FACES, DEFAULT_THREADS, Accelerator, StandIn
from .signing import SignaturePolicy, SignatureWarning
from .sources import Camera, VideoFile, image_paths, is_video
from .strict_json import dumps

# -- analyze ------------------------------------------------------------------------


def _analyzer(args, skin: bool | None = None, **mode):
    """The FaceAnalyzer the flags ask for; `mode`: `running_mode` (and `result_callback`)."""
    from .analyzer import FaceAnalyzer, FaceAnalyzerOptions
    from .options import BaseOptions

    return FaceAnalyzer.create_from_options(FaceAnalyzerOptions(
        base_options=BaseOptions(accelerator=args.accelerator, num_threads=args.threads, variant=args.variant,
                                 **_trust_options(args)),
        bundles_dir=args.bundles, stand_in=args.stand_ins, min_face_score=args.min_score, max_faces=args.max_faces,
        skin=args.skin if skin is None else skin, restore=args.restore, expression_bundle=args.expression_model,
        **mode))


def _annotate(image, result, out: Path) -> None:
    from .annotate import draw_result
    from .image import load_image

    write_image(out, draw_result(load_image(image), result))


def _summary(name: str, doc: dict) -> str:
    if "error" in doc:
        return f"{name}: error: {doc['error']}"
    lines = [f"{name}: {len(doc['faces'])} face(s) [{doc['detector']}]"]
    for i, f in enumerate(doc["faces"]):
        b = f["box"]
        who = f"face {i}" if f.get("track_id") is None else f"track {f['track_id']}"
        bits = [f"  {who}: box {b['x']:.0f},{b['y']:.0f} {b['w']:.0f}x{b['h']:.0f} score {b['score']:.2f}"]
        if f["expression"]:
            bits.append(f"expression {f['expression']['top'][0]} {f['expression']['top'][1]:.2f}")
        lines.append("  ".join(bits))
        if f["skin"]:
            lines += ["    " + line for line in skin_lines(f["skin"])]
    return "\n".join(lines)


def skin_lines(skin: dict) -> list[str]:
    """A SkinReport's JSON as text: verdict and tone, then a table of scores and bands,
    a row for the face and one per region, a column per concern."""
    from .skin_scores import CONCERNS

    tone = skin["tone"]
    head = "skin: reliable" if skin["reliable"] else "skin: NOT reliable: " + " ".join(
        c["message"] for c in skin["quality"]["checks"] if not c["passed"])
    if skin.get("restored"):
        head += " (restored)"
    tone_line = f"tone: {tone['category']} (ITA {tone['ita_deg']:.0f} deg)" if tone else "tone: not measured"

    def row(label: str, scores: dict) -> str:
        cells = [f"{scores[c]['score']:>3d} {scores[c]['band']:<10s}" if c in scores else f"{'-':>3s} {'':10s}"
                 for c in CONCERNS]
        return (f"{label:16s}" + "".join(cells)).rstrip()

    header = f"{'':16s}" + "".join(f"{c:<14s}" for c in CONCERNS)
    return [head, tone_line, header.rstrip(), row("face", skin["face"]),
            *(row(r, s) for r, s in skin["regions"].items())]


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
    annotate = Path(args.annotate) if args.annotate else None
    if (args.camera is None) == (args.target is None):
        raise UserError("analyze: give an image, folder or video to analyse, or --camera SOURCE, "
                        "one of the two")
    if args.jsonl and out.json:
        raise UserError("--jsonl and --json: choose one (--jsonl: a JSON line per frame as it comes; "
                        "--json: one document at the end)")
    if args.camera is not None:
        return _analyze_camera(args, annotate, out)
    target = Path(args.target)
    if is_video(target):
        return _analyze_video(args, target, annotate, out)
    if args.jsonl:
        raise UserError(f"--jsonl: for a video or --camera (a line per frame); use --json for {target}")
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


def _analyze_video(args, target: Path, annotate: Path | None, out) -> int:
    """VIDEO mode over a video file's frames (every `--every`th), stamped with the file's timestamps."""
    every = args.every or 1
    with VideoFile(target) as video, _analyzer(args, running_mode="video") as analyzer, \
            _FrameOutput(args, out, annotate, video.fps / every if video.fps else 0.0) as frames:
        engines = _engines(analyzer, args)
        for frame in video.frames(every, args.max_frames):
            frames.add(frame.index, frame.image, frame.timestamp_ms,
                       analyzer.analyze_video_frame(frame.image, frame.timestamp_ms))
    doc = {"video": str(video.path), "running_mode": "video", "fps": video.fps, "every": every,
           "n_frames": frames.count, "stages": analyzer.stages, "engines": engines, **frames.summary()}
    out.result(doc, dumps(doc) if args.jsonl else
               f"{video.path}: {frames.count} frame(s) analysed; {_tracks_text(frames.tracks)}")
    return 0


def _analyze_camera(args, annotate: Path | None, out) -> int:
    """LIVE_STREAM mode on a camera, stream or file (`sources.Camera`): the newest frame is
    analysed, the ones the pipeline has no time for are dropped; Ctrl-C ends the run with
    the summary and exit 130."""
    if args.every is not None:
        raise UserError("--every samples a video file; --camera analyses the newest frame and drops the ones "
                        "it has no time for (counted in `dropped`)")
    with Camera(args.camera) as camera, _FrameOutput(args, out, annotate, camera.fps) as frames:
        index_of = _FrameIndices()
        analyzer = _analyzer(args, running_mode="live_stream", result_callback=lambda result, image, ms: frames.add(
            index_of.pop(ms), image, ms, result))
        read, interrupted = 0, False
        with analyzer:
            engines = _engines(analyzer, args)
            try:
                for frame in camera.frames(args.max_frames):
                    index_of.add(frame.timestamp_ms, frame.index)
                    analyzer.analyze_async(frame.image, frame.timestamp_ms)
                    read += 1
            except KeyboardInterrupt:
                interrupted = True
            dropped = analyzer.dropped_frames   # closing analyses the pending frame: no more drops
    doc = {"camera": args.camera, "running_mode": "live_stream", "fps": camera.fps, "n_read": read,
           "n_frames": frames.count, "dropped": dropped, "interrupted": interrupted, "stages": analyzer.stages,
           "engines": engines, **frames.summary()}
    text = (f"{camera.name}: {read} frame(s) read, {frames.count} analysed, {dropped} dropped"
            f"{' (interrupted)' if interrupted else ''}; {_tracks_text(frames.tracks)}")
    out.result(doc, dumps(doc) if args.jsonl else text)
    if interrupted:
        log(f"error: interrupted after {read} frame(s) read, {dropped} dropped")
        return EXIT_INTERRUPTED
    return 0


class _FrameIndices:
    """Source frame index by timestamp, for the LIVE_STREAM callback (which gets the
    timestamp): entries up to a delivered timestamp are dropped frames, removed with it,
    so at most the frames in flight are held."""

    def __init__(self):
        self._lock = threading.Lock()
        self._index: dict[int, int] = {}

    def add(self, timestamp_ms: int, index: int) -> None:
        with self._lock:
            self._index[timestamp_ms] = index

    def pop(self, timestamp_ms: int) -> int:
        with self._lock:
            while True:
                ms, index = next(iter(self._index.items()))
                del self._index[ms]
                if ms == timestamp_ms:
                    return index


class _FrameOutput:
    """Where each analysed frame goes: a text or `--jsonl` line on stdout at once, the
    `--json` document's `frames` (kept only with `--json`), the annotated video or
    folder, and the tracks seen (id → first and last frame, frames seen)."""

    def __init__(self, args, out, annotate: Path | None, fps: float):
        self.out, self.jsonl, self.count = out, args.jsonl, 0
        self.entries: list[dict] = []
        self.tracks: dict[int, dict] = {}
        self._folder = annotate if annotate is not None and not is_video(annotate) else None
        self._video_path = annotate if annotate is not None and is_video(annotate) else None
        self._fps = fps
        self._stack = contextlib.ExitStack()
        self._video = None

    def __enter__(self) -> "_FrameOutput":
        if self._video_path is not None:
            from .annotate import annotated_video

            self._video = self._stack.enter_context(annotated_video(self._video_path, self._fps))
        return self

    def __exit__(self, *exc) -> bool | None:
        return self._stack.__exit__(*exc)

    def add(self, index: int, image, timestamp_ms: int, result) -> None:
        entry = {"frame": index, "timestamp_ms": timestamp_ms, **result.to_json()}
        self.count += 1
        for face in result.faces:
            if face.track_id is not None:
                track = self.tracks.setdefault(face.track_id, {"first_frame": index, "n_frames": 0})
                track["last_frame"] = index
                track["n_frames"] += 1
        if self.out.json:
            self.entries.append(entry)
        self.out.line(dumps(entry) if self.jsonl else _summary(f"frame {index} ({timestamp_ms} ms)", entry))
        if self._video is not None:
            self._video.write(image, result)
        elif self._folder is not None:
            _annotate(image, result, self._folder / f"frame_{index:06d}.jpg")

    def summary(self) -> dict:
        """The summary document's `tracks` (and `frames`, with `--json`)."""
        tracks = [{"track_id": k, **v} for k, v in sorted(self.tracks.items())]
        return {"tracks": tracks, **({"frames": self.entries} if self.out.json else {})}


def _tracks_text(tracks: dict[int, dict]) -> str:
    if not tracks:
        return "no face tracked"
    return "tracks " + ", ".join(f"{k} (frames {v['first_frame']}-{v['last_frame']}, {v['n_frames']} seen)"
                                 for k, v in sorted(tracks.items()))


def cmd_skin_report(args, out) -> int:
    with _signature_warnings_logged():
        return _skin_report(args, out)


def _skin_report(args, out) -> int:
    from .annotate import skin_report_page
    from .image import load_image

    target = Path(args.target)
    if target.is_dir() or is_video(target):
        raise UserError(f"{target}: skin-report takes one image file; use `facelite analyze --skin` for folders "
                        "and videos")
    report_to = Path(args.out)
    if report_to.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise UserError(f"--out {report_to}: name a .png or .jpg file for the report page")
    pixels = load_image(target)
    with _analyzer(args, skin=True) as analyzer:
        if analyzer.skin is None:
            raise UserError(f"no skin_metrics bundle ({analyzer.stages['skin_metrics']}); the skin report needs one: "
                            "reinstall facelite or pass --bundles with a skin_metrics bundle")
        result = analyzer.analyze(pixels)
    page = skin_report_page(pixels, [(f.landmarks, f.skin) for f in result.faces], target.name)
    write_image(report_to, page)
    doc = {"image": str(target), "out": str(report_to), "stages": result.stages,
           "faces": [f.skin.to_json() if f.skin else None for f in result.faces]}
    text = [f"{target}: {len(result.faces)} face(s); report page {report_to}"]
    for i, f in enumerate(doc["faces"]):
        text += ([f"  face {i}:"] + ["    " + line for line in skin_lines(f)]) if f else [f"  face {i}: no skin report"]
    out.result(doc, "\n".join(text))
    return 0


def write_image(path: Path, image) -> None:
    """Encode and write a picture atomically (a temp file beside it, renamed), so a failed
    or interrupted write never leaves a half-written file under the final name."""
    import cv2

    try:
        ok, data = cv2.imencode(path.suffix.lower() or ".jpg", image)
    except cv2.error:
        ok = False
    if not ok:
        raise UserError(f"{path}: cannot encode a picture of this type; use a .jpg or .png path")
    write_file_atomic(path, data.tobytes())


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
                   classes=args.classes, policy=SignaturePolicy(**_trust_options(args)), labels_file=args.labels,
                   files=args.files)
    lines = []
    truth = doc.get("ground_truth")
    if truth:
        left_out = {**truth["excluded"], **truth["excluded"]["not_in_bundle"]}
        left_out = ", ".join(f"{k} {v}" for k, v in left_out.items() if k != "not_in_bundle")
        lines.append(f"truth: FER+ majority labels from {truth['file']}: {truth['scored']} of {truth['rows']} rows "
                     f"scored; left out: {left_out}" + (f"; {truth['note']}" if "note" in truth else ""))
    if "files" in doc:
        f = doc["files"]
        lines.append(f"files: {f['evaluated']} of the {f['listed']} listed in {f['list']} evaluated "
                     f"({f['not_samples']} not samples)")
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
        p.add_argument("--threads", type=whole_number(1), default=DEFAULT_THREADS,
                   help=f"interpreter threads (default {DEFAULT_THREADS}: options.DEFAULT_THREADS says why)")

    a = cli.command("analyze", cmd_analyze, "faces, landmarks, regions, expression, skin")
    a.add_argument("target", nargs="?", help="image file, folder of images (searched with its sub-folders), "
                   "or video (VIDEO mode: faces tracked, with track ids)")
    a.add_argument("--camera", metavar="SOURCE", help="LIVE_STREAM mode on a camera index (0 is the first camera), "
                   "a stream URL, or a video file played at its frame rate; frames the pipeline has no time for "
                   "are dropped and counted; stops at the end, at --max-frames, or on Ctrl-C (exit 130)")
    a.add_argument("--annotate", metavar="OUT", help="draw results: a file for an image, a folder for a folder; "
                   "a video file (.mp4, .avi, .mkv) or a folder of pictures for a video or --camera "
                   "(with --skin: regions tinted and numbered by score)")
    a.add_argument("--jsonl", action="store_true", help="video and --camera: print each frame's JSON on one line as "
                   "it is analysed, then the summary's (--json prints one document at the end)")
    analyzer_arguments(a)
    a.add_argument("--skin", action="store_true",
                   help="measure skin: each face's report (scores per region and concern, tone, photo verdict)")
    a.add_argument("--restore", action="store_true",
                   help="with --skin: restore low-resolution or noisy face crops first (needs a restoration bundle)")
    a.add_argument("--every", type=whole_number(1), default=None, metavar="N",
                   help="video: analyse every Nth frame (default 1; tracking follows faces best frame by frame)")
    a.add_argument("--max-frames", type=whole_number(0), default=0,
                   help="video: stop after this many analysed frames; --camera: after this many frames read")
    threads(a)
    trust_arguments(a)

    r = cli.command("skin-report", cmd_skin_report, "one-page skin report of a photo: scores per region, tone, verdict")
    r.add_argument("target", help="image file")
    r.add_argument("--out", required=True, metavar="PAGE", help="the report page to write (.png or .jpg)")
    analyzer_arguments(r)
    r.add_argument("--restore", action="store_true",
                   help="restore low-resolution or noisy face crops before measuring (needs a restoration bundle)")
    threads(r)
    trust_arguments(r)

    e = cli.command("evaluate", cmd_evaluate, "accuracy / NME / recall of a bundle on a labelled folder")
    e.add_argument("bundle")
    e.add_argument("--data", required=True, metavar="DIR", help="<label>/*.jpg folders, or 300W .pts folders")
    e.add_argument("--variant", default="fp32", help="fp32, fp16, dynamic, int8 or all (default fp32)")
    e.add_argument("--batch", type=whole_number(1), default=64)
    e.add_argument("--classes", type=lambda v: [c.strip() for c in v.split(",") if c.strip()], metavar="A,B,...",
                   help="classification: restrict the arg-max to these labels (a folder holding a subset of them)")
    e.add_argument("--labels", type=Path, metavar="FILE",
                   help="classification: score against FER+ majority labels from this vote file "
                        "(ferplus_votes.csv) instead of the folder names")
    e.add_argument("--files", type=Path, metavar="LIST",
                   help="evaluate only the files listed (one path per line, relative to --data), e.g. the "
                        "deduplicated val.txt of facelite-build splits")
    e.add_argument("--accelerator", default="cpu", choices=accelerators)
    trust_arguments(e)
    threads(e)

    add_bundle_commands(cli)

    from .track_cli import add_track_command  # its module imports this one's analyzer flags

    add_track_command(cli)
    return cli


def analyzer_arguments(p: argparse.ArgumentParser) -> None:
    """The FaceAnalyzer flags `analyze`, `skin-report` and `track add` share: bundles, stand-ins,
    where it runs, which faces are kept (`facelite-run --analyze` takes the same `--min-score`
    and `--max-faces`)."""
    p.add_argument("--bundles", metavar="DIR", help="folder of <name>/<name>.flb bundles, the only place looked in "
                   "(default: the bundles shipped with facelite)")
    p.add_argument("--stand-ins", action="store_const", const=StandIn.IF_MISSING, default=StandIn.NEVER,
                   help="run OpenCV's Haar cascade / the mean face shape where the detector / landmarks bundle "
                        "is missing (default: a missing bundle is an error)")
    p.add_argument("--accelerator", default="auto", choices=[a.value for a in Accelerator])
    p.add_argument("--variant", default="auto", help="auto, or a variant every bundle has (fp32, fp16, dynamic, int8)")
    p.add_argument("--min-score", type=detector_score, default=None, metavar="S",
                   help="drop faces below this detector score, 0 to 1 (default: the bundle's threshold for the "
                        "variant it runs, else its score_threshold, else 0.5)")
    p.add_argument("--max-faces", type=whole_number(1), default=DEFAULT_MAX_FACES, metavar="N",
                   help=f"analyse at most this many faces per image, highest detector score first "
                        f"(default {DEFAULT_MAX_FACES})")
    p.add_argument("--expression-model", default="expression", metavar="NAME",
                   help="expression bundle: expression (FER2013, 7 labels; default) or expression_ferplus "
                        "(FER+, 8 labels with contempt)")


def detector_score(text: str) -> float:
    """An argparse `type` for `--min-score`: a detector score from 0 to 1 (NaN refused, as the
    C runner refuses it: it would silently drop every face)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a detector score from 0 to 1, got {text}")
    return value


def add_bundle_commands(cli: CommandLine) -> None:
    """`inspect BUNDLE` and `verify BUNDLE`, the same in `facelite` and `facelite-build`; both
    load the variants into LiteRT, so both take the signature-policy flags and apply them first."""
    i = cli.command("inspect", cmd_inspect, "manifest, signature, variants, tensors, offsets")
    i.add_argument("bundle")
    trust_arguments(i)
    v = cli.command("verify", cmd_verify, "schema, checksums and golden replay of every variant")
    v.add_argument("bundle")
    v.add_argument("--threads", type=whole_number(1), default=DEFAULT_THREADS,
                   help=f"interpreter threads (default {DEFAULT_THREADS}: options.DEFAULT_THREADS says why)")
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
