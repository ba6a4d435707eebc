"""JSON API: everything the UI shows, plus the agent protocol (token-authenticated).

    GET  /api/health                      GET  /api/devices    POST /api/devices/refresh
    GET  /api/bundles                     POST /api/bundles (multipart 'file')
    GET  /api/bundles/<sha>               GET  /api/bundles/<sha>/file
    GET  /api/jobs?status=&bundle=&device=&limit=&results=1
    POST /api/jobs {bundle, device, variant, accelerator, threads, runs, warmup, data_dir}
    GET  /api/jobs/<id>                   POST /api/jobs/<id>/cancel
    GET  /api/results/<id>                GET  /api/compare?bundle=<sha>
    GET  /api/stats
  agent (Authorization: Bearer TOKEN, else 401):
    POST /api/agent/poll {name, instance, info}     -> 200 {job} | 204
    POST /api/agent/jobs/<id>/progress {name, instance, progress, stage}   (409 when the lease is lost)
    POST /api/agent/jobs/<id>/result   {name, instance, result} | {name, instance, error, kind}
    GET  /api/agent/bundles/<sha>

Bodies are strict JSON (`facelite.strict_json`, via `facelite_bench.json_provider`): a bad body, an unknown field, a
non-finite number, a wrong type or an out-of-range value is a 400 `{"error", "field"}`.
Who may POST is `facelite_bench.access` (CSRF, login beyond loopback).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from functools import wraps
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request, send_file
from werkzeug.utils import secure_filename

from facelite.bundle import Bundle
from facelite.errors import UserError
from facelite.strict_json import StrictJSONError

from .access import agent_authorized
from .devices import is_agent, list_devices
from .jobs import SUBMISSION_FIELDS, SubmitError, validate_submission
from .json_provider import loads_body

api = Blueprint("api", __name__)
AGENT_ONLINE_S = 30.0
MAX_JSON_BYTES = 16 * 2**20
"""Largest JSON body (an agent's result with 100,000 latency samples is about 2 MB)."""


def store():
    return current_app.config["BENCH_STORE"]


def err(msg: str, code: int, field: str | None = None):
    doc = {"error": msg}
    if field:
        doc["field"] = field
    return jsonify(doc), code


@api.before_request
def limit_json_bodies():
    if request.endpoint != "api.upload_bundle":
        request.max_content_length = min(current_app.config["MAX_CONTENT_LENGTH"], MAX_JSON_BYTES)


@api.errorhandler(StrictJSONError)
@api.errorhandler(SubmitError)
def bad_body(exc):
    return err(str(exc), 400, exc.field)


def json_body(fields: tuple[str, ...]) -> dict[str, Any]:
    """The request's JSON object, strictly parsed; StrictJSONError (→ 400) naming what is wrong."""
    if not request.is_json:
        raise StrictJSONError("body", "send a JSON object with Content-Type: application/json")
    doc = loads_body(request.get_data(cache=False))
    if not isinstance(doc, dict):
        raise StrictJSONError("body", f"expected a JSON object, got {type(doc).__name__}")
    for name in doc:
        if name not in fields:
            raise StrictJSONError(name[:40], f"not a field here; expected {', '.join(fields)}")
    return doc


def require_token(fn):
    @wraps(fn)
    def wrapper(*a, **kw):
        if not agent_authorized():
            return err("agent token missing or wrong; start the agent with --token "
                       "(the server prints it at start, or set FACELITE_BENCH_TOKEN)", 401)
        return fn(*a, **kw)
    return wrapper


@api.get("/health")
def health():
    return jsonify(ok=True, schema_version=store().schema_version, time=time.time())


# -- devices ---------------------------------------------------------------------------
_device_cache: dict = {"at": 0.0, "list": []}


def all_devices(refresh: bool = False) -> list[dict]:
    if refresh or time.time() - _device_cache["at"] > 15:
        _device_cache["list"] = list_devices(current_app.config["BENCH_ADB"])
        _device_cache["at"] = time.time()
        for d in _device_cache["list"]:
            if d["id"] != "adb":
                store().upsert_device(d["id"], d["kind"], d.get("name"), d["status"], d.get("info", {}))
    out = [dict(d) for d in _device_cache["list"]]
    seen = {d["id"] for d in out}
    now = time.time()
    for d in store().list_devices():
        if d["id"] in seen:
            continue
        if d["kind"] == "agent":
            d["status"] = "online" if now - (d["last_seen"] or 0) < AGENT_ONLINE_S else "offline"
        elif d["kind"] == "adb":
            d["status"] = "disconnected"
        out.append(d)
    return out


@api.get("/devices")
def devices():
    return jsonify(devices=all_devices(request.args.get("refresh") == "1"))


@api.post("/devices/refresh")
def devices_refresh():
    return jsonify(devices=all_devices(True))


# -- bundles ---------------------------------------------------------------------------
def safe_filename(name: str | None, sha: str) -> str:
    """An upload's name as stored and offered back for download: the last path component
    (a browser on Windows may send a whole path), reduced by `secure_filename` to letters,
    digits, '.', '-' and '_', with no '..' and no leading dot; the sha256 when nothing is left."""
    base = re.split(r"[\\/]", name or "")[-1]
    safe = re.sub(r"\.{2,}", ".", secure_filename(base)).strip("._")[:120]
    return safe or f"{sha[:16]}.flb"


def save_upload(fileobj, filename: str | None) -> tuple[dict, bool]:
    """Stream an upload to disk, hash it, check it with the bundle reader (`Bundle.open`,
    which refuses compressed or oversized members without inflating them, and
    `verify_checksums`), and only then store it by sha256."""
    bundles_dir = Path(current_app.config["BENCH_DATA_DIR"]) / "bundles"
    fd, tmp = tempfile.mkstemp(dir=bundles_dir, suffix=".tmp")
    h = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as f:
            while chunk := fileobj.read(1 << 20):
                h.update(chunk)
                f.write(chunk)
                size += len(chunk)
        sha = h.hexdigest()
        filename = safe_filename(filename, sha)
        try:
            with Bundle.open(tmp) as b:
                problems = b.verify_checksums()
                manifest = b.manifest
        except UserError as exc:
            raise UserError(str(exc).replace(tmp, filename)) from None
        if problems:
            raise UserError("; ".join(problems).replace(tmp, filename))
        final = bundles_dir / f"{sha}.flb"
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    created = store().add_bundle(sha, str(final), filename, size, manifest)
    return store().get_bundle(sha), created


def public_bundle(b: dict) -> dict:
    b = dict(b)
    b.pop("path", None)
    return b


@api.get("/bundles")
def bundles():
    return jsonify(bundles=[public_bundle(b) for b in store().list_bundles()])


@api.post("/bundles")
def upload_bundle():
    f = request.files.get("file")
    if f is None:
        return err("POST a multipart form with the bundle in field 'file'", 400)
    try:
        b, created = save_upload(f.stream, f.filename)
    except UserError as exc:
        return err(str(exc), 400)
    return jsonify(public_bundle(b)), 201 if created else 200


def _bundle_or_404(sha: str) -> dict:
    b = store().get_bundle(sha) or (store().find_bundle(sha) if len(sha) >= 8 else None)
    if not b:
        abort(404, description=f"bundle '{sha}' is not on this server")
    return b


@api.get("/bundles/<sha>")
def bundle(sha):
    return jsonify(public_bundle(_bundle_or_404(sha)))


@api.get("/bundles/<sha>/file")
def bundle_file(sha):
    b = _bundle_or_404(sha)
    return send_file(b["path"], as_attachment=True, download_name=safe_filename(b["filename"], b["sha256"]))


# -- jobs ------------------------------------------------------------------------------
def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    value = request.args.get(name, str(default))
    if not re.fullmatch(r"-?[0-9]{1,9}", value):
        abort(400, description=f"query parameter {name} must be a whole number")
    return max(lo, min(int(value), hi))


@api.get("/jobs")
def jobs():
    return jsonify(jobs=store().list_jobs(
        limit=_int_arg("limit", 100, 1, 1000), status=request.args.get("status"),
        bundle=request.args.get("bundle"), device=request.args.get("device"),
        with_results=request.args.get("results") == "1"))


@api.post("/jobs")
def submit():
    fields = validate_submission(store(), json_body(SUBMISSION_FIELDS), current_app.config["BENCH_DATA_ROOTS"])
    job_id = store().create_job(**fields)
    worker = current_app.config.get("BENCH_WORKER")
    if worker and not is_agent(fields["device"]):
        worker.wake.set()
    return jsonify(store().get_job(job_id)), 201


@api.get("/jobs/<int:job_id>")
def job(job_id):
    j = store().get_job(job_id)
    if not j:
        abort(404, description=f"job {job_id} does not exist")
    return jsonify(j)


@api.post("/jobs/<int:job_id>/cancel")
def cancel(job_id):
    if not store().get_job(job_id, with_result=False):
        abort(404, description=f"job {job_id} does not exist")
    if not store().cancel_job(job_id):
        return err(f"job {job_id} has already finished", 409)
    return jsonify(store().get_job(job_id))


@api.get("/results/<int:job_id>")
def result(job_id):
    j = store().get_job(job_id)
    if not j or not j.get("result"):
        abort(404, description=f"job {job_id} has no result (yet)")
    return jsonify(j["result"])


def comparison_rows(bundle_sha: str | None) -> list[dict]:
    rows = []
    for j in store().list_jobs(limit=1000, status="done", bundle=bundle_sha, with_results=True):
        r = j.get("result") or {}
        p = r.get("parity") or {}
        rows.append({
            "job": j["id"], "bundle_sha256": j["bundle_sha256"], "bundle": r.get("bundle"),
            "device": j["device"], "variant": r.get("variant") or j["variant"],
            "accelerator": r.get("accelerator"), "threads": j["threads"], "runs": j["runs"],
            **{k: r.get(k) for k in ("init_ms", "first_ms", "avg_ms", "p50_ms", "p90_ms", "p99_ms",
                                     "std_ms", "peak_rss_mb")},
            "top1_agreement": p.get("top1_agreement"), "psnr_db": p.get("psnr_db"),
            "accuracy": p.get("accuracy"), "identical": bool(p.get("identical")),
        })
    rows.sort(key=lambda r: (r["device"], r["variant"] or "", r["threads"], -r["job"]))
    return rows


@api.get("/compare")
def compare():
    return jsonify(rows=comparison_rows(request.args.get("bundle")))


@api.get("/stats")
def stats():
    return jsonify(jobs=store().counts(), bundles=len(store().list_bundles()))


# -- agents ----------------------------------------------------------------------------
_AGENT_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_INSTANCE = re.compile(r"[A-Za-z0-9._-]{0,64}")


def agent_body(*fields: str) -> dict[str, Any]:
    """An agent request's JSON with `name` (and `instance`) checked; StrictJSONError otherwise."""
    body = json_body(("name", "instance", *fields))
    name, instance = body.get("name"), body.get("instance", "")
    if not isinstance(name, str) or not _AGENT_NAME.fullmatch(name):
        raise StrictJSONError("name", "1-64 characters of letters, digits, '-', '_' or '.'")
    if not isinstance(instance, str) or not _INSTANCE.fullmatch(instance):
        raise StrictJSONError("instance", "0-64 characters of letters, digits, '-', '_' or '.'")
    return body


# What the UI and /api/compare read from a result, by type; an agent's result may hold more.
_RESULT_TYPES = {
    **{k: (int, float) for k in ("init_ms", "first_ms", "warmup_avg_ms", "avg_ms", "p50_ms", "p90_ms", "p99_ms",
                                  "std_ms", "min_ms", "max_ms", "peak_rss_mb", "peak_rss_delta_mb")},
    **{k: str for k in ("bundle", "variant", "accelerator", "runner", "fallback_reason", "device")},
    "parity": dict, "delegate": dict, "samples_ms": list,
}


def check_result(res: Any) -> dict:
    """An agent's result: a JSON object whose known figures have their types (null allowed)."""
    if not isinstance(res, dict):
        raise StrictJSONError("result", "expected a JSON object")
    for key, types in _RESULT_TYPES.items():
        value = res.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, types)):
            raise StrictJSONError(f"result.{key}", f"expected {getattr(types, '__name__', 'a number')}, "
                                                 f"got {type(value).__name__}")
    for i, v in enumerate(res.get("samples_ms") or []):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise StrictJSONError(f"result.samples_ms[{i}]", "expected a number (or null)")
    return res


