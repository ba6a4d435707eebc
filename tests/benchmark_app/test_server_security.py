"""Issue #15's bench-server findings, each reproduced as a test (they failed before the fix).

| finding | test |
|---|---|
| cross-site form POSTs to /jobs and /bundles succeed | test_cross_site_posts_are_refused, test_cross_site_uploads_are_refused |
| a foreign Host header is served (DNS rebinding) | test_foreign_host_header_is_refused, test_served_process_refuses_a_foreign_host |
| data_dir=/etc accepted, its listing returned in the job error | test_data_dir_outside_the_data_roots_is_refused_without_a_listing, test_worker_rechecks_a_stored_data_dir, test_agent_refuses_a_data_dir_outside_its_roots |
| deeply nested JSON and runs=1e999 give 500 | test_deeply_nested_json_is_a_400, test_bad_numbers_and_strings_are_a_400_naming_the_field |
| a NaN result makes /api/jobs/<id> invalid JSON and /jobs/<id> a 500 | test_nan_result_from_an_agent_is_refused, test_non_finite_numbers_already_stored_read_back_as_null |
| a zip bomb upload is accepted (96 MB -> 2.1 GB) | test_zip_bomb_upload_is_refused_fast_in_bounded_memory |
| upload names with ../ reach Content-Disposition | test_upload_names_are_sanitized_in_store_and_download |
| job and bundle creation need no login on a shared network | test_login_required_beyond_loopback, test_serve_prints_the_admin_token_when_login_is_required |

Most run the app in-process (Flask's test client); the zip bomb and the Host check also
run against a real `facelite-bench serve` process.
"""

import http.client
import json
import math
import os
import re
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from facelite_bench.app import create_app
from facelite_bench.client import ApiError, Client

TOKEN = "agent-token-for-tests"
ADMIN = "admin-token-for-tests"
CLIENT = {"X-Requested-With": "facelite-bench"}  # what the CLI client sends
EVIL = "http://evil.example"


def strict(text):
    """json.loads that refuses NaN/Infinity, as every other JSON parser does."""
    def refuse(word):
        raise ValueError(f"not JSON: {word}")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    monkeypatch.delenv("FACELITE_DATA", raising=False)
    monkeypatch.delenv("FACELITE_BENCH_ADMIN_TOKEN", raising=False)

    def make(**kw):
        return create_app(tmp_path / "bench.db", token=TOKEN, start_worker=False, **kw)
    return make


def upload(c, path, filename="tiny.flb", url="/api/bundles", headers=CLIENT, **form):
    with open(path, "rb") as f:
        return c.post(url, data={"file": (f, filename), **form}, headers=headers)


@pytest.fixture
def bench(make_app, tiny_bundle):
    """(app, test client, sha of the uploaded tiny bundle) on a loopback app."""
    app = make_app()
    c = app.test_client()
    r = upload(c, tiny_bundle)
    assert r.status_code == 201, r.get_data(as_text=True)
    return app, c, r.json["sha256"]


def csrf_of(c, page, headers=None):
    html = c.get(page, headers=headers).get_data(as_text=True)
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, f"{page}: no csrf_token field in its form"
    return m.group(1)


def job_count(app):
    return len(app.config["BENCH_STORE"].list_jobs(limit=1000))


# -- 1. CSRF ------------------------------------------------------------------------------
def test_cross_site_posts_are_refused(bench):
    app, c, sha = bench
    queued = c.post("/api/jobs", json={"bundle": sha, "device": "agent:x", "runs": 5}).json["id"]
    n = job_count(app)
    form = {"bundle": sha, "device": "local", "runs": "5"}
    attacks = [
        ("/jobs", dict(data=form, headers={"Origin": EVIL})),                          # form from another site
        ("/jobs", dict(data=form)),                                                     # no Origin, no token
        ("/jobs", dict(data=form, headers={"Referer": EVIL + "/page"})),               # old browser: Referer only
        ("/jobs", dict(data=form, headers={"Origin": "null"})),                        # sandboxed iframe
        ("/api/jobs", dict(data=json.dumps({"bundle": sha, "device": "local"}),     # enctype=text/plain trick
                           content_type="text/plain", headers={"Origin": EVIL})),
        ("/api/jobs", dict(data=json.dumps({"bundle": sha, "device": "local"}), content_type="text/plain")),
        (f"/api/jobs/{queued}/cancel", dict(data={"x": "1"})),                          # body-less form post
        ("/api/devices/refresh", dict(data={})),
    ]
    for path, kw in attacks:
        r = c.post(path, **kw)
        assert r.status_code == 403, (path, kw, r.status_code, r.get_data(as_text=True)[:300])
        assert "cross-site" in r.get_data(as_text=True) or "csrf" in r.get_data(as_text=True).lower()
    assert job_count(app) == n
    assert c.get(f"/api/jobs/{queued}").json["status"] == "queued"
    # JSON from another origin is refused too (a browser would preflight it; curl would not)
    r = c.post("/api/jobs", json={"bundle": sha, "device": "local"}, headers={"Origin": EVIL})
    assert r.status_code == 403 and job_count(app) == n


