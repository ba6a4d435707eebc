"""Flask app factory: store, worker, tokens, access rules, upload limit, JSON errors.

    >>> from facelite_bench.app import create_app
    >>> app = create_app("/tmp/bench.db", start_worker=False)   # doctest: +SKIP

The access rules (Host allow-list, CSRF, login beyond loopback) are `facelite_bench.access`;
request and response JSON is strict (`facelite_bench.json_provider`).
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from collections.abc import Iterable

from flask import Flask, jsonify, request
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from . import access
from .jobs import SERVER_OWNER_PREFIX, Worker, data_roots_from
from .store import Store
from .json_provider import StrictJSONProvider

log = logging.getLogger("facelite_bench")


def create_app(db_path: str | os.PathLike, data_dir: str | os.PathLike | None = None,
               token: str | None = None, max_upload_mb: float = 256, lease_s: float = 30.0,
               max_attempts: int = 3, start_worker: bool = True, adb_path: str | None = None, *,
               bind_host: str = "127.0.0.1", allowed_hosts: Iterable[str] = (),
               data_roots: Iterable[str] | None = None, admin_token: str | None = None,
               require_login: bool | None = None) -> Flask:
    """Build the app.

    `data_dir` is where uploaded bundles are kept (default: beside the db). The agent token
    is `token`, else $FACELITE_BENCH_TOKEN, else one generated once and kept in the store;
    the admin token (the login when `require_login`, which defaults to "`bind_host` is not
    loopback") likewise from `admin_token` or $FACELITE_BENCH_ADMIN_TOKEN. `serve` prints
    the generated ones. Jobs may read data folders only under `data_roots` (default:
    $FACELITE_DATA if set, else none: data folders refused).
    """
    db_path = Path(db_path)
    store = Store(db_path)
    data_dir = Path(data_dir) if data_dir else db_path.parent / (db_path.stem + "-files")
    (data_dir / "bundles").mkdir(parents=True, exist_ok=True)
    token = token or os.environ.get("FACELITE_BENCH_TOKEN") or store.meta_set_default(
        "agent_token", secrets.token_urlsafe(24))
    admin_token = admin_token or os.environ.get("FACELITE_BENCH_ADMIN_TOKEN") or store.meta_set_default(
        "admin_token", secrets.token_urlsafe(24))
    roots = data_roots_from(data_roots)

    app = Flask(__name__)
    app.json = StrictJSONProvider(app)
    app.config.update(
        MAX_CONTENT_LENGTH=int(max_upload_mb * 1024 * 1024),
        MAX_UPLOAD_MB=max_upload_mb,
        BENCH_STORE=store,
        BENCH_DATA_DIR=data_dir,
        BENCH_DATA_ROOTS=roots,
        BENCH_TOKEN=token,
        BENCH_LEASE_S=lease_s,
        BENCH_ADB=adb_path,
    )
    access.install(app, bind_host=bind_host, extra_hosts=allowed_hosts, admin_token=admin_token,
                   secret_key=store.meta_set_default("session_secret", secrets.token_hex(32)),
                   require_login=require_login)
    requeued = store.requeue_owned_by(SERVER_OWNER_PREFIX)
    if requeued:
        log.warning("re-queued %d job(s) interrupted by the last server stop", requeued)

    from .api import api
    from .ui import ui

    app.register_blueprint(api, url_prefix="/api")
    app.register_blueprint(ui)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            msg = f"upload larger than the server's {max_upload_mb:g} MB limit (serve --max-upload-mb)"
        else:
            msg = exc.description
        if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
            return jsonify(error=msg), exc.code
        return f"<h1>{exc.code} {escape(exc.name)}</h1><p>{escape(msg)}</p>", exc.code

    if start_worker:
        worker = Worker(store, lease_s=lease_s, max_attempts=max_attempts, adb_path=adb_path, data_roots=roots)
        worker.start()
        app.config["BENCH_WORKER"] = worker
    return app
