"""A real `facelite-bench serve` on 127.0.0.1 with real agent processes.

Covers: upload (by sha256), upload size limit (413), local jobs through the worker,
agent token (401), a real agent draining agent jobs, re-queue of a job held by a dead
agent, persistence across a graceful restart and a kill -9, 200 concurrent submissions,
and `run --server`.
"""

import json
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from facelite_bench.client import ApiError, Client

TOKEN = "test-token"


def wait_job(c: Client, job_id: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = c.request("GET", f"/api/jobs/{job_id}")[1]
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise TimeoutError(f"job {job_id} still {job['status']} after {timeout}s")


def start_agent(url, name, tmp_path, *extra, token=TOKEN):
    log = open(tmp_path / f"agent-{name}.log", "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "facelite_bench.cli", "agent", "--server", url, "--token", token,
         "--name", name, "--cache", str(tmp_path / f"cache-{name}"), "--poll-interval", "0.2", *extra],
        stdout=log, stderr=subprocess.STDOUT)


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def srv(server_factory):
    return server_factory(extra=["--lease-timeout", "2"])


def test_upload_local_job_and_api(srv, tiny_bundle):
    c = Client(srv.url)
    b = c.upload_bundle(tiny_bundle)
    assert len(b["sha256"]) == 64 and b["variants"] == ["fp32", "int8"] and "path" not in b
    assert c.upload_bundle(tiny_bundle)["sha256"] == b["sha256"]  # content-addressed, no duplicate
    assert len(c.request("GET", "/api/bundles")[1]["bundles"]) == 1
    status, job = c.request("POST", "/api/jobs", {"bundle": b["sha256"], "device": "local",
                                                  "variant": "int8", "runs": 100})
    assert status == 201 and job["status"] in ("queued", "running")  # the worker may already have it
    job = wait_job(c, job["id"])
    assert job["status"] == "done", job
    r = job["result"]
    assert r["avg_ms"] > 0 and len(r["samples_ms"]) == 100 and r["parity"]["psnr_db"] >= 30
    assert c.request("GET", f"/api/results/{job['id']}")[1]["avg_ms"] == r["avg_ms"]
    rows = c.request("GET", f"/api/compare?bundle={b['sha256']}")[1]["rows"]
    assert rows[0]["job"] == job["id"] and rows[0]["avg_ms"] == r["avg_ms"]
    devices = {d["id"]: d for d in c.request("GET", "/api/devices")[1]["devices"]}
    assert devices["local"]["status"] == "ready" and devices["native"]["status"] in ("not built", "ready")
    # bad submissions are 400 with a message naming the field
    for body, word in (({"bundle": "0" * 64, "device": "local"}, "upload it first"),
                       ({"bundle": b["sha256"], "device": "phone"}, "unknown device"),
                       ({"bundle": b["sha256"], "device": "local", "variant": "x"}, "variant 'x'"),
                       ({"bundle": b["sha256"], "device": "local", "runs": 0}, "runs 0")):
        with pytest.raises(ApiError) as e:
            c.request("POST", "/api/jobs", body)
        assert e.value.status == 400 and word in e.value.message
    # a corrupt upload is refused
    with pytest.raises(ApiError) as e:
        c.request("POST", "/api/bundles", data=b"--x\r\nContent-Disposition: form-data; name=\"file\"; "
                  b"filename=\"bad.flb\"\r\n\r\nnot a zip\r\n--x--\r\n",
                  content_type="multipart/form-data; boundary=x")
    assert e.value.status == 400 and "bad.flb" in e.value.message


def test_upload_size_limit(server_factory, tiny_bundle):
    srv = server_factory(extra=["--max-upload-mb", "0.01"])  # 10 KiB
    with pytest.raises(ApiError) as e:
        Client(srv.url).upload_bundle(tiny_bundle)
    assert e.value.status == 413 and "limit" in e.value.message


