"""SQLite store: devices, bundles (by sha256), jobs and results. WAL, numbered migrations.

One short-lived connection per operation (safe from any thread: the server answers
requests on many), `BEGIN IMMEDIATE` for every write so concurrent writers queue on the
busy timeout instead of failing. Commits that record a finished (or failed) job use
`synchronous=FULL`, so a finished result survives a restart, a kill -9 and a power loss;
other writes (submissions, heartbeats) use NORMAL, which still survives a process crash. Results live in their own table keyed by job id and are only ever
inserted together with the job's `done` status, in one transaction.

JSON columns are written and read through `facelite.strict_json`: a NaN or infinity
is stored as null (and one stored by an older version reads back as null), so what the
store hands out can always be answered as strict JSON.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from facelite.strict_json import dumps as _dumps
from facelite.strict_json import to_json_value

MIGRATIONS = [
    # 1: initial schema
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE devices (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT, status TEXT, info TEXT,
        last_seen REAL, created REAL NOT NULL);
    CREATE TABLE bundles (
        sha256 TEXT PRIMARY KEY, name TEXT, version TEXT, task TEXT, filename TEXT,
        size INTEGER, path TEXT NOT NULL, manifest TEXT, uploaded REAL NOT NULL);
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        bundle_sha256 TEXT NOT NULL REFERENCES bundles(sha256),
        variant TEXT, device TEXT NOT NULL, accelerator TEXT NOT NULL DEFAULT 'cpu',
        threads INTEGER NOT NULL DEFAULT 1, runs INTEGER NOT NULL, warmup INTEGER NOT NULL DEFAULT 5,
        data_dir TEXT, status TEXT NOT NULL DEFAULT 'queued', progress REAL NOT NULL DEFAULT 0,
        stage TEXT, error TEXT, error_kind TEXT, lease_owner TEXT, lease_expires REAL,
        attempts INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, started REAL, finished REAL);
    CREATE INDEX jobs_queue ON jobs(status, device, id);
    CREATE TABLE results (
        job_id INTEGER PRIMARY KEY REFERENCES jobs(id), data TEXT NOT NULL, created REAL NOT NULL);
    """,
    # 2: requeue history, so a re-queued job says why
    """
    ALTER TABLE jobs ADD COLUMN requeued INTEGER NOT NULL DEFAULT 0;
    """,
]

JOB_FIELDS = ("id", "bundle_sha256", "variant", "device", "accelerator", "threads", "runs", "warmup",
              "data_dir", "status", "progress", "stage", "error", "error_kind", "lease_owner",
              "lease_expires", "attempts", "created", "started", "finished", "requeued")