def test_cross_site_uploads_are_refused(make_app, tiny_bundle):
    app = make_app()
    c = app.test_client()
    for url, headers in (("/bundles", {"Origin": EVIL}), ("/bundles", {}),
                         ("/api/bundles", {}), ("/api/bundles", {"Origin": EVIL, **CLIENT})):
        r = upload(c, tiny_bundle, url=url, headers=headers)
        assert r.status_code == 403, (url, headers, r.status_code)
    assert app.config["BENCH_STORE"].list_bundles() == []


def test_same_origin_forms_carry_a_csrf_token_and_work(bench, tiny_bundle):
    app, c, sha = bench
    for page in ("/jobs", "/bundles"):
        html = c.get(page).get_data(as_text=True)
        forms = re.findall(r'<form method="post".*?</form>', html, re.DOTALL)
        assert forms and all('name="csrf_token"' in f for f in forms), page
    token = csrf_of(c, "/jobs")
    r = c.post("/jobs", data={"bundle": sha, "device": "local", "runs": "5", "csrf_token": token},
               headers={"Origin": "http://localhost"})
    assert r.status_code == 302 and re.search(r"/jobs/\d+$", r.headers["Location"])
    r = upload(c, tiny_bundle, url="/bundles", headers={"Referer": "http://localhost/bundles"},
               csrf_token=csrf_of(c, "/bundles"))
    assert r.status_code == 302 and "error" not in r.headers["Location"]
    # a token from another session is refused
    other = app.test_client()
    r = other.post("/jobs", data={"bundle": sha, "device": "local", "csrf_token": token})
    assert r.status_code == 403


def test_cli_and_agent_api_keep_working_on_loopback(bench):
    _, c, sha = bench
    r = c.post("/api/jobs", json={"bundle": sha, "device": "agent:lab", "runs": 5})
    assert r.status_code == 201
    jid = r.json["id"]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = c.post("/api/agent/poll", json={"name": "lab", "instance": "i1"}, headers=auth)
    assert r.status_code == 200 and r.json["job"]["id"] == jid
    r = c.post(f"/api/agent/jobs/{jid}/progress", json={"name": "lab", "instance": "i1", "progress": 0.5,
                                                        "stage": "timing"}, headers=auth)
    assert r.status_code == 200
    r = c.post(f"/api/agent/jobs/{jid}/result", json={"name": "lab", "instance": "i1",
                                                      "result": {"avg_ms": 1.5, "samples_ms": [1.5]}},
               headers=auth)
    assert r.status_code == 200 and c.get(f"/api/jobs/{jid}").json["result"]["avg_ms"] == 1.5
    jid2 = c.post("/api/jobs", json={"bundle": sha, "device": "agent:lab"}).json["id"]
    assert c.post(f"/api/jobs/{jid2}/cancel", headers=CLIENT).status_code == 200


# -- 2. DNS rebinding ---------------------------------------------------------------------
def test_foreign_host_header_is_refused(make_app):
    c = make_app().test_client()
    for host in ("evil.example", "evil.example:8765", "127.0.0.1.evil.example", "localhost.evil.example:80"):
        for path in ("/", "/api/jobs", "/api/health", "/static/app.js"):
            r = c.get(path, headers={"Host": host})
            assert r.status_code == 400, (host, path, r.status_code)
    for host in ("127.0.0.1:8765", "localhost:8765", "localhost", "[::1]:8765", "LOCALHOST:8765"):
        assert c.get("/api/health", headers={"Host": host}).status_code == 200, host


