"""Server-rendered web UI: devices, bundles, jobs (live status), result page with plots,
comparison table, and the login page (`facelite_bench.access` decides when one is needed;
every form carries its CSRF token). Every number shown here also comes from the JSON API."""

from __future__ import annotations

import datetime as _dt
import math

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from markupsafe import Markup

from facelite.errors import UserError

from . import access, plots
from .api import all_devices, comparison_rows, public_bundle, save_upload, store
from .jobs import validate_submission

ui = Blueprint("ui", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")


@ui.app_template_filter("ms")
def fmt_ms(v):
    if not _finite(v):  # missing, null or not a number: an agent's result may lack a figure
        return "–"
    if v < 0.1:
        return f"{v:.4f}"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


@ui.app_template_filter("num")
def fmt_num(v, digits=2):
    return f"{v:.{digits}f}" if _finite(v) else "–"


@ui.app_template_filter("when")
def fmt_when(ts):
    return "–" if not ts else _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _bundle_names() -> dict:
    return {b["sha256"]: b["name"] for b in store().list_bundles()}


@ui.get("/")
def index():
    return render_template("index.html", devices=all_devices(), bundles=store().list_bundles()[:10],
                           jobs=store().list_jobs(limit=15), names=_bundle_names(),
                           counts=store().counts())


@ui.get("/devices")
def devices():
    return render_template("devices.html", devices=all_devices(request.args.get("refresh") == "1"))


@ui.get("/bundles")
def bundles():
    return render_template("bundles.html", bundles=store().list_bundles(), devices=all_devices(),
                           error=request.args.get("error"))


@ui.post("/bundles")
def upload():
    f = request.files.get("file")
    if not f or not f.filename:
        return redirect(url_for("ui.bundles", error="choose a .flb file to upload"))
    try:
        save_upload(f.stream, f.filename)
    except UserError as exc:
        return redirect(url_for("ui.bundles", error=str(exc)))
    return redirect(url_for("ui.bundles"))


@ui.get("/jobs")
def jobs():
    return render_template("jobs.html", jobs=store().list_jobs(limit=100), names=_bundle_names(),
                           bundles=store().list_bundles(), devices=all_devices(),
                           error=request.args.get("error"))


@ui.post("/jobs")
def submit():
    form = request.form.to_dict()
    form.pop(access.CSRF_FIELD, None)
    try:
        fields = validate_submission(store(), form, current_app.config["BENCH_DATA_ROOTS"])
    except UserError as exc:
        return redirect(url_for("ui.jobs", error=str(exc)))
    job_id = store().create_job(**fields)
    worker = current_app.config.get("BENCH_WORKER")
    if worker:
        worker.wake.set()
    return redirect(url_for("ui.job", job_id=job_id))


@ui.get("/jobs/<int:job_id>")
def job(job_id):
    j = store().get_job(job_id)
    if not j:
        abort(404, description=f"job {job_id} does not exist")
    b = store().get_bundle(j["bundle_sha256"])
    r = j.get("result") or {}
    hist = cdf = None
    # the store turns non-finite numbers into null; plot only the real samples
    samples = [s for s in r.get("samples_ms") or [] if _finite(s)]
    if samples:
        marks = {k: r.get(f"{k}_ms") for k in ("p50", "p90", "p99") if _finite(r.get(f"{k}_ms"))}
        hist = Markup(plots.histogram_svg(samples, marks))
        cdf = Markup(plots.cdf_svg(samples, marks))
    return render_template("job.html", job=j, r=r, p=r.get("parity") or {}, bundle=public_bundle(b),
                           hist=hist, cdf=cdf)


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@ui.route("/login", methods=["GET", "POST"])
def login():
    target = request.values.get("next", "")
    if not (target.startswith("/") and not target.startswith("//") and "\\" not in target):
        target = url_for("ui.index")  # only this server's own pages
    if request.method == "POST":
        if access.log_in(request.form.get("token", "")):
            return redirect(target)
        return render_template("login.html", next=target, error="that is not this server's admin token"), 401
    return render_template("login.html", next=target)


@ui.post("/logout")
def logout():
    access.log_out()
    return redirect(url_for("ui.index"))


@ui.get("/compare")
def compare():
    sha = request.args.get("bundle") or None
    rows = comparison_rows(sha)
    best = min((r["avg_ms"] for r in rows if r["avg_ms"] is not None), default=None)
    return render_template("compare.html", rows=rows, bundles=store().list_bundles(), sel=sha, best=best)
