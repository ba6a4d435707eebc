"""Durability of `facelite.SkinHistory`: writers killed with SIGKILL at random moments, and two at once.

1. Kills: a child process adds captures (a full report: the face and 7 regions × 6
   concerns, 48 score rows each) one after the other and prints `ack <uid>` once `add`
   has returned; the parent kills it with SIGKILL at a random moment (now and then while
   it is still starting or opening the file, mostly in the middle of its writes), reopens
   the file after each kill and checks: `PRAGMA integrity_check` is ok, every
   acknowledged capture is there, and every capture there is whole (all its 48 scores:
   no half-written capture). Repeats until `--captures` (1,000) were acknowledged.
2. Two writers: two processes add `--captures / 2` captures each at the same time (two
   users, same file); both finish without an error and every capture is there.

    python benchmarks/history_durability.py                 # 1,000 captures
    python benchmarks/history_durability.py --captures 200 --json out.json
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CONCERNS = ("acne", "redness", "pigmentation", "evenness", "texture", "shine")
REGIONS = ("forehead", "nose", "left_cheek", "right_cheek", "left_under_eye", "right_under_eye", "chin")
SCORES_PER_CAPTURE = (len(REGIONS) + 1) * len(CONCERNS)


def report(k: int) -> dict:
    def block(shift: int) -> dict:
        return {c: {"score": (k * 7 + shift + i) % 101, "band": "fair", "raw": round(0.01 * k, 3)}
                for i, c in enumerate(CONCERNS)}

    return {"reliable": True, "quality": {"reliable": True, "checks": []},
            "tone": {"ita_deg": 30.0, "category": "intermediate"}, "face": block(0),
            "regions": {r: block(j) for j, r in enumerate(REGIONS)}, "lighting": {},
            "models": {"acne": "2.0.0", "skin_metrics": "2.0.0"}}


def writer(db: str, user: str, start: int, count: int) -> None:
    """The child: add captures start.., printing `ack <uid>` after each."""
    from facelite.skin_history import SkinHistory

    with SkinHistory(db) as history:
        print("ready", flush=True)
        for k in range(start, start + count):
            day = 1 + k % 28
            stored = history.add(user, report(k), taken_at=f"2024-{1 + (k // 28) % 12:02d}-{day:02d}T{k % 24:02d}:00:00",
                                 context={"stress": 1 + k % 5})
            print(f"ack {stored.uid}", flush=True)


def _spawn(db: Path, user: str, start: int, count: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--writer", str(db), user, str(start), str(count)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)


def check(db: Path) -> dict:
    """integrity_check, captures present and whether each is whole (read with plain sqlite3)."""
    con = sqlite3.connect(db)
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        uids = {r[0] for r in con.execute("SELECT uid FROM captures")}
        partial = con.execute(
            "SELECT count(*) FROM (SELECT c.id, count(s.concern) AS n FROM captures c LEFT JOIN scores s "
            "ON s.capture_id=c.id GROUP BY c.id) WHERE n != ?", (SCORES_PER_CAPTURE,)).fetchone()[0]
    finally:
        con.close()
    return {"integrity": integrity, "uids": uids, "partial": partial}


def kill_test(db: Path, target: int, rng: random.Random) -> dict:
    acked: set[str] = set()
    rounds, early_kills, committed_unacked, problems = 0, 0, 0, []
    while len(acked) < target:
        proc = _spawn(db, "killed", len(acked) + committed_unacked, target * 2)
        lines: list[str] = []
        ready = threading.Event()

        def read(p=proc, out=lines, flag=ready):
            for line in p.stdout:
                out.append(line.strip())
                if line.startswith("ready"):
                    flag.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        if rng.random() < 0.1:  # while it starts, imports or opens (and maybe migrates) the file
            time.sleep(rng.uniform(0.0, 1.0))
            early_kills += not ready.is_set()
        else:
            ready.wait(60)
            time.sleep(rng.uniform(0.0, 0.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reader.join(10)
        proc.stdout.close()
        proc.stderr.close()
        round_acks = {line.split()[1] for line in lines if line.startswith("ack ")}
        acked |= round_acks
        state = check(db)
        rounds += 1
        missing = acked - state["uids"]
        committed_unacked = len(state["uids"]) - len(acked)
        if state["integrity"] != "ok" or missing or state["partial"]:
            problems.append({"round": rounds, "integrity": state["integrity"], "missing": len(missing),
                             "partial": state["partial"]})
    from facelite.skin_history import SkinHistory

    with SkinHistory(db) as history:  # the API opens it too, and sees every capture
        n_api = history.n_captures("killed")
    final = check(db)
    return {"kills": rounds, "kills_before_ready": early_kills, "acknowledged": len(acked),
            "present": len(final["uids"]), "committed_but_unacknowledged": len(final["uids"]) - len(acked),
            "missing_acknowledged": len(acked - final["uids"]), "partial_captures": final["partial"],
            "integrity": final["integrity"], "opened_by_api": n_api, "problems": problems}


def concurrent_test(db: Path, per_writer: int) -> dict:
    t0 = time.perf_counter()
    procs = [_spawn(db, user, 0, per_writer) for user in ("first", "second")]
    outs = [p.communicate(timeout=600) for p in procs]
    seconds = time.perf_counter() - t0
    con = sqlite3.connect(db)
    counts = dict(con.execute("SELECT u.name, count(*) FROM captures c JOIN users u ON u.id=c.user_id GROUP BY u.name"))
    con.close()
    state = check(db)
    return {"writers": 2, "per_writer": per_writer, "exit_codes": [p.returncode for p in procs],
            "acks": [o[0].count("ack ") for o in outs], "stored": counts, "partial_captures": state["partial"],
            "integrity": state["integrity"], "seconds": round(seconds, 1),
            "errors": [o[1].strip()[-300:] for o in outs if o[1].strip()]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captures", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--json", metavar="OUT")
    ap.add_argument("--writer", nargs=4, metavar=("DB", "USER", "START", "COUNT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.writer:
        db, user, start, count = args.writer
        writer(db, user, int(start), int(count))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        kills = kill_test(Path(tmp) / "killed.db", args.captures, random.Random(args.seed))
        kills["seconds"] = round(time.perf_counter() - t0, 1)
        both = concurrent_test(Path(tmp) / "concurrent.db", args.captures // 2)
    print(f"kills: {kills['kills']} SIGKILLs ({kills['kills_before_ready']} before the file was open), "
          f"{kills['acknowledged']} captures acknowledged, {kills['present']} present "
          f"({kills['committed_but_unacknowledged']} committed but killed before the ack), "
          f"{kills['missing_acknowledged']} acknowledged missing, {kills['partial_captures']} partial, "
          f"integrity {kills['integrity']} after every kill: {not kills['problems']} ({kills['seconds']} s)")
    print(f"two writers: exit codes {both['exit_codes']}, acks {both['acks']}, stored {both['stored']}, "
          f"{both['partial_captures']} partial, integrity {both['integrity']} ({both['seconds']} s)")
    if args.json:
        Path(args.json).write_text(json.dumps({"kills": kills, "two_writers": both}, indent=2))
    ok = (not kills["problems"] and kills["missing_acknowledged"] == 0 and both["exit_codes"] == [0, 0]
          and sum(both["stored"].values()) == 2 * (args.captures // 2) and both["integrity"] == "ok")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