def test_allowed_hosts_come_from_the_bind_address_and_the_option(make_app):
    import socket

    c = make_app(allowed_hosts=["bench.lab"]).test_client()
    assert c.get("/api/health", headers={"Host": "bench.lab:8765"}).status_code == 200
    assert c.get("/api/health", headers={"Host": "other.lab:8765"}).status_code == 400
    c = make_app(bind_host="0.0.0.0").test_client()
    assert c.get("/api/health", headers={"Host": f"{socket.gethostname()}:8765"}).status_code == 200
    # an address literal cannot be rebound: the browser's origin is then the server itself
    assert c.get("/api/health", headers={"Host": "192.168.1.20:8765"}).status_code == 200
    assert c.get("/api/health", headers={"Host": "evil.example:8765"}).status_code == 400


def test_served_process_refuses_a_foreign_host(server_factory):
    srv = server_factory()
    for host, status in (("evil.example", 400), (f"127.0.0.1:{srv.port}", 200)):
        con = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        con.putrequest("GET", "/api/jobs", skip_host=True)
        con.putheader("Host", host)
        con.endheaders()
        r = con.getresponse()
        assert r.status == status, (host, r.status)
        strict(r.read())
        con.close()


# -- 3. data folders ----------------------------------------------------------------------
def test_data_dir_outside_the_data_roots_is_refused_without_a_listing(make_app, tiny_bundle, tmp_path,
                                                                      labelled_dir):
    etc_names = [n for n in os.listdir("/etc") if len(n) >= 5]
    # no --data-root (and no FACELITE_DATA): data folders are refused outright
    app = make_app()
    c = app.test_client()
    sha = upload(c, tiny_bundle).json["sha256"]
    r = c.post("/api/jobs", json={"bundle": sha, "device": "local", "data_dir": "/etc"})
    assert r.status_code == 400 and r.json["field"] == "data_dir" and "--data-root" in r.json["error"]
    assert not any(n in r.json["error"] for n in etc_names)
    assert job_count(app) == 0

    root = tmp_path / "data"
    root.mkdir()
    (root / "faces").symlink_to(labelled_dir, target_is_directory=True)  # a link inside a root may point into another root
    (root / "escape").symlink_to("/etc", target_is_directory=True)
    app = make_app(data_roots=[str(root), str(labelled_dir)])
    c = app.test_client()
    sha = upload(c, tiny_bundle).json["sha256"]
    for bad in ("/etc", str(root / "escape"), str(root / "escape" / "ssl"), f"{root}/../../../etc",
                "relative/path", str(root / "missing")):
        r = c.post("/api/jobs", json={"bundle": sha, "device": "local", "data_dir": bad})
        assert r.status_code == 400 and r.json["field"] == "data_dir", (bad, r.json)
        assert not any(n in r.json["error"] for n in etc_names), (bad, r.json)
    assert job_count(app) == 0
    r = c.post("/api/jobs", json={"bundle": sha, "device": "local", "data_dir": str(root / "faces")})
    assert r.status_code == 201 and r.json["data_dir"] == str(labelled_dir.resolve())


def test_worker_rechecks_a_stored_data_dir(make_app, tiny_bundle, tmp_path):
    from facelite_bench.jobs import Worker

    app = make_app(data_roots=[str(tmp_path)])
    c = app.test_client()
    sha = upload(c, tiny_bundle).json["sha256"]
    store = app.config["BENCH_STORE"]
    jid = store.create_job(sha, "local", None, "cpu", 1, 5, 0, "/etc")  # e.g. queued by an older server
    worker = Worker(store, data_roots=[str(tmp_path)])
    worker.execute(store.claim_job(worker.owner, 30))
    job = store.get_job(jid)
    assert job["status"] == "failed" and job["error_kind"] == "user" and "data root" in job["error"]
    assert "passwd" not in job["error"]


def test_agent_refuses_a_data_dir_outside_its_roots(tmp_path):
    from facelite_bench.agent import Agent

    posted = []

    class FakeServer:
        server = "http://127.0.0.1:1"

        def request(self, method, path, body=None, **kw):
            if path == "/api/agent/poll":
                job = {"id": 7, "bundle_sha256": "0" * 64, "variant": None, "accelerator": "cpu",
                       "threads": 1, "runs": 5, "warmup": 0, "data_dir": "/etc"}
                return 200, {"job": job, "lease_s": 30}
            posted.append((path, body))
            return 200, {"ok": True}

    agent = Agent("http://127.0.0.1:1", "t", name="lab", cache=str(tmp_path), data_roots=[str(tmp_path)])
    agent.client = FakeServer()
    assert agent.poll_once()
    (_, body), = [p for p in posted if p[0].endswith("/result")]
    assert body["kind"] == "user" and "data root" in body["error"] and "passwd" not in body["error"]


