"""A tiny stdlib HTTP client for the bench API (used by `run --server` and the agent).

Every request carries `X-Requested-With` (`facelite_bench.access.CLIENT_HEADER`), which
tells the server it does not come from a cross-site form; `token` is sent as
`Authorization: Bearer` (the agent token for an agent, the admin token for `run --server`
against a server that requires a login).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid

from facelite.errors import UserError

from facelite.strict_json import dumps


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.message = status, message


class Client:
    def __init__(self, server: str, token: str | None = None, timeout: float = 30):
        if not server.startswith(("http://", "https://")):
            raise UserError(f"--server {server}: expected a URL like http://127.0.0.1:8765")
        self.server = server.rstrip("/")
        self.token, self.timeout = token, timeout

    def request(self, method: str, path: str, body: dict | None = None, data: bytes | None = None,
                content_type: str | None = None, raw: bool = False):
        headers = {"Accept": "application/json", "X-Requested-With": "facelite-bench"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            data = dumps(body).encode()  # NaN/inf as null: the server takes strict JSON only
            content_type = "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.server + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                payload = r.read()
                if raw:
                    return payload
                return (r.status, json.loads(payload) if payload else None)
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")
            try:
                text = json.loads(text).get("error", text)
            except (ValueError, AttributeError):
                pass
            raise ApiError(exc.code, text) from None

    def upload_bundle(self, path: str | os.PathLike) -> dict:
        boundary = uuid.uuid4().hex
        name = os.path.basename(path)
        with open(path, "rb") as f:
            content = f.read()
        data = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + content + \
            f"\r\n--{boundary}--\r\n".encode()
        return self.request("POST", "/api/bundles", data=data,
                            content_type=f"multipart/form-data; boundary={boundary}")[1]