def _owner(body: dict) -> str:
    return f"agent:{body['name']}:{body.get('instance', '')}"


def _optional_text(body: dict, name: str, max_len: int) -> str | None:
    """A string field, cut to `max_len` (a long stage or error must not cost a heartbeat)."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise StrictJSONError(name, f"expected a string, got {type(value).__name__}")
    return None if value is None else value[:max_len]


@api.post("/agent/poll")
@require_token
def agent_poll():
    body = agent_body("info")
    info = body.get("info") or {}
    if not isinstance(info, dict) or len(info) > 64:
        raise StrictJSONError("info", "expected a JSON object of at most 64 fields")
    name = body["name"]
    dev_id = f"agent:{name}"
    store().upsert_device(dev_id, "agent", name, "online", info)
    store().requeue_expired()
    lease = current_app.config["BENCH_LEASE_S"]
    job = store().claim_job(_owner(body), lease, device=dev_id)
    if not job:
        return "", 204
    return jsonify(job=job, lease_s=lease, bundle_url=f"/api/agent/bundles/{job['bundle_sha256']}")


@api.post("/agent/jobs/<int:job_id>/progress")
@require_token
def agent_progress(job_id):
    body = agent_body("progress", "stage")
    progress = body.get("progress")
    if progress is not None:
        if isinstance(progress, bool) or not isinstance(progress, (int, float)):
            raise StrictJSONError("progress", f"expected a number from 0 to 1, got {type(progress).__name__}")
        progress = min(max(progress, 0.0), 1.0)
    ok = store().heartbeat(job_id, _owner(body), current_app.config["BENCH_LEASE_S"],
                           progress, _optional_text(body, "stage", 200))
    if not ok:
        return err(f"job {job_id} is no longer leased to this agent (re-queued or cancelled)", 409)
    return jsonify(ok=True)


@api.post("/agent/jobs/<int:job_id>/result")
@require_token
def agent_result(job_id):
    body = agent_body("result", "error", "kind")
    owner = _owner(body)
    if body.get("error"):
        error = _optional_text(body, "error", 4000)
        kind = body.get("kind", "error")
        if kind not in ("user", "error"):
            raise StrictJSONError("kind", "expected 'user' or 'error'")
        ok = store().fail_job(job_id, owner, error, kind)
    else:
        ok = store().finish_job(job_id, owner, check_result(body.get("result")))
    if not ok:
        return err(f"job {job_id} is no longer leased to this agent (re-queued or cancelled)", 409)
    return jsonify(ok=True)


@api.get("/agent/bundles/<sha>")
@require_token
def agent_bundle(sha):
    b = _bundle_or_404(sha)
    return send_file(b["path"], mimetype="application/octet-stream")