# -- 4. JSON bodies -----------------------------------------------------------------------
def test_deeply_nested_json_is_a_400(bench):
    app, c, sha = bench
    bodies = ["[" * 100_000 + "]" * 100_000, "[" * 100_000,
              json.dumps({"bundle": sha, "device": "local", "variant": json.loads("[" * 40 + "]" * 40)})]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for body in bodies:
        for path, headers in (("/api/jobs", {}), ("/api/agent/poll", auth)):
            r = c.post(path, data=body, content_type="application/json", headers=headers)
            assert r.status_code == 400 and r.is_json and "nested" in r.json["error"], (path, r.status_code)
    assert job_count(app) == 0


@pytest.mark.parametrize("raw, field", [
    ('"runs": 1e999', "runs"), ('"runs": NaN', "runs"), ('"runs": -Infinity', "runs"),
    ('"warmup": 1e400', "warmup"), ('"runs": true', "runs"), ('"runs": 1.5', "runs"),
    ('"runs": 1000000000000000000000000000000', "runs"), ('"threads": 0', "threads"), ('"threads": "a"', "threads"),
    ('"warmup": -1', "warmup"), ('"device": "' + "x" * 5000 + '"', "device"), ('"variant": 7', "variant"),
    ('"variant": "' + "v" * 200 + '"', "variant"), ('"accelerator": ["cpu"]', "accelerator"),
    ('"data_dir": "/tmp/a\\u0000b"', "data_dir"), ('"surprise": 1', "surprise"),
])
def test_bad_numbers_and_strings_are_a_400_naming_the_field(bench, raw, field):
    app, c, sha = bench
    body = f'{{"bundle": "{sha}", "device": "local", {raw}}}'
    r = c.post("/api/jobs", data=body, content_type="application/json")
    assert r.status_code == 400 and r.is_json, r.status_code
    assert r.json["field"] == field and field in r.json["error"], r.json
    assert job_count(app) == 0


def test_malformed_bodies_are_a_400(bench):
    _, c, sha = bench
    for body in (b"not json", b"\xff\xfe{", b"[1, 2]", b"", b'"just a string"', b'{"bundle": 1e999999}'):
        r = c.post("/api/jobs", data=body, content_type="application/json")
        assert r.status_code == 400 and r.is_json, (body, r.status_code)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    jid = c.post("/api/jobs", json={"bundle": sha, "device": "agent:lab"}).json["id"]
    c.post("/api/agent/poll", json={"name": "lab", "instance": "i"}, headers=auth)
    for body in ({"name": "lab", "instance": "i", "progress": "half"},
                 {"name": "lab", "instance": "i", "progress": [0.5]},
                 {"name": "lab", "instance": "i", "stage": 5},
                 {"name": "lab", "instance": "i" * 500},
                 {"name": "lab", "instance": "i", "info": "x"}):
        r = c.post(f"/api/agent/jobs/{jid}/progress", json=body, headers=auth)
        assert r.status_code == 400 and r.is_json and r.json.get("field"), (body, r.json)
    # an overlong stage or an out-of-range progress still counts as a heartbeat (clamped, cut)
    r = c.post(f"/api/agent/jobs/{jid}/progress", json={"name": "lab", "instance": "i", "progress": 1.5,
                                                        "stage": "s" * 1000}, headers=auth)
    assert r.status_code == 200
    job = c.get(f"/api/jobs/{jid}").json
    assert job["progress"] == 1.0 and len(job["stage"]) == 200
    for limit in ("-1", "0", "abc"):
        r = c.get(f"/api/jobs?limit={limit}")
        assert r.status_code in (200, 400) and r.is_json


