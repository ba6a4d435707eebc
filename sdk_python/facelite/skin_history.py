"""`SkinHistory`: each user's skin reports over time, on the device, in one SQLite file.

Why SQLite: one file per app that survives a crash mid-write (every capture is one
transaction in a write-ahead log, committed with `synchronous=FULL`, so a capture the
call returned for is on disk and a half-written one is not), that two processes (an app
and its widget, a CLI and a sync job) can write at once (`BEGIN IMMEDIATE` queues
writers, `busy_timeout` makes them wait rather than fail), and that a phone already has.

What is stored, per user (the user id is stored once, in `users`):
- one row per **reliable** capture: its time, the report's quality checks, tone, lighting
  and model versions. An unreliable report (`reliable: false`) is refused with a
  `HistoryError` that lists the failed checks: it is never stored, so it can never be
  mixed into a series (retake the photo instead);
- per capture, model versions and (region, concern) its score, band and raw measure —
  regions and concerns are whatever the report holds (`face` for the whole face), so a
  new concern needs no migration;
- optional context per day (`facelite.skin_context`: products, sleep_hours, uv_index,
  stress, cycle_day, tags);
- the photo's bytes only when the caller passes `keep_image=True` (default: no pixel data
  at all), so that a newer model can re-score it.

Model versions and drift: a report's `models` ({bundle: version}) is stored as a set. A
series is split where the set changes: scores of different model versions are never
joined. The current series is the latest capture's version; older captures count in it
only once re-scored by that version (`rescore`, which needs kept images). `series()`
returns every segment, so `facelite track show` and the plot mark each break.

Schema versioning: `PRAGMA user_version` is the schema version and `MIGRATIONS[i]` moves
a file from version i to i + 1, each in one transaction, applied on open;
`PRAGMA application_id` marks the file as a facelite skin history. A file from a newer
facelite is refused (never rewritten). Deleting a user removes every row of theirs
(`secure_delete` zeroes the freed bytes), then `VACUUM` rebuilds the file and the WAL
is checkpointed and truncated, so no byte of that user's data or id remains on disk.

Export (`export_user`) is a JSON document of `EXPORT_FORMAT` version `EXPORT_VERSION`
with every capture (scores of every model version, kept images as base64) and the
context; `import_data` validates it (errors name the JSON path at fault) and adds what
is not there yet, in one transaction (captures carry a random `uid`, so importing twice
adds nothing).

Example:

    >>> import tempfile, os
    >>> from facelite.skin_history import SkinHistory
    >>> report = {"reliable": True, "quality": {"reliable": True, "checks": []},
    ...           "tone": {"ita_deg": 35.0, "category": "intermediate"},
    ...           "face": {"acne": {"score": 72, "band": "good", "raw": 0.45}},
    ...           "regions": {"chin": {"acne": {"score": 65, "band": "fair", "raw": 0.62}}},
    ...           "lighting": {}, "models": {"acne": "2.0.0", "skin_metrics": "1.0.0"}}
    >>> folder = tempfile.mkdtemp()
    >>> with SkinHistory(os.path.join(folder, "history.db")) as history:
    ...     for day in range(1, 21, 3):
    ...         _ = history.add("alice", report, taken_at=f"2024-03-{day:02d}", context={"sleep_hours": 7})
    ...     s = history.series("alice", "acne")
    ...     f = history.forecast("alice", "acne", horizon_days=30)
    >>> len(s.current.points), f.enough_data, round(f.mean)
    (7, True, 72)
"""

from __future__ import annotations

import base64
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .errors import HistoryError, UserError
from .files import read_regular_file
from .forecast import ScoreForecast, forecast_score
from .regions import REGION_NAMES
from .skin_context import Association, associate, check_context
from .skin_scores import CONCERNS
from .strict_json import StrictJSONError, dumps, loads

