"""`facelite track`: a user's skin journey from the command line (`facelite.skin_history`).

    facelite track add USER IMAGE [--date D] [--context k=v ...] [--keep-image] [--db PATH]
    facelite track show USER [--forecast 30d] [--region R|all] [--plot OUT.png] [--json]
    facelite track export USER OUT.json [--no-images]
    facelite track import FILE [--as USER]
    facelite track delete USER

`add` analyses the photo (`FaceAnalyzer` with its skin report; the largest face when
there are several, of the `--max-faces` best-scored it keeps) and stores the report when
the capture is reliable; an unreliable one is refused (exit 2) with what to fix. IMAGE may
also be a skin report saved as JSON (a `SkinReport.to_json()` document, or `facelite
analyze --skin --json` output with one face). When the models changed since the user's
previous capture, the kept images (`--keep-image`) are re-scored by the new ones, so the
series stays comparable; without kept images `show` marks the break. `show` prints each
score's latest value, its forecast with an interval and the risk sentence, the
model-version breaks and each context factor's association with score changes
(`facelite.skin_context`). `--plot` writes the phone-sized picture
(`facelite.history_plot`, needs matplotlib).

The history file: `--db PATH`, else `$FACELITE_HISTORY`, else
`$XDG_DATA_HOME/facelite/skin_history.db` (`~/.local/share/...`). Exports are written
with owner-only permissions: they hold personal data.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .cli_core import CommandLine, log
from .errors import HistoryError, UserError
from .files import read_regular_file, write_file_atomic
from .forecast import MAX_HORIZON_DAYS, MIN_HORIZON_DAYS, check_horizon
from .options import DEFAULT_THREADS
from .skin_context import MIN_CAPTURES, MIN_EACH_SIDE, parse_context
from .skin_history import MAX_EXPORT_BYTES, SkinHistory, check_report
from .strict_json import StrictJSONError, dumps, loads

HISTORY_ENV = "FACELITE_HISTORY"
MAX_REPORT_BYTES = 16 << 20


def default_db() -> Path:
    """Where the history lives without `--db`: $FACELITE_HISTORY, else the XDG data folder."""
    if os.environ.get(HISTORY_ENV):
        return Path(os.environ[HISTORY_ENV])
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data) / "facelite" / "skin_history.db"


def parse_horizon(text: str) -> int:
    """`30d`, `30`, or `4w` → days, within the forecast's range."""
    m = re.fullmatch(r"\s*(\d+)\s*([dw]?)\s*", text.lower())
    if not m:
        raise UserError(f"--forecast {text}: write a horizon like 30d or 4w ({MIN_HORIZON_DAYS}-{MAX_HORIZON_DAYS} "
                        "days)")
    days = int(m.group(1)) * (7 if m.group(2) == "w" else 1)
    try:
        return check_horizon(days)
    except ValueError as exc:
        raise UserError(f"--forecast {text}: {exc}") from None


def _open(args) -> SkinHistory:
    return SkinHistory(args.db or default_db())


# -- add -------------------------------------------------------------------------------


def _saved_report(path: Path) -> dict:
    """A skin report saved as JSON: a SkinReport document, or `analyze --skin --json` output with one face."""
    try:
        doc = loads(read_regular_file(path, MAX_REPORT_BYTES, "report", HistoryError), root=str(path))
    except StrictJSONError as exc:
        raise HistoryError(f"{exc}; pass a photo, or a skin report saved as JSON") from None
    if isinstance(doc, dict) and "faces" in doc:
        skins = [f.get("skin") for f in doc["faces"] if isinstance(f, dict) and f.get("skin")]
        if len(skins) != 1:
            raise HistoryError(f"{path}: holds {len(skins)} faces with a skin report; a capture needs exactly one "
                               "(save the report of the user's face alone)")
        return skins[0]
    return doc


def _largest_face_report(result, where: str):
    if not result.faces:
        raise HistoryError(f"{where}: no face found; use a photo of the user's face, front on and well lit")
    face = max(result.faces, key=lambda f: f.box.w * f.box.h)
    if len(result.faces) > 1:
        log(f"warning: {where}: {len(result.faces)} faces; storing the largest one")
    if face.skin is None:
        raise HistoryError(f"{where}: no skin report (the skin_metrics bundle did not run: "
                           f"{result.stages.get('skin_metrics')}); reinstall facelite or pass --bundles")
    return face.skin