# -- 5. non-finite results ----------------------------------------------------------------
def test_nan_result_from_an_agent_is_refused(bench):
    _, c, sha = bench
    auth = {"Authorization": f"Bearer {TOKEN}"}
    jid = c.post("/api/jobs", json={"bundle": sha, "device": "agent:lab", "runs": 5}).json["id"]
    c.post("/api/agent/poll", json={"name": "lab", "instance": "i"}, headers=auth)
    for raw, field in (('{"avg_ms": NaN, "samples_ms": [1.0]}', "result.avg_ms"),
                       ('{"avg_ms": 1.0, "samples_ms": [1.0, Infinity]}', "result.samples_ms[1]"),
                       ('{"avg_ms": 1.0, "parity": {"psnr_db": -1e999}}', "result.parity.psnr_db")):
        body = f'{{"name": "lab", "instance": "i", "result": {raw}}}'
        r = c.post(f"/api/agent/jobs/{jid}/result", data=body, content_type="application/json", headers=auth)
        assert r.status_code == 400 and r.json["field"] == field, r.get_data(as_text=True)
        assert strict(c.get(f"/api/jobs/{jid}").get_data())["status"] == "running"
    assert c.get(f"/jobs/{jid}").status_code == 200


def test_agent_sends_strict_json_and_ends_a_job_whose_result_is_refused(server_factory, tiny_bundle, tmp_path):
    from facelite_bench.agent import Agent

    srv = server_factory()
    c = Client(srv.url)
    sha = c.upload_bundle(tiny_bundle)["sha256"]
    agent = Agent(srv.url, srv.token, name="lab", cache=str(tmp_path / "cache"))
    results = iter([{"avg_ms": float("nan"), "samples_ms": [1.0, float("inf")]}, {"avg_ms": "fast"}])
    agent.device.run = lambda *a, **kw: next(results)
    first = c.request("POST", "/api/jobs", {"bundle": sha, "device": "agent:lab"})[1]["id"]
    assert agent.poll_once()
    job = c.request("GET", f"/api/jobs/{first}")[1]
    assert job["status"] == "done" and job["result"]["avg_ms"] is None and job["result"]["samples_ms"] == [1.0, None]
    second = c.request("POST", "/api/jobs", {"bundle": sha, "device": "agent:lab"})[1]["id"]
    assert agent.poll_once()
    job = c.request("GET", f"/api/jobs/{second}")[1]
    assert job["status"] == "failed" and "refused" in job["error"] and "result.avg_ms" in job["error"], job


def test_non_finite_numbers_already_stored_read_back_as_null(bench):
    app, c, sha = bench
    store = app.config["BENCH_STORE"]
    nan, inf = float("nan"), float("inf")
    # the server's own runner produced a NaN: it is stored as null
    jid = store.create_job(sha, "local", None, "cpu", 1, 3, 0, None)
    store.claim_job("server:test", 30)
    assert store.finish_job(jid, "server:test", {"avg_ms": nan, "p50_ms": 1.0, "samples_ms": [1.0, nan, inf],
                                                 "parity": {"psnr_db": inf}})
    # a row an older server wrote with a bare NaN in it
    jid2 = store.create_job(sha, "local", None, "cpu", 1, 3, 0, None)
    store.claim_job("server:test", 30)
    assert store.finish_job(jid2, "server:test", {"avg_ms": 2.0, "samples_ms": [2.0]})
    with store.write() as con:
        con.execute("UPDATE results SET data=? WHERE job_id=?",
                    ('{"avg_ms": NaN, "std_ms": Infinity, "samples_ms": [2.0, NaN]}', jid2))
    for url in (f"/api/jobs/{jid}", f"/api/jobs/{jid2}", f"/api/results/{jid}", "/api/compare",
                "/api/jobs?results=1"):
        r = c.get(url)
        assert r.status_code == 200, url
        strict(r.get_data())
    doc = strict(c.get(f"/api/jobs/{jid}").get_data())["result"]
    assert doc["avg_ms"] is None and doc["samples_ms"] == [1.0, None, None] and doc["parity"]["psnr_db"] is None
    for url in (f"/jobs/{jid}", f"/jobs/{jid2}", "/compare", "/jobs", "/"):
        assert c.get(url).status_code == 200, url