APPLICATION_ID = 0x464C534B
"""`PRAGMA application_id` of a skin history file ("FLSK")."""
BUSY_TIMEOUT_MS = 30_000
"""How long a writer waits for another process's write to finish before giving up."""
SET_UP_RETRY_S = 0.02
"""Seconds between tries of a new file's set-up that another process holds (`SkinHistory._set_up`)."""
EXPORT_FORMAT = "facelite-skin-history"
EXPORT_VERSION = 1
MAX_EXPORT_BYTES = 1 << 30
MAX_USER_CHARS = 200

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the first schema
    """
    CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE model_sets (id INTEGER PRIMARY KEY, models TEXT NOT NULL UNIQUE);
    CREATE TABLE captures (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        taken_at TEXT NOT NULL,
        day TEXT NOT NULL,
        t_days REAL NOT NULL,
        model_set INTEGER NOT NULL REFERENCES model_sets(id),
        quality TEXT NOT NULL,
        tone TEXT,
        lighting TEXT);
    CREATE INDEX captures_by_user ON captures(user_id, t_days);
    CREATE TABLE scores (
        capture_id INTEGER NOT NULL REFERENCES captures(id) ON DELETE CASCADE,
        model_set INTEGER NOT NULL REFERENCES model_sets(id),
        region TEXT NOT NULL,
        concern TEXT NOT NULL,
        score REAL NOT NULL,
        band TEXT NOT NULL,
        raw TEXT,
        PRIMARY KEY (capture_id, model_set, region, concern)) WITHOUT ROWID;
    CREATE TABLE images (
        capture_id INTEGER PRIMARY KEY REFERENCES captures(id) ON DELETE CASCADE,
        data BLOB NOT NULL);
    CREATE TABLE context (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        factor TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (user_id, day, factor)) WITHOUT ROWID;
    """,
)
"""`MIGRATIONS[i]` takes a file from schema version i to i + 1 (SQL statements separated by `;`)."""

SCHEMA_VERSION = len(MIGRATIONS)


# -- reports and times in ------------------------------------------------------------


def _fail(where: str, problem: str) -> HistoryError:
    return HistoryError(f"{where}: {problem}")


def _check_scores(block: Any, where: str) -> dict[str, dict]:
    """{concern: {score, band, raw}} checked (score a number 0–100, band a string, raw a number or null)."""
    if not isinstance(block, dict):
        raise _fail(where, f"expected an object of concerns, got {type(block).__name__}")
    out = {}
    for concern, entry in block.items():
        here = f"{where}.{concern}"
        if not isinstance(entry, dict):
            raise _fail(here, f"expected {{score, band, raw}}, got {type(entry).__name__}")
        score, band, raw = entry.get("score"), entry.get("band"), entry.get("raw")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 100:
            raise _fail(f"{here}.score", f"expected a number from 0 to 100, got {score!r}")
        if not isinstance(band, str):
            raise _fail(f"{here}.band", f"expected a band name (good, fair, attention), got {band!r}")
        if raw is not None and (isinstance(raw, bool) or not isinstance(raw, (int, float))):
            raise _fail(f"{here}.raw", f"expected a number or null, got {raw!r}")
        out[concern] = {"score": float(score), "band": band, "raw": raw}
    return out


def _check_models(models: Any, where: str) -> dict[str, str]:
    if not isinstance(models, dict) or not models or \
            not all(isinstance(k, str) and isinstance(v, str) for k, v in models.items()):
        raise _fail(where, "expected a non-empty object {bundle name: version}, as in a skin report's `models`")
    return dict(sorted(models.items()))


def _check_scored(doc: Any, where: str) -> tuple[dict, dict]:
    """(models, {region: {concern: entry}}, with the face as region `face`) of a report-shaped block."""
    if not isinstance(doc, dict):
        raise _fail(where, f"expected a skin report object, got {type(doc).__name__}")
    models = _check_models(doc.get("models"), f"{where}.models")
    regions = doc.get("regions", {})
    if not isinstance(regions, dict):
        raise _fail(f"{where}.regions", f"expected an object of regions, got {type(regions).__name__}")
    scores = {"face": _check_scores(doc.get("face"), f"{where}.face")}
    for region, block in regions.items():
        if region == "face":
            raise _fail(f"{where}.regions.face", "the whole face's scores belong under `face`, not `regions`")
        scores[region] = _check_scores(block, f"{where}.regions.{region}")
    return models, scores


