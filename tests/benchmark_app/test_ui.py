"""The web UI in real headless Chromium (Debian's chromium + chromium-driver, selenium).

Submits a job through the UI form, watches its status go live to done, checks the result
page's SVG histogram and CDF, the comparison table, and saves screenshots (PNG) to
$FACELITE_BENCH_SCREENSHOTS or the test's tmp folder.
"""

import os
import shutil
import time
from pathlib import Path

import pytest

from facelite_bench.client import Client

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)

selenium = pytest.importorskip("selenium", reason="selenium is not installed (pip install 'facelite[dev]')")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="headless Chromium is missing: install Debian's chromium and chromium-driver "
           "(scripts/install_system_deps.sh)")


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1300", "--no-proxy-server"):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)
    drv.set_page_load_timeout(30)
    yield drv
    drv.quit()


def wait_for(fn, timeout=60, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            v = fn()
        except Exception:  # noqa: BLE001 - the page may be navigating under us (stale element)
            v = None
        if v:
            return v
        time.sleep(0.2)
    raise TimeoutError(what() if callable(what) else what)


def test_ui_end_to_end(server_factory, browser, tiny_bundle, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    shots = Path(os.environ.get("FACELITE_BENCH_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    srv = server_factory()
    c = Client(srv.url)

    # upload through the UI form
    browser.get(srv.url + "/bundles")
    browser.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(tiny_bundle))
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(lambda: "tiny" in browser.find_element(By.ID, "bundles").text, 20, "bundle listed")
    sha = c.request("GET", "/api/bundles")[1]["bundles"][0]["sha256"]
    # a second job (fp32) through the API, for the comparison table
    fp32 = c.request("POST", "/api/jobs", {"bundle": sha, "device": "local", "variant": "fp32", "runs": 300})[1]

    # submit an int8 job through the jobs form; we land on its page, which updates live
    browser.get(srv.url + "/jobs")
    form = browser.find_element(By.ID, "new-job")
    form.find_element(By.NAME, "variant").send_keys("int8")
    Select(form.find_element(By.NAME, "device")).select_by_visible_text("local")
    runs = form.find_element(By.NAME, "runs")
    runs.clear()
    runs.send_keys("500")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(lambda: "/jobs/" in browser.current_url, 45,
             lambda: f"job page; at {browser.current_url}: {browser.find_element(By.TAG_NAME, 'main').text[:500]}")
    job_id = int(browser.current_url.rsplit("/", 1)[1])
    seen = set()

    def finished():
        try:
            seen.add(browser.find_element(By.ID, "job-status").text)
            return browser.find_elements(By.ID, "latency-histogram")
        except Exception:  # noqa: BLE001 - the page reloads under us
            return None

    wait_for(finished, 90, "job to finish and the page to show its plots")
    assert "done" in seen or browser.find_element(By.ID, "job-status").text == "done"
    assert browser.find_element(By.ID, "job-status").text == "done"

    # result page: numbers, parity, histogram bars and CDF line
    result = c.request("GET", f"/api/results/{job_id}")[1]
    assert browser.find_element(By.ID, "accel").text == result["accelerator"]
    bars = browser.find_elements(By.CSS_SELECTOR, "#latency-histogram rect.bar")
    on_scale = sum(int(b.get_attribute("textContent").rsplit(":", 1)[1]) for b in bars)
    notes = browser.find_elements(By.CSS_SELECTOR, "#latency-histogram text.offscale")
    off = int(notes[0].text.split()[0]) if notes else 0
    assert bars and on_scale + off == 500
    assert browser.find_elements(By.CSS_SELECTOR, "#latency-cdf polyline.cdf")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#latency-histogram line.marker")) == 3
    parity_text = browser.find_element(By.ID, "parity").text
    assert f"{result['parity']['top1_agreement']:.4f}" in parity_text
    box = browser.find_element(By.ID, "latency-histogram").rect
    assert box["width"] > 300 and box["height"] > 150
    browser.save_screenshot(str(shots / "result_page.png"))

    # comparison table across variants
    wait_for(lambda: c.request("GET", f"/api/jobs/{fp32['id']}")[1]["status"] == "done", 60, "fp32 job")
    browser.get(srv.url + f"/compare?bundle={sha}")
    rows = browser.find_elements(By.CSS_SELECTOR, "#compare tbody tr")
    assert len(rows) == 2
    assert {r.find_elements(By.TAG_NAME, "td")[3].text for r in rows} == {"int8", "fp32"}
    assert len(browser.find_elements(By.CSS_SELECTOR, "#compare tr.best")) == 1
    browser.save_screenshot(str(shots / "compare_page.png"))

    # devices page and the live jobs table
    browser.get(srv.url + "/devices")
    assert "local" in browser.find_element(By.ID, "devices").text
    assert "not built" in browser.find_element(By.ID, "devices").text or "native" in browser.page_source
    browser.get(srv.url + "/jobs")
    queued = c.request("POST", "/api/jobs", {"bundle": sha, "device": "agent:ui", "runs": 5})[1]
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, f'tr[data-job="{queued["id"]}"]'), 20,
             "new job appears without a manual reload")
    c.request("POST", f"/api/jobs/{queued['id']}/cancel")
    wait_for(lambda: "cancelled" in browser.find_element(
        By.CSS_SELECTOR, f'tr[data-job="{queued["id"]}"] .status').text, 20, "live status update")
    browser.save_screenshot(str(shots / "jobs_page.png"))
    print(f"\nscreenshots: {shots}")


def test_cross_site_page_cannot_post_to_the_server(server_factory, browser, tiny_bundle, tmp_path):
    """Issue #15: a page on another site, opened in the user's browser, posts a job form and
    uploads a bundle (form and fetch) to the bench server on 127.0.0.1; all are refused."""
    import functools
    import http.server
    import threading

    srv = server_factory()
    c = Client(srv.url)
    sha = c.upload_bundle(tiny_bundle)["sha256"]
    site = tmp_path / "evil"
    site.mkdir()
    (site / "form.html").write_text(
        f'<form id="f" method="post" action="{srv.url}/jobs"><input name="bundle" value="{sha}">'
        '<input name="device" value="local"><input name="runs" value="7"></form>'
        '<script>document.getElementById("f").submit()</script>')
    (site / "fetch.html").write_text(
        '<p id="done">running</p><script>'
        f'var bytes = new Uint8Array({list(tiny_bundle.read_bytes()[:4096])});'
        'var calls = ["/bundles", "/api/bundles", "/api/jobs"].map(function (path) {'
        '  var fd = new FormData(); fd.append("file", new Blob([bytes]), "x.flb");'
        f'  fd.append("bundle", "{sha}"); fd.append("device", "local");'
        f'  return fetch("{srv.url}" + path, {{method: "POST", mode: "no-cors", body: fd, credentials: "include"}})'
        '    .catch(function () {});'
        '});'
        'Promise.all(calls).then(function () { document.getElementById("done").textContent = "sent"; });'
        '</script>')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        browser.get(srv.url + "/jobs")  # the user has the bench UI open: a session cookie exists
        evil_url = f"http://localhost:{evil.server_address[1]}"
        browser.get(evil_url + "/form.html")
        wait_for(lambda: browser.current_url.startswith(srv.url), 20, "the form to post")
        assert "403" in browser.page_source and "cross-site" in browser.page_source, browser.page_source[:2000]
        browser.get(evil_url + "/fetch.html")
        from selenium.webdriver.common.by import By
        wait_for(lambda: browser.find_element(By.ID, "done").text == "sent", 20, "the fetches to finish")
        assert c.request("GET", "/api/jobs")[1]["jobs"] == []
        assert [b["sha256"] for b in c.request("GET", "/api/bundles")[1]["bundles"]] == [sha]
    finally:
        evil.shutdown()