FINAL = ("done", "failed", "cancelled")


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Writers inside one process queue on this lock rather than on SQLite's busy
        # handler (which sleeps in growing steps); other processes still wait on busy_timeout.
        self._wlock = threading.Lock()
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            self._migrate(con)

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA foreign_keys=ON")
        return con

    def _migrate(self, con: sqlite3.Connection) -> None:
        version = con.execute("PRAGMA user_version").fetchone()[0]
        for i, script in enumerate(MIGRATIONS[version:], start=version + 1):
            con.execute("BEGIN IMMEDIATE")
            try:
                for stmt in filter(str.strip, script.split(";")):
                    con.execute(stmt)
                con.execute(f"PRAGMA user_version={i}")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    @property
    def schema_version(self) -> int:
        with self.read() as con:
            return con.execute("PRAGMA user_version").fetchone()[0]

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        con = self._connect()
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def write(self, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction. `durable=True` commits with synchronous=FULL (fsync of the
        WAL, so it survives power loss, and so does every commit before it); otherwise
        NORMAL, which survives a process crash or kill -9 but may lose the last commits
        on power loss: fine for a queued job, not for a finished result."""
        con = self._connect()
        if durable:
            con.execute("PRAGMA synchronous=FULL")
        self._wlock.acquire()
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        finally:
            self._wlock.release()
            con.close()

    # -- meta ----------------------------------------------------------------------
    def meta_get(self, key: str) -> str | None:
        with self.read() as con:
            row = con.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def meta_set_default(self, key: str, value: str) -> str:
        with self.write() as con:
            con.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (key, value))
            return con.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()[0]

    # -- bundles ---------------------------------------------------------------------
    def add_bundle(self, sha256: str, path: str, filename: str, size: int, manifest: dict) -> bool:
        """Insert; False when that sha256 is already stored (bundles are content-addressed)."""
        with self.write() as con:
            cur = con.execute(
                "INSERT OR IGNORE INTO bundles(sha256, name, version, task, filename, size, path, manifest, uploaded)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (sha256, manifest.get("name"), manifest.get("version"), manifest.get("task"), filename,
                 size, path, _dumps(manifest), time.time()))
            return cur.rowcount == 1

    def get_bundle(self, sha256: str) -> dict | None:
        with self.read() as con:
            row = con.execute("SELECT * FROM bundles WHERE sha256=?", (sha256,)).fetchone()
        return _bundle(row) if row else None

    def find_bundle(self, prefix: str) -> dict | None:
        with self.read() as con:
            rows = con.execute("SELECT * FROM bundles WHERE sha256 LIKE ? LIMIT 2", (prefix + "%",)).fetchall()
        return _bundle(rows[0]) if len(rows) == 1 else None

    def list_bundles(self) -> list[dict]:
        with self.read() as con:
            rows = con.execute("SELECT * FROM bundles ORDER BY uploaded DESC").fetchall()
        return [_bundle(r) for r in rows]

    # -- devices ---------------------------------------------------------------------
    def upsert_device(self, device_id: str, kind: str, name: str | None, status: str, info: dict) -> None:
        now = time.time()
        with self.write() as con:
            con.execute(
                "INSERT INTO devices(id, kind, name, status, info, last_seen, created) VALUES (?,?,?,?,?,?,?)"
                " ON CONFLICT(id) DO UPDATE SET kind=excluded.kind, name=excluded.name,"
                " status=excluded.status, info=excluded.info, last_seen=excluded.last_seen",
                (device_id, kind, name, status, _dumps(info), now, now))

    def list_devices(self) -> list[dict]:
        with self.read() as con:
            rows = con.execute("SELECT * FROM devices ORDER BY id").fetchall()
        return [dict(r, info=_loads(r["info"], "{}")) for r in rows]

    # -- jobs ------------------------------------------------------------------------
    def create_job(self, bundle_sha256: str, device: str, variant: str | None, accelerator: str,
                   threads: int, runs: int, warmup: int, data_dir: str | None) -> int:
        with self.write() as con:
            cur = con.execute(
                "INSERT INTO jobs(bundle_sha256, variant, device, accelerator, threads, runs, warmup,"
                " data_dir, created) VALUES (?,?,?,?,?,?,?,?,?)",
                (bundle_sha256, variant, device, accelerator, threads, runs, warmup, data_dir, time.time()))
            return int(cur.lastrowid)

    def get_job(self, job_id: int, with_result: bool = True) -> dict | None:
        with self.read() as con:
            row = con.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
            if not row:
                return None
            job = _job(row)
            if with_result:
                r = con.execute("SELECT data FROM results WHERE job_id=?", (job_id,)).fetchone()
                job["result"] = _loads(r[0]) if r else None
        return job

    def list_jobs(self, limit: int = 100, status: str | None = None, bundle: str | None = None,
                  device: str | None = None, with_results: bool = False) -> list[dict]:
        q, args = "SELECT * FROM jobs WHERE 1=1", []
        for col, val in (("status", status), ("bundle_sha256", bundle), ("device", device)):
            if val:
                q += f" AND {col}=?"
                args.append(val)
        q += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        with self.read() as con:
            jobs = [_job(r) for r in con.execute(q, args).fetchall()]
            if with_results and jobs:
                ids = [j["id"] for j in jobs]
                marks = ",".join("?" * len(ids))
                res = {r[0]: _loads(r[1]) for r in con.execute(
                    f"SELECT job_id, data FROM results WHERE job_id IN ({marks})", ids)}
                for j in jobs:
                    j["result"] = res.get(j["id"])
        return jobs

    def counts(self) -> dict[str, int]:
        with self.read() as con:
            rows = con.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
            n_results = con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        out = {r[0]: r[1] for r in rows}
        out["results"] = n_results
        return out

    def claim_job(self, owner: str, lease_s: float, device: str | None = None,
                  exclude_agents: bool = False) -> dict | None:
        """Atomically move the oldest queued job (for `device`, or any non-agent one) to running."""
        q = "SELECT id FROM jobs WHERE status='queued'"
        args: list[Any] = []
        if device:
            q += " AND device=?"
            args.append(device)
        if exclude_agents:
            q += " AND device NOT LIKE 'agent:%'"
        q += " ORDER BY id LIMIT 1"
        now = time.time()
        with self.write() as con:
            row = con.execute(q, args).fetchone()
            if not row:
                return None
            con.execute(
                "UPDATE jobs SET status='running', lease_owner=?, lease_expires=?, attempts=attempts+1,"
                " started=?, progress=0, stage='starting' WHERE id=?",
                (owner, now + lease_s, now, row[0]))
            return _job(con.execute("SELECT * FROM jobs WHERE id=?", (row[0],)).fetchone())

    def heartbeat(self, job_id: int, owner: str, lease_s: float, progress: float | None = None,
                  stage: str | None = None) -> bool:
        """Extend the lease (and record progress); False if the job is no longer this owner's."""
        with self.write() as con:
            cur = con.execute(
                "UPDATE jobs SET lease_expires=?, progress=COALESCE(?, progress), stage=COALESCE(?, stage)"
                " WHERE id=? AND status='running' AND lease_owner=?",
                (time.time() + lease_s, progress, stage, job_id, owner))
            return cur.rowcount == 1

    def finish_job(self, job_id: int, owner: str, result: dict) -> bool:
        with self.write(durable=True) as con:
            cur = con.execute(
                "UPDATE jobs SET status='done', progress=1, stage='done', finished=?, lease_expires=NULL"
                " WHERE id=? AND status='running' AND lease_owner=?", (time.time(), job_id, owner))
            if cur.rowcount != 1:
                return False
            con.execute("INSERT OR REPLACE INTO results(job_id, data, created) VALUES (?,?,?)",
                        (job_id, _dumps(result), time.time()))
            return True

    def fail_job(self, job_id: int, owner: str, error: str, kind: str = "error") -> bool:
        with self.write(durable=True) as con:
            cur = con.execute(
                "UPDATE jobs SET status='failed', stage='failed', error=?, error_kind=?, finished=?,"
                " lease_expires=NULL WHERE id=? AND status='running' AND lease_owner=?",
                (error[:4000], kind, time.time(), job_id, owner))
            return cur.rowcount == 1

    def cancel_job(self, job_id: int) -> bool:
        with self.write() as con:
            cur = con.execute(
                "UPDATE jobs SET status='cancelled', stage='cancelled', finished=?, lease_expires=NULL"
                " WHERE id=? AND status IN ('queued', 'running')", (time.time(), job_id))
            return cur.rowcount == 1

    def requeue_expired(self, max_attempts: int = 3, now: float | None = None) -> int:
        """Jobs whose holder stopped heart-beating go back to the queue (or fail after max_attempts)."""
        now = now or time.time()
        with self.write() as con:
            con.execute(
                "UPDATE jobs SET status='failed', stage='failed', error_kind='error', finished=?,"
                " error='lease expired ' || attempts || ' times (the agent or runner keeps dying)'"
                " WHERE status='running' AND lease_expires < ? AND attempts >= ?", (now, now, max_attempts))
            cur = con.execute(
                "UPDATE jobs SET status='queued', stage='requeued', progress=0, lease_owner=NULL,"
                " lease_expires=NULL, requeued=requeued+1 WHERE status='running' AND lease_expires < ?",
                (now,))
            return cur.rowcount

    def requeue_owned_by(self, owner_prefix: str) -> int:
        """At server start: jobs the previous server process was running go back to the queue."""
        with self.write() as con:
            cur = con.execute(
                "UPDATE jobs SET status='queued', stage='requeued (server restarted)', progress=0,"
                " lease_owner=NULL, lease_expires=NULL, requeued=requeued+1"
                " WHERE status='running' AND lease_owner LIKE ?", (owner_prefix + "%",))
            return cur.rowcount


def _loads(text: str | None, default: str = "null") -> Any:
    return to_json_value(json.loads(text or default))


def _bundle(row: sqlite3.Row) -> dict:
    d = dict(row)
    d["manifest"] = _loads(d["manifest"], "{}")
    d["variants"] = sorted(d["manifest"].get("variants", {}))
    return d


def _job(row: sqlite3.Row) -> dict:
    return {k: row[k] for k in row.keys()}