def check_report(report: Any, where: str = "report") -> tuple[dict, dict, dict]:
    """(report dict, models, {region: {concern: entry}}) of a `SkinReport` (or its `to_json()`
    dict) checked for storing: HistoryError naming the field at fault, or, for an unreliable
    capture, listing the failed checks with what to do."""
    doc = report.to_json() if hasattr(report, "to_json") else report
    if not isinstance(doc, dict):
        raise _fail(where, f"expected a skin report (SkinReport or its to_json() dict), got {type(doc).__name__}")
    if not isinstance(doc.get("reliable"), bool):
        raise _fail(f"{where}.reliable", f"expected true or false, got {doc.get('reliable')!r}")
    quality = doc.get("quality", {})
    if not isinstance(quality, dict):
        raise _fail(f"{where}.quality", f"expected an object, got {type(quality).__name__}")
    if not doc["reliable"]:
        failed = [c for c in quality.get("checks", []) if isinstance(c, dict) and not c.get("passed", True)]
        reasons = "; ".join(f"{c.get('code')}: {str(c.get('message', '')).rstrip('.')}" for c in failed) \
            or "no check listed"
        raise HistoryError(f"{where}: not stored: the capture failed the quality gate ({reasons}); "
                           "retake the photo, only reliable captures go into a history")
    models, scores = _check_scored(doc, where)
    return doc, models, scores


def parse_time(value: str | date | datetime | None) -> tuple[str, str, float]:
    """(taken_at ISO text, day YYYY-MM-DD, days since 1970-01-01) of a capture time.

    A date, a datetime or ISO text; a time without an offset is the user's local clock,
    taken as it reads; one with an offset is converted to UTC for `t_days` (its day stays
    the one on its own clock). None: now, on the local clock.
    """
    if value is None:
        value = datetime.now().replace(microsecond=0)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip()) if "T" in value or " " in value.strip() \
                else date.fromisoformat(value.strip())
        except ValueError:
            raise HistoryError(f"time '{value}': not an ISO date or time; use YYYY-MM-DD or "
                               "YYYY-MM-DDTHH:MM[:SS][+HH:MM]") from None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    day = value.date().isoformat()
    clock = value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    t_days = (clock - datetime(1970, 1, 1)).total_seconds() / 86400.0
    return value.isoformat(), day, t_days


def check_user(user: Any) -> str:
    if not isinstance(user, str) or not user.strip() or len(user) > MAX_USER_CHARS or not user.isprintable():
        raise HistoryError(f"user {user!r}: a user id is a printable string of 1 to {MAX_USER_CHARS} characters")
    return user


# -- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesPoint:
    """One capture's score in a series."""

    uid: str
    taken_at: str
    day: str
    t_days: float
    score: float
    band: str
    raw: float | None

    def to_json(self) -> dict:
        return {"uid": self.uid, "taken_at": self.taken_at, "score": self.score, "band": self.band, "raw": self.raw}


@dataclass(frozen=True)
class Segment:
    """The captures of a series scored by one set of model versions."""

    models: dict[str, str]
    points: tuple[SeriesPoint, ...]

    def to_json(self) -> dict:
        return {"models": self.models, "n": len(self.points), "first": self.points[0].taken_at,
                "last": self.points[-1].taken_at, "points": [p.to_json() for p in self.points]}


@dataclass(frozen=True)
class ScoreSeries:
    """One (region, concern) score over time, split at each change of model versions.

    `segments` run from the oldest; the last is `current` (the latest capture's models,
    re-scored captures included). A forecast uses `current` only.
    """

    user: str
    region: str
    concern: str
    segments: tuple[Segment, ...]

    @property
    def current(self) -> Segment | None:
        return self.segments[-1] if self.segments else None

    @property
    def breaks(self) -> list[dict]:
        """Where the model versions change: the first capture of each later segment."""
        return [{"at": b.points[0].taken_at, "from": a.models, "to": b.models}
                for a, b in zip(self.segments, self.segments[1:])]

    def to_json(self) -> dict:
        return {"region": self.region, "concern": self.concern, "segments": [s.to_json() for s in self.segments],
                "breaks": self.breaks}


@dataclass(frozen=True)
class StoredCapture:
    """What `add` stored: the capture's uid, time and model versions."""

    uid: str
    user: str
    taken_at: str
    models: dict[str, str]
    image_kept: bool


# -- the store ---------------------------------------------------------------------------