def test_agent_token_required(srv):
    c = Client(srv.url)
    for token in (None, "wrong"):
        with pytest.raises(ApiError) as e:
            Client(srv.url, token).request("POST", "/api/agent/poll", {"name": "x"})
        assert e.value.status == 401
    with pytest.raises(ApiError) as e:
        c.request("GET", "/api/agent/bundles/abc")
    assert e.value.status == 401
    # the agent CLI turns a 401 into a user error (exit 2)
    p = subprocess.run([sys.executable, "-m", "facelite_bench.cli", "agent", "--server", srv.url,
                        "--token", "wrong", "--name", "x"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "token" in p.stderr


def test_real_agent_runs_jobs_and_dead_agent_requeue(srv, tiny_bundle, tmp_path):
    c = Client(srv.url)
    sha = c.upload_bundle(tiny_bundle)["sha256"]
    # an agent that takes a job and dies: claimed with the real protocol, never heart-beaten
    dead = Client(srv.url, TOKEN)
    jid = c.request("POST", "/api/jobs", {"bundle": sha, "device": "agent:lab", "runs": 30})[1]["id"]
    st, doc = dead.request("POST", "/api/agent/poll", {"name": "lab", "instance": "dead"})
    assert st == 200 and doc["job"]["id"] == jid
    assert c.request("GET", f"/api/jobs/{jid}")[1]["status"] == "running"
    t_dead = time.monotonic()
    # a real agent process on the same queue
    agent = start_agent(srv.url, "lab", tmp_path)
    try:
        jid2 = c.request("POST", "/api/jobs", {"bundle": sha, "device": "agent:lab", "variant": "fp32",
                                               "runs": 40})[1]["id"]
        job = wait_job(c, jid, timeout=60)
        requeue_s = time.monotonic() - t_dead
        assert job["status"] == "done" and job["requeued"] >= 1 and job["attempts"] >= 2, job
        assert job["result"]["agent"]["name"] == "lab"
        job2 = wait_job(c, jid2, timeout=60)
        assert job2["status"] == "done" and job2["result"]["variant"] == "fp32"
        # the dead agent's late result is refused
        with pytest.raises(ApiError) as e:
            dead.request("POST", f"/api/agent/jobs/{jid}/result", {"name": "lab", "instance": "dead",
                                                                   "result": {"avg_ms": 1}})
        assert e.value.status == 409
        devices = {d["id"]: d for d in c.request("GET", "/api/devices")[1]["devices"]}
        assert devices["agent:lab"]["status"] == "online"
        print(f"\nFIGURE requeue: job {jid} held by a dead agent was re-queued and finished "
              f"{requeue_s:.1f}s later (lease timeout 2s)")
    finally:
        stop(agent)


def test_restart_keeps_finished_results(server_factory, tiny_bundle, tmp_path):
    db = tmp_path / "persist.db"
    srv = server_factory(db=db)
    c = Client(srv.url)
    sha = c.upload_bundle(tiny_bundle)["sha256"]
    ids = [c.request("POST", "/api/jobs", {"bundle": sha, "device": "local", "variant": v, "runs": 50})[1]["id"]
           for v in ("int8", "fp32")]
    before = {i: wait_job(c, i)["result"] for i in ids}
    assert all(before.values())
    queued = c.request("POST", "/api/jobs", {"bundle": sha, "device": "agent:nobody", "runs": 5})[1]["id"]
    # 1) graceful stop (SIGTERM) and start on the same db
    srv.stop()
    t0 = time.monotonic()
    srv2 = server_factory(db=db)
    up_s = time.monotonic() - t0
    c2 = Client(srv2.url)
    after = {i: c2.request("GET", f"/api/results/{i}")[1] for i in ids}
    assert after == before
    assert c2.request("GET", f"/api/jobs/{queued}")[1]["status"] == "queued"
    # 2) crash (kill -9) right after a result landed, and start again
    extra = c2.request("POST", "/api/jobs", {"bundle": sha, "device": "local", "runs": 20})[1]["id"]
    before[extra] = wait_job(c2, extra)["result"]
    srv2.proc.send_signal(signal.SIGKILL)
    srv2.proc.wait(10)
    srv3 = server_factory(db=db)
    c3 = Client(srv3.url)
    assert {i: c3.request("GET", f"/api/results/{i}")[1] for i in before} == before
    stats = c3.request("GET", "/api/stats")[1]
    assert stats["jobs"]["results"] == len(before)
    print(f"\nFIGURE restart: {len(before)} finished results identical after SIGTERM restart "
          f"(server up again in {up_s:.2f}s) and after kill -9; queued job kept queued")


def test_200_concurrent_submissions(srv, tiny_bundle):
    c = Client(srv.url, timeout=60)
    sha = c.upload_bundle(tiny_bundle)["sha256"]

    def submit(i):
        body = {"bundle": sha, "device": "agent:bulk", "variant": ("int8", "fp32")[i % 2],
                "runs": 10 + i, "threads": 1 + i % 2}
        try:
            st, doc = c.request("POST", "/api/jobs", body)
            return st, doc["id"]
        except Exception as exc:  # noqa: BLE001 - counted as an error
            return repr(exc), None

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=200) as pool:
        out = list(pool.map(submit, range(200)))
    wall = time.monotonic() - t0
    errors = [s for s, _ in out if s != 201]
    ids = {i for _, i in out if i is not None}
    assert not errors, errors[:5]
    assert len(ids) == 200
    jobs = c.request("GET", "/api/jobs?device=agent:bulk&limit=1000")[1]["jobs"]
    assert len(jobs) == 200 and {j["id"] for j in jobs} == ids
    assert {j["runs"] for j in jobs} == set(range(10, 210))  # every body stored as sent
    print(f"\nFIGURE concurrency: 200 concurrent POST /api/jobs (200 client threads) in {wall:.2f}s, "
          f"0 errors, 200 distinct ids, 200 rows stored")


def test_run_against_server(srv, tiny_bundle, tmp_path):
    agent = start_agent(srv.url, "remote1", tmp_path)
    try:
        p = subprocess.run([sys.executable, "-m", "facelite_bench.cli", "run", str(tiny_bundle),
                            "--device", "agent:remote1", "--variant", "int8", "--runs", "50",
                            "--server", srv.url, "--json"], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        doc = json.loads(p.stdout)
        assert doc["device"] == "agent:remote1" and doc["parity"]["psnr_db"] >= 30 and "job" in doc
        assert "queued on" in p.stderr
        p = subprocess.run([sys.executable, "-m", "facelite_bench.cli", "run", str(tiny_bundle),
                            "--device", "phone", "--server", srv.url], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 2 and "unknown device" in p.stderr
    finally:
        stop(agent)


def test_binds_loopback_by_default():
    from facelite_bench.cli import command_line

    assert command_line().parser.parse_args(["serve"]).host == "127.0.0.1"