def cmd_add(args, out) -> int:
    from .image import MAX_FILE_BYTES, load_image

    target = Path(args.image)
    context = parse_context(args.context)
    with _open(args) as history:
        previous = history.latest_models(args.user)
        if target.suffix.lower() == ".json":
            if args.keep_image:
                raise UserError("--keep-image needs a photo, not a saved report")
            report, analyzer, image = _saved_report(target), None, None
        else:
            from .cli import _analyzer

            image = read_regular_file(target, MAX_FILE_BYTES, "image", UserError)
            analyzer = _analyzer(args, skin=True)
            report = _largest_face_report(analyzer.analyze(load_image(image)), str(target))
        try:
            check_report(report, str(target))  # names the photo when the capture is refused
            stored = history.add(args.user, report, taken_at=args.date, context=context, image=image,
                                 keep_image=args.keep_image)
            rescored = 0
            if previous is not None and previous != stored.models and analyzer is not None:
                rescored = history.rescore(args.user, lambda data: _largest_face_report(
                    analyzer.analyze(load_image(data)), "kept image"))
                log(f"models changed since the last capture; re-scored {rescored} kept image(s)")
            elif previous is not None and previous != stored.models:
                log("models changed since the last capture: the series starts again here (see `track show`)")
        finally:
            if analyzer is not None:
                analyzer.close()
        doc = report.to_json() if hasattr(report, "to_json") else report
        face = {c: e["score"] for c, e in doc["face"].items()}
        result = {"user": args.user, "uid": stored.uid, "taken_at": stored.taken_at, "models": stored.models,
                  "image_kept": stored.image_kept, "models_changed": previous is not None and previous != stored.models,
                  "rescored": rescored, "face": face, "context": context, "db": str(history.path)}
    text = f"{args.user}: capture of {stored.taken_at} stored; " + "  ".join(f"{c} {s:.0f}" for c, s in face.items())
    out.result(result, text)
    return 0


# -- show ------------------------------------------------------------------------------


def _score_entry(history: SkinHistory, user: str, region: str, concern: str, horizon: int) -> tuple[dict, tuple]:
    series = history.series(user, concern, region)
    forecast = history.forecast(user, concern, region, horizon)
    last = series.current.points[-1] if series.current else None
    entry = {"region": region, "concern": concern, "n": sum(len(s.points) for s in series.segments),
             "latest": last.to_json() if last else None, "segments": [s.to_json() for s in series.segments],
             "breaks": series.breaks, "forecast": forecast.to_json()}
    return entry, (series, forecast)


def cmd_show(args, out) -> int:
    horizon = parse_horizon(args.forecast)
    with _open(args) as history:
        n = history.n_captures(args.user)
        pairs = history.regions_and_concerns(args.user)
        regions = sorted({r for r, _ in pairs})
        if args.region not in ("all", *regions):
            raise UserError(f"--region {args.region}: the user has no scores there (regions: {', '.join(regions)}, "
                            "or all)")
        chosen = [(r, c) for r, c in pairs if args.region in ("all", r)]
        entries, panels = [], []
        for region, concern in chosen:
            entry, panel = _score_entry(history, args.user, region, concern, horizon)
            entries.append(entry)
            panels.append(panel)
        associations = [a.to_json() for region, concern in chosen if region == "face"
                        for a in history.associations(args.user, concern)]
        doc = {"user": args.user, "db": str(history.path), "captures": n, "horizon_days": horizon,
               "scores": entries, "associations": associations}
    if args.plot:
        from .cli import write_image
        from .history_plot import render_history

        plot = Path(args.plot)
        if plot.suffix.lower() != ".png":
            raise UserError(f"--plot {plot}: name a .png file")
        write_image(plot, render_history(panels))
        doc["plot"] = str(plot)
    out.result(doc, _show_text(doc))
    return 0


def _show_text(doc: dict) -> str:
    lines = [f"{doc['user']}: {doc['captures']} capture(s) in {doc['db']}"]
    for e in doc["scores"]:
        label = e["concern"] if e["region"] == "face" else f"{e['region']} {e['concern']}"
        latest = e["latest"]
        lines.append(f"{label}: latest {latest['score']:.0f} ({latest['band']}) on {latest['taken_at'][:10]}, "
                     f"{e['n']} capture(s)")
        for b in e["breaks"]:
            lines.append(f"  model versions changed on {b['at'][:10]}: earlier scores are shown apart, not joined")
        lines.append(f"  {e['forecast']['message']}")
    factual = [a for a in doc["associations"] if a["enough_data"]]
    if doc["associations"]:
        lines.append("context (associations, not causes):")
        lines += [f"  {a['sentence']}" for a in factual] or [
            f"  not enough data yet for any factor (each needs {MIN_CAPTURES} captures with it recorded, "
            f"{MIN_EACH_SIDE} on each side of its mean)"]
    if doc.get("plot"):
        lines.append(f"plot: {doc['plot']}")
    return "\n".join(lines)