class SkinHistory:
    """Per-user skin reports in one SQLite file; see the module doc. Use as a context manager
    or call `close()`. One instance per thread; any number of processes."""

    def __init__(self, path: str | os.PathLike, busy_timeout_ms: int = BUSY_TIMEOUT_MS):
        self.path = Path(path)
        if self.path.is_dir():
            raise HistoryError(f"{self.path}: is a folder; give the history file's path, e.g. {self.path}/history.db")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = sqlite3.connect(self.path, timeout=busy_timeout_ms / 1000, isolation_level=None)
            self._con.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            self._set_up(busy_timeout_ms)
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise HistoryError(f"{self.path}: not a readable skin history ({exc}); pass the path of a history "
                               "file or of a new one") from None
        except BaseException:
            self._close_quietly()
            raise

    def _set_up(self, busy_timeout_ms: int) -> None:
        """WAL mode, durability pragmas and the schema, retried until the busy timeout.

        Why a loop: when two processes open a new file at once, switching it to WAL needs a
        lock that SQLite does not wait for (its busy handler is skipped where waiting could
        deadlock), so one of them gets "database is locked" at once; the other finishes within
        milliseconds and the retry then finds the file set up."""
        deadline = time.monotonic() + busy_timeout_ms / 1000
        while True:
            try:
                self._con.execute("PRAGMA journal_mode=WAL")
                for pragma in ("synchronous=FULL", "foreign_keys=ON", "secure_delete=ON"):
                    self._con.execute(f"PRAGMA {pragma}")
                self._migrate()
                return
            except sqlite3.OperationalError as exc:
                if not ("locked" in str(exc) or "busy" in str(exc)) or time.monotonic() > deadline:
                    raise
                time.sleep(SET_UP_RETRY_S)

    def _close_quietly(self) -> None:
        con = getattr(self, "_con", None)
        if con is not None:
            con.close()
            self._con = None

    def close(self) -> None:
        self._close_quietly()

    def __enter__(self) -> "SkinHistory":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- transactions and schema ------------------------------------------------------

    def _write(self) -> "_Transaction":
        if self._con is None:
            raise HistoryError(f"{self.path}: this SkinHistory is closed; open it again")
        return _Transaction(self._con)

    def _migrate(self) -> None:
        """Check the file is a history this facelite can read; bring an older (or new, empty) one up
        to SCHEMA_VERSION. Nothing is written when it is current; otherwise one transaction
        (BEGIN IMMEDIATE, so two processes opening a new file migrate it once)."""
        if self._schema_state() == SCHEMA_VERSION:
            return
        with self._write() as con:
            version = self._schema_state()
            for i in range(version, SCHEMA_VERSION):
                for statement in filter(str.strip, MIGRATIONS[i].split(";")):
                    con.execute(statement)
            con.execute(f"PRAGMA application_id={APPLICATION_ID}")
            con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _schema_state(self) -> int:
        """The file's schema version, or HistoryError for another program's file or a newer facelite's."""
        con = self._con
        version = con.execute("PRAGMA user_version").fetchone()[0]
        app_id = con.execute("PRAGMA application_id").fetchone()[0]
        tables = con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if (version or tables) and app_id != APPLICATION_ID:
            raise HistoryError(f"{self.path}: an SQLite file but not a facelite skin history "
                               f"(application_id {app_id}); pass another path")
        if version > SCHEMA_VERSION:
            raise HistoryError(f"{self.path}: written by a newer facelite (schema {version}, this one knows up "
                               f"to {SCHEMA_VERSION}); upgrade facelite to read it")
        return version

    @property
    def schema_version(self) -> int:
        return self._read("PRAGMA user_version")[0][0]

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        if self._con is None:
            raise HistoryError(f"{self.path}: this SkinHistory is closed; open it again")
        return self._con.execute(sql, args).fetchall()

    # -- writing ----------------------------------------------------------------------

    @staticmethod
    def _user_id(con: sqlite3.Connection, user: str, create: bool) -> int | None:
        row = con.execute("SELECT id FROM users WHERE name=?", (user,)).fetchone()
        if row or not create:
            return row[0] if row else None
        return con.execute("INSERT INTO users(name) VALUES (?)", (user,)).lastrowid

    @staticmethod
    def _model_set(con: sqlite3.Connection, models: dict[str, str]) -> int:
        key = dumps(models)
        con.execute("INSERT OR IGNORE INTO model_sets(models) VALUES (?)", (key,))
        return con.execute("SELECT id FROM model_sets WHERE models=?", (key,)).fetchone()[0]

    @staticmethod
    def _put_scores(con: sqlite3.Connection, capture_id: int, model_set: int, scores: dict) -> None:
        con.executemany(
            "INSERT OR REPLACE INTO scores(capture_id, model_set, region, concern, score, band, raw) "
            "VALUES (?,?,?,?,?,?,?)",
            [(capture_id, model_set, region, concern, e["score"], e["band"],
              None if e["raw"] is None else dumps(e["raw"]))
             for region, block in scores.items() for concern, e in block.items()])

    @staticmethod
    def _put_context(con: sqlite3.Connection, user_id: int, day: str, factors: dict) -> None:
        con.executemany("INSERT OR REPLACE INTO context(user_id, day, factor, value) VALUES (?,?,?,?)",
                        [(user_id, day, k, dumps(v)) for k, v in factors.items()])

    def add(self, user: str, report: Any, taken_at: str | date | datetime | None = None,
            context: dict | None = None, image: bytes | None = None, keep_image: bool = False) -> StoredCapture:
        """Store one reliable capture (one transaction: all of it, or nothing).

        `report`: a `SkinReport` or its `to_json()` dict; unreliable ones are refused
        (HistoryError listing the failed checks). `taken_at`: see `parse_time` (default
        now). `context`: that day's factors (`facelite.skin_context`). `image`: the
        photo's encoded bytes, stored only with `keep_image=True` (for re-scoring when the
        models change); otherwise nothing of the image is written.
        """
        user = check_user(user)
        doc, models, scores = check_report(report)
        factors = check_context(context or {})
        if keep_image and not image:
            raise HistoryError("keep_image=True needs the photo's bytes in `image`")
        taken, day, t_days = parse_time(taken_at)
        uid = secrets.token_hex(16)
        with self._write() as con:
            user_id = self._user_id(con, user, create=True)
            model_set = self._model_set(con, models)
            capture_id = con.execute(
                "INSERT INTO captures(uid, user_id, taken_at, day, t_days, model_set, quality, tone, lighting) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (uid, user_id, taken, day, t_days, model_set, dumps(doc.get("quality", {})),
                 dumps(doc.get("tone")), dumps(doc.get("lighting")))).lastrowid
            self._put_scores(con, capture_id, model_set, scores)
            if keep_image:
                con.execute("INSERT INTO images(capture_id, data) VALUES (?,?)", (capture_id, bytes(image)))
            if factors:
                self._put_context(con, user_id, day, factors)
        return StoredCapture(uid, user, taken, models, bool(keep_image))

    def set_context(self, user: str, day: str | date, **factors: Any) -> None:
        """Record factors for a day (`facelite.skin_context`; the latest value for a day wins)."""
        user = check_user(user)
        checked = check_context(factors)
        day = parse_time(day)[1]
        with self._write() as con:
            self._put_context(con, self._user_id(con, user, create=True), day, checked)

    def rescore(self, user: str, analyze: Callable[[bytes], Any]) -> int:
        """Re-score the user's kept images with `analyze(image_bytes) -> SkinReport or dict`,
        adding the scores of the analyzer's model versions where a capture lacks them (one
        transaction per capture). Captures whose re-scored report is unreliable, or whose
        photo the analyzer refuses (a UserError such as no face), stay in their old
        segment. Returns how many captures got new scores."""
        done = 0
        user_id = self._require_user(user)
        for (capture_id,) in self._read("SELECT c.id FROM captures c JOIN images i ON i.capture_id=c.id "
                                        "WHERE c.user_id=? ORDER BY c.t_days, c.id", (user_id,)):
            data = self._read("SELECT data FROM images WHERE capture_id=?", (capture_id,))[0][0]
            try:
                _, models, scores = check_report(analyze(bytes(data)), "re-scored report")
            except UserError:
                continue
            with self._write() as con:
                model_set = self._model_set(con, models)
                if con.execute("SELECT 1 FROM scores WHERE capture_id=? AND model_set=? LIMIT 1",
                               (capture_id, model_set)).fetchone():
                    continue
                self._put_scores(con, capture_id, model_set, scores)
            done += 1
        return done

    def delete_user(self, user: str) -> dict:
        """Remove every row of `user` (captures, scores, images, context, the id itself), then
        VACUUM and truncate the WAL so none of it stays in the file's bytes. Returns
        {"user", "captures", "wal_truncated"}; HistoryError for an unknown user."""
        with self._write() as con:
            user_id = self._user_id(con, user, create=False)
            if user_id is None:
                raise HistoryError(f"user '{user}': not in {self.path}; `facelite track show` lists nothing for "
                                   "it (nothing to delete)")
            n = con.execute("SELECT count(*) FROM captures WHERE user_id=?", (user_id,)).fetchone()[0]
            con.execute("DELETE FROM users WHERE id=?", (user_id,))
            con.execute("DELETE FROM model_sets WHERE id NOT IN (SELECT model_set FROM captures) "
                        "AND id NOT IN (SELECT model_set FROM scores)")
        self._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._con.execute("VACUUM")
        busy = self._con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        return {"user": user, "captures": n, "wal_truncated": busy == 0}

    # -- reading ----------------------------------------------------------------------

    def users(self) -> list[str]:
        return [r[0] for r in self._read("SELECT name FROM users ORDER BY name")]

    def _require_user(self, user: str) -> int:
        rows = self._read("SELECT id FROM users WHERE name=?", (user,))
        if not rows:
            known = self.users()
            hint = f" (users: {', '.join(known[:10])}{', ...' if len(known) > 10 else ''})" if known else \
                " (it holds no user yet: add a capture with `facelite track add`)"
            raise HistoryError(f"user '{user}': not in {self.path}{hint}")
        return rows[0][0]

    def n_captures(self, user: str) -> int:
        return self._read("SELECT count(*) FROM captures WHERE user_id=?", (self._require_user(user),))[0][0]

    def latest_models(self, user: str) -> dict[str, str] | None:
        """The model versions of the user's latest capture (None: no capture or no such user)."""
        rows = self._read("SELECT m.models FROM captures c JOIN users u ON u.id=c.user_id JOIN model_sets m "
                          "ON m.id=c.model_set WHERE u.name=? ORDER BY c.t_days DESC, c.id DESC LIMIT 1", (user,))
        return loads(rows[0][0]) if rows else None

    def regions_and_concerns(self, user: str) -> list[tuple[str, str]]:
        """Every (region, concern) the user's captures have a score for: `face` first, then the
        regions in REGION_NAMES order, concerns in report order (names facelite does not know last)."""
        rows = self._read("SELECT DISTINCT s.region, s.concern FROM scores s JOIN captures c ON c.id=s.capture_id "
                          "WHERE c.user_id=?", (self._require_user(user),))
        regions, concerns = ("face", *REGION_NAMES), CONCERNS

        def rank(names: tuple[str, ...], name: str) -> tuple[int, str]:
            return (names.index(name) if name in names else len(names), name)

        return sorted(rows, key=lambda rc: (rank(regions, rc[0]), rank(concerns, rc[1])))

    def series(self, user: str, concern: str, region: str = "face") -> ScoreSeries:
        """The (region, concern) series of `user`, split by model versions (see the module doc)."""
        user_id = self._require_user(user)
        rows = self._read(
            "SELECT c.id, c.uid, c.taken_at, c.day, c.t_days, c.model_set, s.model_set, m.models, s.score, s.band, "
            "s.raw FROM captures c JOIN scores s ON s.capture_id=c.id JOIN model_sets m ON m.id=s.model_set "
            "WHERE c.user_id=? AND s.region=? AND s.concern=? ORDER BY c.t_days, c.id", (user_id, region, concern))
        latest = self._read("SELECT model_set FROM captures WHERE user_id=? ORDER BY t_days DESC, id DESC LIMIT 1",
                            (user_id,))
        if not rows or not latest:
            return ScoreSeries(user, region, concern, ())
        current = latest[0][0]
        by_capture: dict[int, list] = {}
        for row in rows:
            by_capture.setdefault(row[0], []).append(row)
        groups: dict[int, list[SeriesPoint]] = {}
        names: dict[int, dict] = {}
        for entries in by_capture.values():  # one point per capture: the current models' score, else its own
            own = entries[0][5]
            pick = next((e for e in entries if e[6] == current), None) or next((e for e in entries if e[6] == own),
                                                                             entries[0])
            _, uid, taken, day, t, _, model_set, models, score, band, raw = pick
            groups.setdefault(model_set, []).append(SeriesPoint(uid, taken, day, t, score, band,
                                                                None if raw is None else loads(raw)))
            names[model_set] = loads(models)
        order = sorted((k for k in groups if k != current), key=lambda k: groups[k][0].t_days)
        if current in groups:
            order.append(current)
        return ScoreSeries(user, region, concern, tuple(Segment(names[k], tuple(groups[k])) for k in order))

    def context(self, user: str) -> dict[str, dict]:
        """{day: {factor: value}} recorded for `user`."""
        out: dict[str, dict] = {}
        for day, factor, value in self._read("SELECT day, factor, value FROM context WHERE user_id=? ORDER BY day",
                                             (self._require_user(user),)):
            out.setdefault(day, {})[factor] = loads(value)
        return out

    def forecast(self, user: str, concern: str, region: str = "face", horizon_days: int = 30,
                 interval: float = 0.8) -> ScoreForecast:
        """`facelite.forecast.forecast_score` of the current segment of a series (never mixing model versions)."""
        series = self.series(user, concern, region)
        seg = series.current
        label = concern if region == "face" else f"{region} {concern}"
        if seg is None:
            return forecast_score([], [], horizon_days, interval, label)
        f = forecast_score([p.t_days for p in seg.points], [p.score for p in seg.points], horizon_days, interval,
                           label)
        if not f.enough_data and len(series.segments) > 1:
            note = (f"{f.message}; the models changed on {seg.points[0].day}, and captures scored by older versions "
                    "are not mixed in (keep images with keep_image=True / --keep-image so they can be re-scored)")
            return ScoreForecast(**{**f.__dict__, "message": note})
        return f

    def associations(self, user: str, concern: str) -> list[Association]:
        """Each recorded factor's association with the face's `concern` score, trend taken out (current models)."""
        seg = self.series(user, concern).current
        if seg is None:
            return []
        return associate([p.day for p in seg.points], [p.score for p in seg.points], self.context(user), concern,
                         times=[p.t_days for p in seg.points])

    # -- export and import -------------------------------------------------------------

    def export_user(self, user: str, include_images: bool = True) -> dict:
        """Everything stored for `user` as one JSON-ready document (EXPORT_FORMAT, EXPORT_VERSION)."""
        user_id = self._require_user(user)
        captures = []
        for cid, uid, taken, models, quality, tone, lighting in self._read(
                "SELECT c.id, c.uid, c.taken_at, m.models, c.quality, c.tone, c.lighting FROM captures c "
                "JOIN model_sets m ON m.id=c.model_set WHERE c.user_id=? ORDER BY c.t_days, c.id", (user_id,)):
            scored: dict[str, dict] = {}
            for set_models, region, concern, score, band, raw in self._read(
                    "SELECT m.models, s.region, s.concern, s.score, s.band, s.raw FROM scores s "
                    "JOIN model_sets m ON m.id=s.model_set WHERE s.capture_id=? ORDER BY m.id, s.region, s.concern",
                    (cid,)):
                block = scored.setdefault(set_models, {"models": loads(set_models), "face": {}, "regions": {}})
                entry = {"score": score, "band": band, "raw": None if raw is None else loads(raw)}
                (block["face"] if region == "face" else block["regions"].setdefault(region, {}))[concern] = entry
            image = self._read("SELECT data FROM images WHERE capture_id=?", (cid,)) if include_images else []
            captures.append({"uid": uid, "taken_at": taken, "models": loads(models), "quality": loads(quality),
                             "tone": loads(tone), "lighting": loads(lighting), "scores": list(scored.values()),
                             "image": base64.b64encode(image[0][0]).decode("ascii") if image else None})
        return {"format": EXPORT_FORMAT, "format_version": EXPORT_VERSION, "user": user,
                "exported_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
                "captures": captures, "context": self.context(user)}

    def import_data(self, doc: Any, as_user: str | None = None) -> dict:
        """Add an `export_user` document (dict, JSON text or bytes) in one transaction; captures
        already here (same uid) are skipped. Returns {"user", "added", "skipped"}."""
        if isinstance(doc, (str, bytes)):
            try:
                doc = loads(doc, root="export")
            except StrictJSONError as exc:
                raise HistoryError(f"{exc}; pass a file written by `facelite track export`") from None
        user, captures, context = _check_export(doc)
        user = check_user(as_user) if as_user is not None else user
        added = skipped = 0
        with self._write() as con:
            user_id = self._user_id(con, user, create=True)
            for c in captures:
                if con.execute("SELECT 1 FROM captures WHERE uid=?", (c["uid"],)).fetchone():
                    skipped += 1
                    continue
                taken, day, t_days = parse_time(c["taken_at"])
                capture_id = con.execute(
                    "INSERT INTO captures(uid, user_id, taken_at, day, t_days, model_set, quality, tone, lighting) "
                    "VALUES (?,?,?,?,?,?,?,?,?)",
                    (c["uid"], user_id, taken, day, t_days, self._model_set(con, c["models"]), dumps(c["quality"]),
                     dumps(c["tone"]), dumps(c["lighting"]))).lastrowid
                for models, scores in c["scores"]:
                    self._put_scores(con, capture_id, self._model_set(con, models), scores)
                if c["image"] is not None:
                    con.execute("INSERT INTO images(capture_id, data) VALUES (?,?)", (capture_id, c["image"]))
                added += 1
            for day, factors in context.items():
                self._put_context(con, user_id, day, factors)
        return {"user": user, "added": added, "skipped": skipped}

    def import_file(self, path: str | os.PathLike, as_user: str | None = None) -> dict:
        """`import_data` of an export file."""
        return self.import_data(read_regular_file(path, MAX_EXPORT_BYTES, "export", HistoryError), as_user)


