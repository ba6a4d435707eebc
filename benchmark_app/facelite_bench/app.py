"""Flask app factory: store, worker, agent token, upload limit, JSON errors.

    >>> from facelite_bench.app import create_app
    >>> app = create_app("/tmp/bench.db", start_worker=False)   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from .jobs import SERVER_OWNER_PREFIX, Worker
from .store import Store

log = logging.getLogger("facelite_bench")


def create_app(db_path: str | os.PathLike, data_dir: str | os.PathLike | None = None,
               token: str | None = None, max_upload_mb: float = 256, lease_s: float = 30.0,
               max_attempts: int = 3, start_worker: bool = True, adb_path: str | None = None) -> Flask:
    """Build the app. The agent token is `token`, else $FACELITE_BENCH_TOKEN, else one
    generated once and kept in the store (printed by `serve`)."""
    db_path = Path(db_path)
    store = Store(db_path)
    data_dir = Path(data_dir) if data_dir else db_path.parent / (db_path.stem + "-files")
    (data_dir / "bundles").mkdir(parents=True, exist_ok=True)
    token = token or os.environ.get("FACELITE_BENCH_TOKEN") or store.meta_set_default(
        "agent_token", secrets.token_urlsafe(24))

    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=int(max_upload_mb * 1024 * 1024),
        MAX_UPLOAD_MB=max_upload_mb,
        BENCH_STORE=store,
        BENCH_DATA_DIR=data_dir,
        BENCH_TOKEN=token,
        BENCH_LEASE_S=lease_s,
        BENCH_ADB=adb_path,
    )
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
        return f"<h1>{exc.code} {exc.name}</h1><p>{msg}</p>", exc.code

    if start_worker:
        worker = Worker(store, lease_s=lease_s, max_attempts=max_attempts, adb_path=adb_path)
        worker.start()
        app.config["BENCH_WORKER"] = worker
    return app