# -- export / import / delete -------------------------------------------------------------


def cmd_export(args, out) -> int:
    with _open(args) as history:
        doc = history.export_user(args.user, include_images=not args.no_images)
    data = dumps(doc, indent=1).encode("utf-8")
    if len(data) > MAX_EXPORT_BYTES:
        raise UserError(f"{args.out}: the export would be {len(data)} bytes, over the import limit; use --no-images")
    write_file_atomic(args.out, data, mode=0o600)
    out.result({"user": args.user, "out": args.out, "captures": len(doc["captures"]), "bytes": len(data)},
               f"{args.user}: {len(doc['captures'])} capture(s) exported to {args.out}")
    return 0


def cmd_import(args, out) -> int:
    with _open(args) as history:
        r = history.import_file(args.file, as_user=args.as_user)
    out.result({**r, "file": args.file}, f"{r['user']}: {r['added']} capture(s) added, {r['skipped']} already there")
    return 0


def cmd_delete(args, out) -> int:
    with _open(args) as history:
        r = history.delete_user(args.user)
    if not r["wal_truncated"]:
        log("warning: another process holds the history open; its log is emptied when that process closes it")
    out.result(r, f"{args.user}: deleted ({r['captures']} capture(s)); the file was rewritten without them")
    return 0


def add_track_command(cli: CommandLine) -> None:
    """Register `track` and its actions on the `facelite` command line."""
    from .cli import analyzer_arguments, trust_arguments
    from .cli_core import whole_number

    t = cli.command("track", None, "a user's skin history: add captures, show forecasts, export, import, delete")
    action = cli.subcommands(t, "track_action")

    def db(p):
        p.add_argument("--db", metavar="PATH", help=f"the history file (default: ${HISTORY_ENV}, else "
                                                    "$XDG_DATA_HOME/facelite/skin_history.db)")

    a = action("add", cmd_add, "analyse a photo and store its skin report as the user's capture")
    a.add_argument("user")
    a.add_argument("image", help="the photo (or a skin report saved as .json)")
    a.add_argument("--date", metavar="D", help="when it was taken: YYYY-MM-DD or an ISO time (default: now)")
    a.add_argument("--context", action="append", default=[], metavar="K=V",
                   help="that day's context, repeatable: products=a,b sleep_hours=7 uv_index=5 stress=1-5 "
                        "cycle_day=N tags=a,b")
    a.add_argument("--keep-image", action="store_true",
                   help="also store the photo, so newer models can re-score it (default: no pixels are stored)")
    a.add_argument("--restore", action="store_true", help="restore low-resolution or noisy face crops first")
    a.add_argument("--threads", type=whole_number(1), default=DEFAULT_THREADS,
                   help=f"interpreter threads (default {DEFAULT_THREADS}: options.DEFAULT_THREADS says why)")
    analyzer_arguments(a)
    trust_arguments(a)
    db(a)

    s = action("show", cmd_show, "the user's scores, forecasts with intervals and risk, and context associations")
    s.add_argument("user")
    s.add_argument("--forecast", default="30d", metavar="HORIZON",
                   help=f"forecast horizon, e.g. 30d or 4w ({MIN_HORIZON_DAYS}-{MAX_HORIZON_DAYS} days; default 30d)")
    s.add_argument("--region", default="face", help="face (default), a region name, or all")
    s.add_argument("--plot", metavar="OUT.png", help="write the history and forecasts as a phone-sized picture")
    db(s)

    e = action("export", cmd_export, "write everything stored for the user as one JSON file")
    e.add_argument("user")
    e.add_argument("out", metavar="OUT.json")
    e.add_argument("--no-images", action="store_true", help="leave kept photos out of the export")
    db(e)

    i = action("import", cmd_import, "add an exported JSON file to the history (what is there already is skipped)")
    i.add_argument("file")
    i.add_argument("--as", dest="as_user", metavar="USER", help="store it under this user id instead of the file's")
    db(i)

    d = action("delete", cmd_delete, "remove every trace of the user from the history file")
    d.add_argument("user")
    db(d)
