"""`facelite-bench`: serve | run | agent | devices.

    facelite-bench serve [--host 127.0.0.1] [--port 8765] [--db PATH] [--data-root DIR] [--allowed-host NAME]
    facelite-bench run BUNDLE --device local [--variant int8] [--runs 200] [--data DIR] [--json]
    facelite-bench run BUNDLE --device agent:lab-pc --server http://127.0.0.1:8765 --json
    facelite-bench agent --server URL --token T [--name NAME]
    facelite-bench devices [--json]

Only the commands and their printing live here; exit codes (0 success, 2 user error:
bad path, tampered bundle, unknown device, 401; 1 anything else; 130 on Ctrl-C),
`--json` (exactly one JSON document on stdout, errors included), `--debug` and
`--verbose` are `facelite.cli_core`'s, shared with `facelite` and `facelite-build`.
Progress and logs go to stderr.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from facelite.cli_core import CommandLine, Progress, log, whole_number
from facelite.errors import UserError

DEFAULT_DB = Path(os.environ.get("FACELITE_BENCH_DB", Path.home() / ".facelite-bench" / "bench.db"))


def _public(result: dict, samples: bool) -> dict:
    r = dict(result)
    if not samples:
        r.pop("samples_ms", None)
    return r


def human(r: dict) -> str:
    f = lambda v, d=3: "–" if v is None else f"{v:.{d}f}"  # noqa: E731
    p = r.get("parity") or {}
    lines = [
        f"{r.get('bundle', '?')} / {r.get('variant')} on {r.get('device')} "
        f"({r.get('accelerator')}{', fallback: ' + r['fallback_reason'] if r.get('fallback_reason') else ''})",
        f"  latency ms: avg {f(r.get('avg_ms'))}  p50 {f(r.get('p50_ms'))}  p90 {f(r.get('p90_ms'))}  "
        f"p99 {f(r.get('p99_ms'))}  std {f(r.get('std_ms'))}",
        f"  init {f(r.get('init_ms'))} ms  first {f(r.get('first_ms'))} ms  warm-up avg "
        f"{f(r.get('warmup_avg_ms'))} ms  peak RSS {f(r.get('peak_rss_mb'), 1)} MB",
        f"  parity vs fp32: top-1 agreement {f(p.get('top1_agreement'), 4)}  PSNR {f(p.get('psnr_db'), 1)} dB"
        f"{' (good, >= 30)' if p.get('psnr_good') else ''}  max|err| {f(p.get('max_abs_err'), 5)}  "
        f"accuracy {f(p.get('accuracy'), 4)}",
    ]
    if r.get("delegate"):
        d = r["delegate"]
        lines.append(f"  delegate: {d['nodes_delegated']}/{d['nodes_total']} nodes on {d['name']}")
    return "\n".join(lines)


# -- commands ---------------------------------------------------------------------------
def cmd_serve(a, out) -> int:
    import signal

    from werkzeug.serving import make_server

    from .app import create_app

    logging.getLogger().setLevel(logging.INFO)
    app = create_app(a.db, data_dir=a.data_dir, token=a.token, max_upload_mb=a.max_upload_mb,
                     lease_s=a.lease_timeout, adb_path=a.adb, bind_host=a.host, allowed_hosts=a.allowed_host,
                     data_roots=a.data_root, admin_token=a.admin_token, require_login=a.require_login or None)
    if app.config["BENCH_LOGIN_REQUIRED"]:
        log("login required: uploading bundles and submitting jobs need the admin token (log in at "
            "/login, or pass it to run --server ... --token); reading results does not")
    srv = make_server(a.host, a.port, app, threaded=True)
    srv.socket.listen(1024)  # deeper accept backlog than werkzeug's 128, for bursts of clients
    url = f"http://{a.host}:{srv.server_port}"
    log(f"facelite-bench serving {url}  db={a.db}")
    if not (a.token or os.environ.get("FACELITE_BENCH_TOKEN")):
        log(f"agent token: {app.config['BENCH_TOKEN']}")
    if app.config["BENCH_LOGIN_REQUIRED"] and not (a.admin_token or os.environ.get("FACELITE_BENCH_ADMIN_TOKEN")):
        log(f"admin token: {app.config['BENCH_ADMIN_TOKEN']}")
    roots = app.config["BENCH_DATA_ROOTS"]
    log(f"job data folders: under {', '.join(map(str, roots))}" if roots else
        "job data folders: none allowed (serve --data-root DIR, or set FACELITE_DATA)")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        srv.serve_forever()
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM is how a server is meant to stop
        pass
    finally:
        worker = app.config.get("BENCH_WORKER")
        if worker:
            worker.stop()
    out.result({"served": url, "db": str(a.db)})
    return 0


def cmd_run(a, out) -> int:
    import hashlib

    from facelite.bundle import Bundle

    from .devices import JobSpec, is_agent, resolve

    bundle_path = Path(a.bundle)
    with Bundle.open(bundle_path) as b:  # user errors (missing, tampered) before any device work
        if a.variant and a.variant not in b.variants:
            raise UserError(f"{bundle_path}: no variant '{a.variant}'; this bundle has "
                            f"{', '.join(sorted(b.variants))}")
    if a.data and not Path(a.data).is_dir():
        raise UserError(f"--data {a.data}: no such folder (expected DIR/<label>/<image>)")
    progress = Progress(f"{bundle_path.name} on {a.device}", not a.quiet)
    if a.server:
        return run_remote(a, bundle_path, progress, out)
    if is_agent(a.device):
        raise UserError(f"--device {a.device}: agent devices need --server URL (the agent polls a server)")
    device = resolve(a.device, adb_path=a.adb, runner=a.runner, benchmark_model=a.benchmark_model)
    spec = JobSpec(variant=a.variant, accelerator=a.accelerator, threads=a.threads, runs=a.runs,
                   warmup=a.warmup, data_dir=str(Path(a.data).resolve()) if a.data else None)
    result = device.run(str(bundle_path.resolve()), spec, progress)
    result["bundle_sha256"] = hashlib.sha256(bundle_path.read_bytes()).hexdigest()
    _report(a, out, result)
    return 0


def _report(a, out, result: dict) -> None:
    out.result(_public(result, a.samples), human(result))


def run_remote(a, bundle_path: Path, progress, out) -> int:
    from .client import ApiError, Client

    c = Client(a.server, a.token or os.environ.get("FACELITE_BENCH_ADMIN_TOKEN")
               or os.environ.get("FACELITE_BENCH_TOKEN"))
    try:
        b = c.upload_bundle(bundle_path)
        _, job = c.request("POST", "/api/jobs", {
            "bundle": b["sha256"], "device": a.device, "variant": a.variant, "accelerator": a.accelerator,
            "threads": a.threads, "runs": a.runs, "warmup": a.warmup,
            "data_dir": str(Path(a.data).resolve()) if a.data else None})
    except ApiError as exc:
        if 400 <= exc.status < 500:
            raise UserError(f"{a.server}: {exc.message}") from None
        raise
    log(f"job {job['id']} queued on {a.server} ({a.server}/jobs/{job['id']})")
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        _, job = c.request("GET", f"/api/jobs/{job['id']}")
        progress(job["progress"], job["status"] if job["status"] != "running" else (job["stage"] or ""))
        if job["status"] == "done":
            _report(a, out, dict(job["result"], job=job["id"]))
            return 0
        if job["status"] in ("failed", "cancelled"):
            msg = f"job {job['id']} {job['status']}: {job.get('error') or ''}"
            if job.get("error_kind") == "user":
                raise UserError(msg)
            raise RuntimeError(msg)
        time.sleep(0.3)
    raise RuntimeError(f"job {job['id']} did not finish within --timeout {a.timeout}s "
                       f"(status {job['status']}); it stays queued on the server")


def cmd_agent(a, out) -> int:
    from .agent import Agent

    logging.getLogger().setLevel(logging.INFO)
    token = a.token or os.environ.get("FACELITE_BENCH_TOKEN")
    if not token:
        raise UserError("agent: --token is required (the server prints it at start)")
    agent = Agent(a.server, token, a.name, a.cache, a.poll_interval, data_roots=a.data_root)
    log(f"agent '{agent.name}' polling {a.server}")
    n = agent.serve_forever(max_jobs=a.max_jobs, idle_exit_s=a.idle_exit)
    log(f"agent '{agent.name}': ran {n} job(s)")
    out.result({"agent": agent.name, "jobs": n})
    return 0


def cmd_devices(a, out) -> int:
    if a.server:
        from .client import Client

        devices = Client(a.server).request("GET", "/api/devices")[1]["devices"]
    else:
        from .devices import list_devices

        devices = list_devices(a.adb)
    lines = []
    for d in devices:
        info = ", ".join(f"{k}={v}" for k, v in (d.get("info") or {}).items())
        lines.append(f"{d['id']:<24} {d['status']:<12} {info}")
    out.result({"devices": devices}, "\n".join(lines))
    return 0


def command_line() -> CommandLine:
    cli = CommandLine("facelite-bench", "Latency and parity of bundles: serve | run | agent | devices.")

    s = cli.command("serve", cmd_serve, "web UI + JSON API + job queue")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--db", default=str(DEFAULT_DB))
    s.add_argument("--data-dir", help="where uploaded bundles go (default: beside the db)")
    s.add_argument("--token", help="agent token (default: $FACELITE_BENCH_TOKEN or one kept in the db)")
    s.add_argument("--admin-token", help="the login for uploads and jobs when listening beyond loopback "
                                         "(default: $FACELITE_BENCH_ADMIN_TOKEN or one kept in the db)")
    s.add_argument("--require-login", action="store_true",
                   help="require the admin token even on loopback (always required beyond it)")
    s.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="a Host name the server answers to besides localhost and the bind address (repeatable)")
    s.add_argument("--data-root", action="append", metavar="DIR",
                   help="jobs may read data folders under DIR (repeatable; default: $FACELITE_DATA, else none)")
    s.add_argument("--max-upload-mb", type=float, default=256)
    s.add_argument("--lease-timeout", type=float, default=30.0,
                   help="seconds without a heartbeat before a job is re-queued")
    s.add_argument("--adb", help="adb executable (default: adb on PATH or $FACELITE_BENCH_ADB)")

    r = cli.command("run", cmd_run, "benchmark one bundle on one device")
    r.add_argument("bundle")
    r.add_argument("--device", default="local", help="local | native | adb:SERIAL | agent:NAME")
    r.add_argument("--variant")
    r.add_argument("--runs", type=whole_number(1), default=100)
    r.add_argument("--warmup", type=whole_number(0), default=10)
    r.add_argument("--threads", type=whole_number(1), default=1)
    r.add_argument("--accelerator", default="cpu", choices=["cpu", "gpu", "npu", "auto"])
    r.add_argument("--data", help="labelled image folder DIR/<label>/<image> for task accuracy")
    r.add_argument("--server", help="submit to a facelite-bench server instead of running here")
    r.add_argument("--token", help="admin token for a --server that requires a login "
                                   "(default: $FACELITE_BENCH_ADMIN_TOKEN)")
    r.add_argument("--timeout", type=float, default=3600)
    r.add_argument("--adb")
    r.add_argument("--runner", default="auto", help="adb: auto | native | python | PATH to push")
    r.add_argument("--benchmark-model", help="adb: path of LiteRT's benchmark_model binary to push and parse")
    r.add_argument("--samples", action="store_true", help="include every per-run latency in --json")
    r.add_argument("--quiet", action="store_true", help="no progress on stderr")

    g = cli.command("agent", cmd_agent, "run jobs for a server on this machine")
    g.add_argument("--server", required=True)
    g.add_argument("--token")
    g.add_argument("--name")
    g.add_argument("--cache")
    g.add_argument("--poll-interval", type=float, default=1.0)
    g.add_argument("--max-jobs", type=int)
    g.add_argument("--idle-exit", type=float, help="exit after this many idle seconds")
    g.add_argument("--data-root", action="append", metavar="DIR",
                   help="jobs may read data folders under DIR on this machine (repeatable; "
                        "default: $FACELITE_DATA, else none)")

    d = cli.command("devices", cmd_devices, "list devices")
    d.add_argument("--server")
    d.add_argument("--adb")
    return cli


def main(argv: list[str] | None = None) -> int:
    return command_line().main(argv)


if __name__ == "__main__":
    sys.exit(main())
