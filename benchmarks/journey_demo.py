"""A real-photo skin journey — a demonstration, not a proof: ACNE04 photos of rising severity
stored as one user's captures over 60 days, then the acne forecast and the plot.

The rule, fixed before running: ACNE04 (`$FACELITE_DATA/acne04`) holds side views of
faces, which the capture quality gate rejects as `head_turned` — as it should, a history
takes reliable captures only. For this demonstration alone, a photo is taken when the
analyzer finds exactly one face and `head_turned` is its only failed check; its report is
then stored as reliable, and the waiver is written into the stored quality block
(`"demo_waiver": "head_turned"`). In sorted file order, the first 4 such photos of
level0, then 4 of level1, then 5 of level2, one every 5 days (day 0 to 60): 13
captures. The history is written to OUT/journey.db, the picture to OUT/journey.png.

    python benchmarks/journey_demo.py --out /tmp/journey
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, timedelta
from pathlib import Path

PLAN = (("level0", 4), ("level1", 4), ("level2", 5))
EVERY_DAYS = 5
START = date(2024, 3, 1)
USER = "acne04-demo"


def data_root() -> Path:
    env = os.environ.get("FACELITE_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--horizon", type=int, default=30)
    ap.add_argument("--bundles", type=Path, help="a folder of <name>/<name>.flb bundles (default: the shipped ones)")
    args = ap.parse_args(argv)

    from facelite import FaceAnalyzer, FaceAnalyzerOptions, SkinHistory
    from facelite.cli import write_image
    from facelite.history_plot import render_history

    args.out.mkdir(parents=True, exist_ok=True)
    db = args.out / "journey.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    chosen = []
    with FaceAnalyzer.create_from_options(FaceAnalyzerOptions(bundles_dir=args.bundles)) as analyzer:
        print(f"stages: {analyzer.stages}", file=sys.stderr)
        for level, wanted in PLAN:
            picked = 0
            for photo in sorted((data_root() / "acne04" / level).glob("*.jpg")):
                result = analyzer.analyze(photo)
                if len(result.faces) != 1 or result.faces[0].skin is None:
                    continue
                report = result.faces[0].skin.to_json()
                failed = [c["code"] for c in report["quality"]["checks"] if not c["passed"]]
                if failed != ["head_turned"]:
                    continue
                report["reliable"] = True
                report["quality"] = {**report["quality"], "reliable": True, "demo_waiver": "head_turned"}
                chosen.append((level, photo.name, report))
                picked += 1
                if picked == wanted:
                    break
    with SkinHistory(db) as history:
        for k, (level, name, report) in enumerate(chosen):
            day = START + timedelta(days=EVERY_DAYS * k)
            history.add(USER, report, taken_at=day.isoformat())
        concerns = [c for r, c in history.regions_and_concerns(USER) if r == "face"]
        panels = [(history.series(USER, c), history.forecast(USER, c, horizon_days=args.horizon)) for c in concerns]
    write_image(args.out / "journey.png", render_history(panels))
    rows = [{"day": (START + timedelta(days=EVERY_DAYS * k)).isoformat(), "level": level, "photo": name,
             "face": {c: e["score"] for c, e in report["face"].items()}} for k, (level, name, report) in enumerate(chosen)]
    forecasts = {s.concern: f.to_json() for s, f in panels}
    for f in forecasts.values():
        f.pop("path", None)
    for r in rows:
        print(f"{r['day']}  {r['level']}  {r['photo']:16s} " + "  ".join(f"{c} {v}" for c, v in r["face"].items()))
    for concern, f in forecasts.items():
        print(f"{concern}: {f['message']}")
    print(f"plot: {args.out / 'journey.png'}")
    (args.out / "journey.json").write_text(json.dumps({"captures": rows, "forecasts": forecasts}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