def _check_export(doc: Any) -> tuple[str, list[dict], dict]:
    """(user, captures normalised, context) of an export document, or HistoryError naming the JSON path."""
    if not isinstance(doc, dict):
        raise _fail("export", f"expected a JSON object, got {type(doc).__name__}")
    if doc.get("format") != EXPORT_FORMAT:
        raise _fail("export.format", f"expected '{EXPORT_FORMAT}', got {doc.get('format')!r}: "
                                     "not a facelite skin history export")
    version = doc.get("format_version")
    if version != EXPORT_VERSION:
        newer = isinstance(version, int) and version > EXPORT_VERSION
        raise _fail("export.format_version", f"{version!r} is not supported (this facelite reads version "
                                             f"{EXPORT_VERSION}){'; upgrade facelite' if newer else ''}")
    user = check_user(doc.get("user"))
    captures = doc.get("captures")
    if not isinstance(captures, list):
        raise _fail("export.captures", "expected a list of captures")
    out = []
    for i, c in enumerate(captures):
        where = f"export.captures[{i}]"
        if not isinstance(c, dict):
            raise _fail(where, f"expected an object, got {type(c).__name__}")
        uid = c.get("uid")
        if not isinstance(uid, str) or not 8 <= len(uid) <= 64 or not uid.isalnum():
            raise _fail(f"{where}.uid", f"expected the capture's id (8-64 letters and digits), got {uid!r}")
        if not isinstance(c.get("taken_at"), str):
            raise _fail(f"{where}.taken_at", f"expected an ISO time, got {c.get('taken_at')!r}")
        try:
            parse_time(c["taken_at"])
        except HistoryError as exc:
            raise _fail(f"{where}.taken_at", str(exc)) from None
        models = _check_models(c.get("models"), f"{where}.models")
        if not isinstance(c.get("quality"), dict):
            raise _fail(f"{where}.quality", "expected the capture's quality object")
        scores = c.get("scores")
        if not isinstance(scores, list) or not scores:
            raise _fail(f"{where}.scores", "expected a non-empty list of {models, face, regions} blocks")
        scored = [_check_scored(block, f"{where}.scores[{k}]") for k, block in enumerate(scores)]
        if not any(m == models for m, _ in scored):
            raise _fail(f"{where}.scores", "none is scored by the capture's own models")
        image = c.get("image")
        if image is not None:
            try:
                image = base64.b64decode(image, validate=True) if isinstance(image, str) else None
            except ValueError:
                image = None
            if not image:
                raise _fail(f"{where}.image", "expected base64 image bytes or null")
        out.append({"uid": uid, "taken_at": c["taken_at"], "models": models, "quality": c["quality"],
                    "tone": c.get("tone"), "lighting": c.get("lighting"), "scores": scored, "image": image})
    context = doc.get("context", {})
    if not isinstance(context, dict):
        raise _fail("export.context", "expected an object {day: {factor: value}}")
    checked = {}
    for day, factors in context.items():
        try:
            day_iso = date.fromisoformat(day).isoformat()
        except (TypeError, ValueError):
            raise _fail(f"export.context.{day}", "expected a YYYY-MM-DD day") from None
        checked[day_iso] = check_context(factors, f"export.context.{day}")
    return user, out, checked


class _Transaction:
    """`with`: BEGIN IMMEDIATE (writers queue on the busy timeout) … COMMIT, or ROLLBACK on any error."""

    def __init__(self, con: sqlite3.Connection):
        self.con = con

    def __enter__(self) -> sqlite3.Connection:
        self.con.execute("BEGIN IMMEDIATE")
        return self.con

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is None:
            self.con.execute("COMMIT")
        else:
            self.con.execute("ROLLBACK")