# -- 6. uploads -----------------------------------------------------------------------------
def write_zip_bomb(path: Path, inflated: int = 2 << 30) -> Path:
    """A ~2 MB zip whose one member, manifest.json, deflates to `inflated` bytes of zeros.

    Written by hand (one compressed 4 MiB block repeated; a full flush makes each copy
    independent), so building it takes a second rather than deflating GiBs.
    """
    chunk = b"\0" * (4 << 20)
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = co.compress(chunk) + co.flush(zlib.Z_FULL_FLUSH)
    n = inflated // len(chunk)
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(chunk, crc)
    data = block * n + b"\x03\x00"  # an empty final block ends the stream
    name = b"manifest.json"
    size = n * len(chunk)
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data), size, len(name), 0)
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(data), size,
                          len(name), 0, 0, 0, 0, 0o644 << 16, 0)
    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + len(name),
                       len(local) + len(name) + len(data), 0)
    path.write_bytes(local + name + data + central + name + eocd)
    return path


@pytest.fixture(scope="session")
def zip_bomb(tmp_path_factory):
    import zipfile

    path = write_zip_bomb(tmp_path_factory.mktemp("bomb") / "bomb.flb")
    with zipfile.ZipFile(path) as zf:  # a real zip: its member inflates (we read only the start)
        info = zf.getinfo("manifest.json")
        assert info.file_size == 2 << 30 and zf.open(info).read(1 << 20) == b"\0" * (1 << 20)
    assert path.stat().st_size < 4 << 20
    return path


