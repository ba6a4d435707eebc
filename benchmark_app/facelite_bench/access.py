"""Who may change what on the bench server: the Host allow-list, CSRF and the admin login.

Any web page the user opens can make their browser send requests to a bench server on
127.0.0.1: form posts to it (cross-site request forgery), and, after pointing its own
domain name at 127.0.0.1, reads of it as well (DNS rebinding). `guard` runs before every
request and refuses both; the CLI client and the agents keep working because they send
what no cross-site form can (a Bearer token, a JSON body or the `X-Requested-With`
header: a browser would first ask this server's permission in a CORS preflight, which
it never grants).

- **Host allow-list**: the request's Host must be localhost, 127.0.0.1, ::1, the bind
  address (the machine's host names for a wildcard bind), a `serve --allowed-host` name,
  or any IP address literal (an address cannot be rebound: a page whose origin is the
  address is this server's own). Anything else is a 400. Flask's `TRUSTED_HOSTS` does
  this for names, but Werkzeug 3.1 cannot match an IPv6 literal such as `[::1]`, which
  `serve --host ::1` needs, so the check is written here.
- **CSRF**: a state-changing request that names its origin (`Origin`, else `Referer`)
  must name this server. UI forms must carry the session's token (`csrf_token()` in
  every template form); API writes need a valid Bearer token, a JSON body or the
  `X-Requested-With` header. Refusals are 403s.
- **Login**: when the server listens beyond loopback, every state-changing request
  except the agent protocol (which has its own token) needs the admin token: as
  `Authorization: Bearer TOKEN` on the API, or a UI session started at /login. Loopback
  servers need no login, as before.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, jsonify, redirect, request, session, url_for

CSRF_FIELD = "csrf_token"
"""The hidden form field (and session key) holding the per-session CSRF token."""
CLIENT_HEADER = "X-Requested-With"
"""Sent by `facelite_bench.client`; a cross-site form cannot set a header."""
AGENT_PREFIX = "/api/agent/"
LOGIN_FREE = ("ui.login", "ui.logout")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_LOGIN_KEY = "login"
_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::[0-9]{1,5})?")


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The Host names a server bound to `bind_host` answers to (address literals aside)."""
    names = {"localhost", "127.0.0.1", "::1", *(h.lower().strip("[]") for h in extra)}
    if bind_host in ("", "0.0.0.0", "::"):
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    else:
        names.add(bind_host.lower().strip("[]"))
    return frozenset(names)


def host_allowed(host: str, allowed: frozenset[str]) -> bool:
    m = _HOST.fullmatch(host.lower())
    if not m:
        return False
    name = m.group(1).strip("[]")
    if name in allowed:
        return True
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def _same(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def _bearer() -> str:
    auth = request.headers.get("Authorization", "")
    return auth[7:] if auth.startswith("Bearer ") else ""


def is_agent_token(given: str) -> bool:
    return _same(given, current_app.config["BENCH_TOKEN"])


def agent_authorized() -> bool:
    """The request carries the agent token (or the admin token, which may do anything)."""
    given = _bearer()
    return is_agent_token(given) or _same(given, current_app.config["BENCH_ADMIN_TOKEN"])


def _login_mark() -> str:
    cfg = current_app.config
    return hmac.new(cfg["SECRET_KEY"].encode(), cfg["BENCH_ADMIN_TOKEN"].encode(), hashlib.sha256).hexdigest()


def is_admin() -> bool:
    """The admin token as Bearer, or a session logged in with it."""
    if _same(_bearer(), current_app.config["BENCH_ADMIN_TOKEN"]):
        return True
    return _same(session.get(_LOGIN_KEY, ""), _login_mark())


def log_in(token: str) -> bool:
    """Start an admin session if `token` is the admin token (a fresh session: new CSRF token)."""
    if not _same(token, current_app.config["BENCH_ADMIN_TOKEN"]):
        return False
    session.clear()
    session[_LOGIN_KEY] = _login_mark()
    csrf_token()
    return True


def log_out() -> None:
    session.clear()


def csrf_token() -> str:
    """This session's CSRF token (created on first use); templates put it in every form."""
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return session[CSRF_FIELD]


def _refuse_other_origin() -> None:
    source = request.headers.get("Origin")
    if source is None:
        source = request.headers.get("Referer")
    if source is not None and urlsplit(source).netloc.lower() != request.host.lower():
        abort(403, description="cross-site request refused: it comes from a page of another site "
                               "(Origin/Referer); submit it from this server's own pages")


def guard():
    """before_request: Host allow-list, then CSRF and login for state-changing requests."""
    cfg = current_app.config
    if not host_allowed(request.host, cfg["BENCH_ALLOWED_HOSTS"]):
        abort(400, description="this server does not answer to that Host name (a DNS rebinding "
                               "guard); add the name you use with serve --allowed-host NAME")
    if request.method in _SAFE_METHODS or request.path.startswith(AGENT_PREFIX):
        return None  # agent endpoints check their Bearer token themselves
    _refuse_other_origin()
    api = request.blueprint == "api"
    if api:
        if not (agent_authorized() or request.is_json or request.headers.get(CLIENT_HEADER)):
            abort(403, description="cross-site request refused: API writes need a Bearer token, a JSON "
                                   f"body or the {CLIENT_HEADER} header (facelite_bench.client sends it)")
    elif not _same(request.form.get(CSRF_FIELD, ""), session.get(CSRF_FIELD, "")):
        abort(403, description="the form's CSRF token is missing or stale (or the form was posted "
                               "from another site): reload the page and submit again")
    if cfg["BENCH_LOGIN_REQUIRED"] and request.endpoint not in LOGIN_FREE and not is_admin():
        if api:
            return jsonify(error="log in first: this server listens beyond loopback, so creating or "
                                 "changing jobs and bundles needs the admin token it printed at start "
                                 "(Authorization: Bearer TOKEN; facelite-bench run --server URL --token "
                                 "TOKEN)"), 401
        return redirect(url_for("ui.login", next=request.path))
    return None


def install(app: Flask, *, bind_host: str, extra_hosts: Iterable[str], admin_token: str,
            secret_key: str, require_login: bool | None) -> None:
    """Configure `app` (session cookie, hosts, login policy) and register `guard`."""
    app.config.update(
        SECRET_KEY=secret_key,
        SESSION_COOKIE_NAME="facelite_bench_session",  # cookies are per host, not per port
        SESSION_COOKIE_SAMESITE="Lax",
        BENCH_ALLOWED_HOSTS=allowed_hosts(bind_host, extra_hosts),
        BENCH_ADMIN_TOKEN=admin_token,
        BENCH_LOGIN_REQUIRED=not is_loopback(bind_host) if require_login is None else require_login,
    )
    app.before_request(guard)
    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.context_processor
    def login_state():
        return {"login_required": app.config["BENCH_LOGIN_REQUIRED"], "logged_in": is_admin()}
