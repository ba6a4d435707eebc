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
    POST /api/agent/poll {name, info}     -> 200 {job} | 204
    POST /api/agent/jobs/<id>/progress {name, progress, stage}   (409 when the lease is lost)
    POST /api/agent/jobs/<id>/result   {name, result} | {name, error, kind}
    GET  /api/agent/bundles/<sha>
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
import time
from functools import wraps
from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, request, send_file

from facelite.bundle import Bundle
from facelite.errors import UserError

from .devices import is_agent, list_devices
from .jobs import validate_submission

api = Blueprint("api", __name__)
AGENT_ONLINE_S = 30.0


def store():
    return current_app.config["BENCH_STORE"]


def err(msg: str, code: int):
    return jsonify(error=msg), code


def require_token(fn):
    @wraps(fn)
    def wrapper(*a, **kw):
        auth = request.headers.get("Authorization", "")
        given = auth[7:] if auth.startswith("Bearer ") else ""
        if not given or not hmac.compare_digest(given.encode(), current_app.config["BENCH_TOKEN"].encode()):
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
def save_upload(fileobj, filename: str) -> tuple[dict, bool]:
    """Stream an upload to disk, hash it, validate it as a bundle, store it by sha256."""
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
        b, created = save_upload(f.stream, f.filename or "bundle.flb")
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
    return send_file(b["path"], as_attachment=True, download_name=b["filename"] or f"{sha}.flb")


# -- jobs ------------------------------------------------------------------------------
def _int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError:
        abort(400, description=f"query parameter {name} must be a whole number")


@api.get("/jobs")
def jobs():
    return jsonify(jobs=store().list_jobs(
        limit=min(_int_arg("limit", 100), 1000), status=request.args.get("status"),
        bundle=request.args.get("bundle"), device=request.args.get("device"),
        with_results=request.args.get("results") == "1"))


@api.post("/jobs")
def submit():
    body = request.get_json(silent=True)
    try:
        fields = validate_submission(store(), body)
    except UserError as exc:
        return err(str(exc), 400)
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
def _agent_name(body: dict) -> str:
    name = str((body or {}).get("name") or "")
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        abort(400, description="agent name: 1-64 characters of letters, digits, '-', '_' or '.'")
    return name


@api.post("/agent/poll")
@require_token
def agent_poll():
    body = request.get_json(silent=True) or {}
    name = _agent_name(body)
    dev_id = f"agent:{name}"
    store().upsert_device(dev_id, "agent", name, "online", body.get("info") or {})
    store().requeue_expired()
    lease = current_app.config["BENCH_LEASE_S"]
    job = store().claim_job(f"{dev_id}:{body.get('instance', '')}", lease, device=dev_id)
    if not job:
        return "", 204
    return jsonify(job=job, lease_s=lease, bundle_url=f"/api/agent/bundles/{job['bundle_sha256']}")


def _owner(body: dict) -> str:
    return f"agent:{_agent_name(body)}:{body.get('instance', '')}"


@api.post("/agent/jobs/<int:job_id>/progress")
@require_token
def agent_progress(job_id):
    body = request.get_json(silent=True) or {}
    ok = store().heartbeat(job_id, _owner(body), current_app.config["BENCH_LEASE_S"],
                           body.get("progress"), body.get("stage"))
    if not ok:
        return err(f"job {job_id} is no longer leased to this agent (re-queued or cancelled)", 409)
    return jsonify(ok=True)


@api.post("/agent/jobs/<int:job_id>/result")
@require_token
def agent_result(job_id):
    body = request.get_json(silent=True) or {}
    owner = _owner(body)
    if body.get("error"):
        ok = store().fail_job(job_id, owner, str(body["error"]), body.get("kind", "error"))
    else:
        res = body.get("result")
        if not isinstance(res, dict):
            return err("result: expected a JSON object", 400)
        ok = store().finish_job(job_id, owner, res)
    if not ok:
        return err(f"job {job_id} is no longer leased to this agent (re-queued or cancelled)", 409)
    return jsonify(ok=True)


@api.get("/agent/bundles/<sha>")
@require_token
def agent_bundle(sha):
    b = _bundle_or_404(sha)
    return send_file(b["path"], mimetype="application/octet-stream")