def _vm(pid: int, key: str) -> float:
    """VmRSS / VmHWM (peak RSS) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def test_zip_bomb_upload_is_refused_fast_in_bounded_memory(server_factory, zip_bomb):
    srv = server_factory()
    c = Client(srv.url)
    c.request("GET", "/api/bundles")
    before = _vm(srv.proc.pid, "VmHWM")
    t0 = time.monotonic()
    with pytest.raises(ApiError) as e:
        c.upload_bundle(zip_bomb)
    took = time.monotonic() - t0
    grew = _vm(srv.proc.pid, "VmHWM") - before
    assert e.value.status == 400 and "bomb.flb" in e.value.message, e.value
    assert took < 10.0, f"refusal took {took:.2f}s"  # inflating the 2 GiB took 15 s: a loose bound, not a timing
    assert grew < 100, f"server peak RSS grew by {grew:.0f} MB"
    assert c.request("GET", "/api/bundles")[1]["bundles"] == []
    assert not [p for p in (srv.db.parent / "bench-files" / "bundles").iterdir()]  # nothing kept, no temp left
    print(f"\nFIGURE zip bomb: {zip_bomb.stat().st_size / 1e6:.1f} MB upload (manifest.json inflates to 2 GiB) "
          f"refused with 400 in {took * 1000:.0f} ms; server peak RSS {before:.0f} MB -> +{grew:.1f} MB "
          f"({e.value.message})")


def test_upload_names_are_sanitized_in_store_and_download(bench, tiny_bundle):
    app, c, sha = bench
    store = app.config["BENCH_STORE"]
    with store.write() as con:  # start from a clean slate for this sha
        con.execute("DELETE FROM bundles")
    for name in ("../../etc/passwd.flb", '..\\..\\x".flb', "C:\\Users\\me\\..\\..\\evil.flb", "../../../",
                 ".hidden.flb"):
        with store.write() as con:
            con.execute("DELETE FROM bundles")
        r = upload(c, tiny_bundle, filename=name)
        assert r.status_code == 201, r.json
        stored = store.get_bundle(sha)["filename"]
        assert re.fullmatch(r"[A-Za-z0-9._-]+", stored) and not stored.startswith(".") and ".." not in stored, stored
        d = c.get(f"/api/bundles/{sha}/file").headers["Content-Disposition"]
        assert "/" not in d and "\\" not in d and ".." not in d and "\r" not in d and "\n" not in d, d
    # a name stored by an older server is sanitized on the way out
    with store.write() as con:
        con.execute("UPDATE bundles SET filename=? WHERE sha256=?", ("../../x/../y.flb", sha))
    d = c.get(f"/api/bundles/{sha}/file").headers["Content-Disposition"]
    assert ".." not in d and "/" not in d, d


# -- 8. login beyond loopback -------------------------------------------------------------
def test_login_required_beyond_loopback(make_app, tiny_bundle):
    app = make_app(bind_host="0.0.0.0", admin_token=ADMIN)
    c = app.test_client()
    host = {"Host": "127.0.0.1:8765"}
    r = upload(c, tiny_bundle, headers={**CLIENT, **host})
    assert r.status_code == 401 and "admin token" in r.json["error"]
    for token in (TOKEN, "wrong"):  # the agent token is not a login
        r = upload(c, tiny_bundle, headers={**CLIENT, **host, "Authorization": f"Bearer {token}"})
        assert r.status_code == 401
    admin = {**host, "Authorization": f"Bearer {ADMIN}"}
    sha = upload(c, tiny_bundle, headers={**CLIENT, **admin}).json["sha256"]
    assert c.post("/api/jobs", json={"bundle": sha, "device": "local"}, headers=host).status_code == 401
    r = c.post("/api/jobs", json={"bundle": sha, "device": "local"}, headers=admin)
    assert r.status_code == 201
    assert c.post(f"/api/jobs/{r.json['id']}/cancel", headers={**CLIENT, **host}).status_code == 401
    # reads stay open; agents keep their own token
    assert c.get("/api/jobs", headers=host).status_code == 200
    assert c.post("/api/agent/poll", json={"name": "lab"},
                  headers={**host, "Authorization": f"Bearer {TOKEN}"}).status_code == 204
    # the UI: a form post without a login goes to the login page; logging in needs the admin token
    form = {"bundle": sha, "device": "local", "csrf_token": csrf_of(c, "/jobs", host)}
    r = c.post("/jobs", data=form, headers=host)
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    r = c.post("/login", data={"token": "wrong", "csrf_token": csrf_of(c, "/login", host), "next": "/jobs"}, headers=host)
    assert r.status_code == 401
    r = c.post("/login", data={"token": ADMIN, "csrf_token": csrf_of(c, "/login", host), "next": "/jobs"}, headers=host)
    assert r.status_code == 302 and r.headers["Location"].endswith("/jobs")
    form["csrf_token"] = csrf_of(c, "/jobs", host)  # a new session token after login
    r = c.post("/jobs", data=form, headers=host)
    assert r.status_code == 302 and re.search(r"/jobs/\d+$", r.headers["Location"])
    # an off-site `next` is ignored
    r = c.post("/login", data={"token": ADMIN, "csrf_token": csrf_of(c, "/login", host), "next": "//evil.example/x"},
               headers=host)
    assert r.status_code == 302 and "evil" not in r.headers["Location"]
    c.post("/logout", data={"csrf_token": csrf_of(c, "/jobs", host)}, headers=host)
    form["csrf_token"] = csrf_of(c, "/jobs", host)
    assert "/login" in c.post("/jobs", data=form, headers=host).headers["Location"]
    # loopback keeps today's behaviour: no login
    c2 = make_app(bind_host="127.0.0.1").test_client()
    assert upload(c2, tiny_bundle).status_code in (200, 201)


def test_serve_prints_the_admin_token_when_login_is_required(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, FACELITE_BENCH_TOKEN="t")
    env.pop("FACELITE_BENCH_ADMIN_TOKEN", None)
    p = subprocess.Popen([sys.executable, "-m", "facelite_bench.cli", "serve", "--port", str(port),
                          "--db", str(tmp_path / "b.db"), "--require-login"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = ""
        deadline = time.monotonic() + 60
        while not line.startswith("admin token:") and time.monotonic() < deadline:
            line = p.stderr.readline()
            assert line or p.poll() is None, "serve exited"
        token = line.rsplit(":", 1)[1].strip()
        assert len(token) >= 24
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                Client(f"http://127.0.0.1:{port}").request("GET", "/api/health")
                break
            except OSError:
                time.sleep(0.1)
        with pytest.raises(ApiError) as e:
            Client(f"http://127.0.0.1:{port}").request("POST", "/api/jobs", {"bundle": "x", "device": "local"})
        assert e.value.status == 401
        with pytest.raises(ApiError) as e:  # logged in: now the body is what is wrong
            Client(f"http://127.0.0.1:{port}", token).request("POST", "/api/jobs", {"bundle": "x", "device": "local"})
        assert e.value.status == 400
    finally:
        p.terminate()
        p.wait(10)


def test_strict_json_doc_examples():
    import doctest

    from facelite import strict_json

    assert doctest.testmod(strict_json, optionflags=doctest.ELLIPSIS).failed == 0


def test_strict_json_is_what_python_reads_back():
    from facelite.strict_json import to_json_value as finite_or_none

    assert finite_or_none({"a": [1.0, math.nan, {"b": -math.inf}], "c": "NaN"}) == \
        {"a": [1.0, None, {"b": None}], "c": "NaN"}
