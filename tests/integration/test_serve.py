"""`cmsref serve` as a tool in another language meets it: a real server process on a free loopback port, every
endpoint over HTTP, figures checked against known values (CMS's PFREV25C for 76145 in 01182:18)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def start(db):
    """The server's log goes to a file beside the warehouse (a pipe nobody reads could fill and stall it); `log(proc)`
    reads it back for a failure's message."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with open(Path(db).parent / f"serve-{port}.log", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "cmsref.cli", "serve", "--db", str(db), "--port", str(port)],
                                stderr=err, stdout=err, text=True, env={**os.environ})
    proc.log = Path(err.name)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/api/versions", timeout=2).close()
            break
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(log(proc))
            time.sleep(0.3)
    return proc, base


@pytest.fixture(scope="module")
def server(mirror_db):
    proc, base = start(mirror_db)
    yield base
    proc.terminate()
    proc.wait(timeout=20)


def log(proc) -> str:
    return proc.log.read_text(errors="replace")[-4000:]


def get(url, data=None):
    req = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None,
                                 headers={"Content-Type": "application/json"})
    try:
        r = urllib.request.urlopen(req, timeout=60)
    except urllib.error.HTTPError as e:
        r = e
    with r:
        raw = r.read()
        status = r.status if hasattr(r, "status") else r.code
        try:
            return status, {k.lower(): v for k, v in r.headers.items()}, json.loads(raw)
        except ValueError:
            raise AssertionError(f"{url}: HTTP {status}, not JSON: {raw[:500]!r}") from None


def test_versions(server):
    status, _, body = get(f"{server}/api/versions")
    assert status == 200
    (v,) = body["versions"]
    assert v["data_version"] == "2026.2" and len(v["manifest_sha256"]) == 64 and "pfs/2024B/r1" in v["releases"]


def test_national_payment_with_version_headers(server):
    status, headers, body = get(f"{server}/api/latest/payment?hcpcs=37252&date=2024-06-01")
    assert status == 200 and headers["x-cmsref-version"] == "2026.2" and headers["cache-control"] == "no-cache"
    assert {a["setting"]: a["amount"] for a in body["amounts"]} == {"facility": "86.21", "non_facility": "927.06"}
    assert body["manifest_sha256"] == headers["x-cmsref-manifest-sha256"] == headers["etag"].strip('"')
    assert {body["source_files"][a["rvu_source_sha256"]]["file"] for a in body["amounts"]} == {"PPRRVU24_APR.csv"}
    assert all(len(a["rvu_source_sha256"]) == 64 and a["rvu_source_row"] > 0 and a["release_id"] == "pfs/2024B/r1"
               and (a["work_gpci"], a["work_rvu"], a["conversion_factor"]) == ("1.000", "1.80", "33.2875")
               for a in body["amounts"])
    _, pinned, _ = get(f"{server}/api/2026.2/payment?hcpcs=37252&date=2024-06-01")
    assert "immutable" in pinned["cache-control"]


def test_locality_payment_equals_cms_pfrev25c(server):
    status, _, body = get(f"{server}/api/2026.2/payment?hcpcs=76145&date=2025-11-01&locality=01182:18")
    assert status == 200
    assert {a["setting"]: a["amount"] for a in body["amounts"]} == {"facility": "1132.57", "non_facility": "1132.57"}
    assert body["amounts"][0]["locality_name"].startswith("LOS ANGELES")


def test_everything_about_a_code(server):
    status, _, body = get(f"{server}/api/latest/codes/37252?date=2024-06-01")
    assert status == 200
    assert body["pfs"][0]["work_rvu"] == "1.80" and body["pfs"][0]["status_code"] == "A"
    assert {s["setting"]: s["indicator"] for s in body["settings"]}["asc_pi"] == "N1"
    assert body["asc"][0]["payment_indicator"] == "N1"
    assert body["source_files"][body["asc"][0]["source_sha256"]]["file"] == "AA.csv"  # each row's file named
    assert set(body["source_files"]) >= {r["source_sha256"] for r in body["pfs"] + body["asc"]}
    _, _, body = get(f"{server}/api/latest/codes/37253?date=2026-05-01")
    assert {m["service_type"]: (m["mue_value"], m["mai"]) for m in body["mue"]} == {"practitioner": (5, 3)}
    # 37252 stopped being a primary of 37253 after 2019 (AOC file); 37220 ended with 2025; 0075T still counts
    primaries = {p["primary_code"] for p in body["addon_primaries"]}
    assert "0075T" in primaries and "37252" not in primaries and "37220" not in primaries


def test_lines_as_the_first_request_of_a_fresh_server(mirror_db):
    """The first request a server thread answers may be a batch of lines (it once met the connection's unfinished
    version lookup and failed with a 500)."""
    from fastapi.testclient import TestClient

    from cmsref.serve import create_app

    with TestClient(create_app(mirror_db)) as client:
        r = client.post("/api/latest/lines", json={"lines": [{"hcpcs": "37252", "date_of_service": "2024-06-01"}]})
    assert r.status_code == 200 and r.json()["lines"][0]["pfs_amount"] == "927.06"


def test_claim_lines_in_one_request(server):
    lines = [{"hcpcs": "37252", "units": 1, "date_of_service": "2024-06-01", "setting": "facility"},
             {"hcpcs": "37253", "units": 6, "date_of_service": "2026-05-01"},
             {"hcpcs": "0075T", "units": 1, "date_of_service": "2026-05-01"}]
    status, _, body = get(f"{server}/api/latest/lines", {"lines": lines})
    assert status == 200
    first, second, _ = body["lines"]
    assert (first["pfs_amount"], first["pfs_period"]) == ("86.21", "2024B")
    assert (second["mue_value"], second["mue_status"]) == (5, "exceeds")
    assert second["addon_status"] == "allowed primary on claim"  # 0075T is on the claim
    assert [line["pfs_status"] for line in body["lines"]] == ["priced"] + [  # the mirror's PFS ends with 2025
        "no data: no PFS release covers the date of service"] * 2
    status, _, odd = get(f"{server}/api/latest/lines", {"lines": [
        {"hcpcs": "37252", "date_of_service": "2019-06-01"},                          # before the first PFS release
        {"hcpcs": "37252", "modifier": "TC", "date_of_service": "2024-06-01"},        # no such modifier for it
        {"hcpcs": "37252", "date_of_service": "2024-06-01", "locality": "01182:18"},  # Los Angeles, non-facility
    ]})
    assert status == 200 and [(line["pfs_status"], line["pfs_amount"]) for line in odd["lines"]] == [
        ("no data: no PFS release covers the date of service", None),
        ("code and modifier not in the PFS release in effect", None),
        ("priced", "1091.93")]  # (1.80 x 1.042 + 25.70 x 1.194 + .35 x .69) x 33.2875
    status, _, bad = get(f"{server}/api/latest/lines", {"lines": [lines[0], {**lines[0], "locality": "01182:99"}]})
    assert status == 400 and bad["parameter"] == "lines[1].locality" and "'01182:99'" in bad["detail"]
    # lines that name their claim are judged per claim: MUE units per claim and day, add-on primaries per claim
    two = [{**lines[1], "units": 3, "claim": "a"}, {**lines[1], "units": 3, "claim": "b"}, {**lines[2], "claim": "b"}]
    _, _, claims = get(f"{server}/api/latest/lines", {"lines": two})
    assert [(c["claim"], c["units_compared"], c["mue_status"], c["addon_status"]) for c in claims["lines"][:2]] == [
        ("a", 3, "within", "no allowed primary on claim"), ("b", 3, "within", "allowed primary on claim")]
    _, _, one = get(f"{server}/api/latest/lines", {"lines": [{k: v for k, v in c.items() if k != "claim"}
                                                              for c in two]})
    assert [(c["units_compared"], c["mue_status"]) for c in one["lines"][:2]] == [(6, "exceeds")] * 2
    status_b = get(f"{server}/api/latest/lines", {"lines": [{"hcpcs": "99380", "date_of_service": "2024-06-01"}]})
    assert status_b[2]["lines"][0]["pfs_status"] == "status B: not paid from the fee schedule amount"
    _, _, alone = get(f"{server}/api/latest/lines", {"lines": [lines[1]]})
    assert alone["lines"][0]["addon_status"] == "no allowed primary on claim"
    many = [{"hcpcs": "37252", "units": 1, "date_of_service": "2024-06-01"}] * 10_000
    started = time.monotonic()
    status, _, body = get(f"{server}/api/latest/lines", {"lines": many})
    assert status == 200 and len(body["lines"]) == 10_000 and body["lines"][-1]["pfs_amount"] == "927.06"
    assert time.monotonic() - started < 60  # correctness bound only; speed targets live in tests/benchmarks


@pytest.mark.parametrize("path, status, parameter", [
    ("/api/latest/payment?hcpcs=3725&date=2024-06-01", 400, "hcpcs"),
    ("/api/latest/payment?hcpcs=37252%0A&date=2024-06-01", 400, "hcpcs"),  # a trailing newline is not a code
    ("/api/latest/payment?hcpcs=37252&date=2024-13-45", 400, "date"),
    ("/api/latest/payment?hcpcs=37252&date=2024-W23-6", 400, "date"),  # ISO week dates are not YYYY-MM-DD
    ("/api/latest/payment?hcpcs=37252&date=20240601", 400, "date"),
    ("/api/latest/payment?hcpcs=37252", 400, "date"),  # missing: 400, not the framework's 422
    ("/api/latest/payment?hcpcs=37252&date=2024-06-01&locality=01182", 400, "locality"),
    ("/api/latest/payment?hcpcs=99999&date=2019-06-01&locality=99999:99", 400, "locality"),  # checked first
    ("/api/latest/payment?hcpcs=37252&date=2024-06-01&modifier=TCX", 400, "modifier"),
    ("/api/latest/payment?hcpcs=37252&date=2024-06-01&modifier=26%0A", 400, "modifier"),
    ("/api/latest/codes/37252?date=June", 400, "date"),
    ("/api/latest/codes/37252", 400, "date"),
    ("/code/37252?date=2024-06-01&locality=99999:99", 400, "locality"),
    ("/code?hcpcs=37252&date=2024-06-01&locality=99999:99", 400, "locality"),
    ("/diff?a=2024B", 400, "b"),
    ("/diff?a=zzz&b=2024B", 400, "a"),
    ("/source/" + "a" * 64 + "?row=abc", 400, "row"),
])
def test_bad_input_is_a_400_naming_the_parameter(server, path, status, parameter):
    got, _, body = get(server + path)
    assert got == status and body["parameter"] == parameter and body["detail"]


@pytest.mark.parametrize("line, parameter", [
    ({"hcpcs": 37252}, "lines[0].hcpcs"), ({"hcpcs": ["37252"]}, "lines[0].hcpcs"), ({"hcpcs": "37252\n"},
                                                                                      "lines[0].hcpcs"),
    ({"modifier": 26}, "lines[0].modifier"), ({"modifier": 0}, "lines[0].modifier"),
    ({"date_of_service": 20240601}, "lines[0].date_of_service"), ({"locality": 1182}, "lines[0].locality"),
    ({"locality": 0}, "lines[0].locality"), ({"locality": {"mac": "01182"}}, "lines[0].locality"),
    ({"units": True}, "lines[0].units"), ({"units": 2**31}, "lines[0].units"), ({"units": 1.5}, "lines[0].units"),
    ({"units": "3"}, "lines[0].units"), ({"unit": 3}, "lines[0].unit"),  # a misspelt field is not a default
    ({"locality": "01182:99"}, "lines[0].locality"), ({"hcpcs": None}, "lines[0].hcpcs"),
])
def test_a_claim_line_of_the_wrong_type_is_a_400_naming_its_field(server, line, parameter):
    good = {"hcpcs": "37252", "units": 1, "date_of_service": "2024-06-01"}
    status, _, body = get(f"{server}/api/latest/lines", {"lines": [{**good, **line}]})
    assert (status, body["parameter"]) == (400, parameter) and len(body["detail"]) < 200, body


def raw(url, data: bytes | None, method="POST") -> tuple[int, object, bytes]:
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_bodies_that_are_not_a_lines_object_or_too_large_are_refused_without_echoing_them(server):
    for data in (b"[1]", b'"x"', b"", b"\xff\xfe\x00"):
        status, _, body = raw(f"{server}/api/latest/lines", data)
        assert status == 400 and json.loads(body)["parameter"] == "body", (data, body)
    status, _, body = raw(f"{server}/api/latest/lines", b'{"lines": [' + b"1," * 9_000_000 + b"1]}")  # 18 MB
    assert status == 413 and json.loads(body)["parameter"] == "body" and len(body) < 300
    huge = json.dumps({"lines": [{"hcpcs": "A" * 5_000_000, "date_of_service": "2024-06-01"}]}).encode()
    status, _, body = raw(f"{server}/api/latest/lines", huge)
    assert status == 400 and len(body) < 300  # the value is not sent back


def test_a_body_naming_a_key_twice_or_an_unknown_key_is_a_400_over_http(server):
    status, _, body = raw(f"{server}/api/latest/lines", b'{"lines": [{"hcpcs": "37252", "units": 1, "units": 9, '
                                                        b'"date_of_service": "2024-06-01"}]}')
    assert status == 400 and json.loads(body)["parameter"] == "lines[0].units", body
    status, _, body = raw(f"{server}/api/latest/lines", b'{"lines": [], "claims": []}')
    assert status == 400 and json.loads(body)["parameter"] == "claims", body


def test_the_current_etag_is_a_304_with_the_version_headers_and_no_body(server):
    url = f"{server}/api/2026.2/codes/37252?date=2024-06-01"
    _, headers, _ = raw(url, None, "GET")
    for asked in (headers["ETag"], f'"stale", W/{headers["ETag"]}', "*"):
        req = urllib.request.Request(url, headers={"If-None-Match": asked})
        with pytest.raises(urllib.error.HTTPError) as got:  # urllib counts a 304 as an error
            urllib.request.urlopen(req, timeout=60)
        assert got.value.code == 304 and got.value.read() == b""
        assert got.value.headers["X-Cmsref-Version"] == "2026.2" and got.value.headers["ETag"] == headers["ETag"]
    req = urllib.request.Request(url, headers={"If-None-Match": '"' + "0" * 64 + '"'})
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.status == 200 and json.loads(r.read())["hcpcs"] == "37252"


def test_head_and_the_version_headers_of_every_answer(server):
    status, headers, body = raw(f"{server}/api/versions", None, "HEAD")
    assert status == 200 and body == b"" and headers["X-Cmsref-Version"] == "2026.2"
    _, headers, _ = raw(f"{server}/code/37252?date=2024-06-01&version=2026.2", None, "GET")
    assert headers["X-Cmsref-Version"] == "2026.2" and "immutable" in headers["Cache-Control"]
    status, headers, _ = raw(f"{server}/api/2026.2/payment?hcpcs=99999&date=2024-06-01", None, "GET")
    assert status == 404 and headers["ETag"].strip('"') == headers["X-Cmsref-Manifest-Sha256"]


def test_unknown_version_or_code_is_a_404_and_an_unknown_locality_a_400_that_explain(server):
    status, _, body = get(f"{server}/api/1999.1/payment?hcpcs=37252&date=2024-06-01")
    assert status == 404 and body["detail"] == "unknown data version '1999.1'; published: 2026.2"  # no file path
    status, text = fetch(f"{server}/code/99999?date=2024-06-01")
    assert status == 404 and "99999 is in no table in effect on 2024-06-01" in text and '<form action="/code"' in text
    status, text = fetch(f"{server}/notes/latest")
    assert status == 200 and "2026.2" in text
    status, _, body = get(f"{server}/api/latest/payment?hcpcs=37252&date=2024-06-01&locality=01182:99")
    assert status == 400 and body["parameter"] == "locality"  # a locality that does not exist is bad input
    assert "in data version 2026.2: MAC 01182 has localities 17, 18, 26, 71" in body["detail"]
    status, _, body = get(f"{server}/api/latest/payment?hcpcs=37252&date=2024-06-01&locality=99999:01")
    assert status == 400 and body["parameter"] == "locality" and "no GPCI file has MAC 99999" in body["detail"]
    status, _, body = get(f"{server}/api/latest/payment?hcpcs=37252&date=2019-06-01&locality=01182:18")
    assert status == 404 and "no loaded PFS release covers that date" in body["detail"]
    status, _, body = get(f"{server}/api/latest/codes/ZZZZZ?date=2024-06-01")
    assert status == 404


def test_a_port_in_use_is_one_line_and_a_non_zero_exit(mirror_db):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "cmsref.cli", "serve", "--db", str(mirror_db), "--port", str(port)],
                             capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and out.stderr.strip() == (
        f"cmsref: error: cannot listen on 127.0.0.1:{port}: Address already in use (another server on that port? "
        f"choose one with --port)")


def test_openapi_schema_lists_the_endpoints(server):
    status, _, body = get(f"{server}/openapi.json")
    assert status == 200
    assert {"/api/versions", "/api/{version}/payment", "/api/{version}/codes/{hcpcs}",
            "/api/{version}/lines"} <= set(body["paths"])


def test_a_publish_while_serving_is_picked_up_for_latest_without_a_restart(mirror_db, tmp_path, monkeypatch):
    from cmsref import pipeline
    from tests.helpers import SHARED, home_with_copy

    db = home_with_copy(mirror_db, tmp_path, monkeypatch)
    proc, base = start(db)
    try:
        assert get(f"{base}/api/latest/payment?hcpcs=37252&date=2024-06-01")[1]["x-cmsref-version"] == "2026.2"
        guide = SHARED / "vendor-guides" / "ivus-2024-coding-reimbursement-guide.pdf"
        assert pipeline.import_vendor_guide(guide, db=db).data_version == "2026.2.1"  # a new version is published
        _, headers, body = get(f"{base}/api/latest/payment?hcpcs=37252&date=2024-06-01")
        assert headers["x-cmsref-version"] == "2026.2.1" and body["amounts"][0]["amount"] == "86.21"
        assert get(f"{base}/api/2026.2/payment?hcpcs=37252&date=2024-06-01")[1]["x-cmsref-version"] == "2026.2"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def fetch(url) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_the_code_page_shows_every_setting_with_sources_and_a_chart(server):
    import re

    status, text = fetch(f"{server}/code/37252?date=2024-06-01&locality=01182:18")
    assert status == 200 and text.startswith("<!DOCTYPE html>") and '<html lang="en">' in text
    assert "86.21" in text and "927.06" in text and "87.96" in text  # national and Los Angeles facility
    local = text[text.index("<h2>Payment in 01182:18"):]
    local = local[:local.index("</table>")]
    assert "1.042, 1.194, 0.690" in local and local.count('href="/source/') == 4  # RVU and GPCI row of each amount
    assert "national: all 1" in text
    assert "Packaged service/item; no separate payment made." in text and "<svg" in text and "<script" not in text
    assert '<label for="hcpcs">' in text and '<th scope="col">' in text
    link = re.search(r'href="(/source/[0-9a-f]{64}\?row=\d+)"', text).group(1)
    status, source = fetch(server + link)
    assert status == 200 and "PPRRVU" in source and "row" in source.lower()
    # the search box: a form that lands on the code page of what was typed
    status, other = fetch(f"{server}/code?hcpcs=37253&date=2026-05-01")
    assert status == 200 and "<h1>37253 on 2026-05-01</h1>" in other and "0075T" in other


def test_the_index_page_lists_versions_notes_reports_and_compares(server):
    import re

    status, text = fetch(server + "/")
    assert status == 200 and "2026.2" in text and 'href="/notes/2026.2"' in text
    report = re.search(r'href="(/reports/[^"]+)"', text).group(1)
    status, html = fetch(server + report)
    assert status == 200 and "<html" in html.lower()
    status, notes = fetch(server + "/notes/2026.2")
    assert status == 200 and "cmsref data version 2026.2" in notes
    status, _ = fetch(server + "/diff?a=2026.2&b=2026.2")
    assert status == 200


def test_the_code_page_in_a_real_browser(server, tmp_path):
    """Debian's chromium driven by Playwright (its own browser download cannot work offline): the figures, a source
    link followed, the search box used, a screenshot kept under the test's folder; then the interactive API docs."""
    import shutil

    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:  # a failure, never a skip: the README's set-up installs it
        pytest.fail("chromium is not installed: run the README's set-up, bash scripts/setup (it runs apt-get install "
                    "-y chromium)", pytrace=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1600})
            page.goto(f"{server}/code/37252?date=2024-06-01")
            assert page.locator("h1").inner_text() == "37252 on 2024-06-01"
            national = page.locator("h2:has-text('National payment') + table").inner_text()
            assert "86.21" in national and "927.06" in national
            page.screenshot(path=str(tmp_path / "code-37252.png"), full_page=True)
            page.locator("a[href^='/source/']").first.click()
            assert page.locator("h1").inner_text().startswith("Source file ")
            assert "PPRRVU24_APR.csv" in page.content()
            page.go_back()
            page.fill("#hcpcs", "37253")
            page.fill("#date", "2026-05-01")
            page.click("button[type=submit]")
            assert page.locator("h1").inner_text() == "37253 on 2026-05-01"
            assert (tmp_path / "code-37252.png").stat().st_size > 10_000
            # the interactive API docs render offline: every file they load comes from the server itself
            elsewhere = []
            page.on("request", lambda r: None if r.url.startswith((server, "blob:")) else elsewhere.append(r.url))
            page.goto(f"{server}/docs")
            page.locator(".opblock-summary-path", has_text="/api/{version}/payment").first.wait_for(timeout=20_000)
            assert page.locator(".opblock").count() >= 4 and elsewhere == []
            page.goto(f"{server}/redoc")  # renders offline too; only its decorative "powered by" logo is remote
            page.get_by_text("/api/{version}/lines").first.wait_for(timeout=20_000)
            assert set(elsewhere) <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}
        finally:
            browser.close()


def test_twenty_clients_while_a_new_version_is_published(mirror_db, tmp_path, monkeypatch):
    """A bounded load (20 clients, 2,000 requests, loopback only) while a build publishes: no request fails, and
    every answer is internally consistent with the version it names."""
    import threading

    from cmsref import pipeline
    from tests.helpers import SHARED, home_with_copy

    db = home_with_copy(mirror_db, tmp_path, monkeypatch)
    proc, base = start(db)
    errors, seen = [], []
    lock = threading.Lock()

    # one request in 25 asks for a code's whole record, one in 50 prices claim lines: each endpoint answers throughout
    # the publish, from one version start to end
    line = {"hcpcs": "37252", "date_of_service": "2024-06-01", "setting": "facility"}

    def ask(i):
        if i % 50 == 49:
            status, headers, body = get(f"{base}/api/latest/lines", {"lines": [line, line]})
            return status, headers, body, [x["pfs_amount"] for x in body.get("lines", ())] == ["86.21", "86.21"]
        if i % 25 == 24:
            status, headers, body = get(f"{base}/api/latest/codes/37252?date=2024-06-01")
            return status, headers, body, [p["work_rvu"] for p in body.get("pfs", ())] == ["1.80"]
        status, headers, body = get(f"{base}/api/latest/payment?hcpcs=37252&date=2024-06-01")
        return status, headers, body, {a["setting"]: a["amount"] for a in body.get("amounts", ())} == {
            "facility": "86.21", "non_facility": "927.06"}

    def client(n):
        for i in range(100):
            try:
                status, headers, body, right = ask(n + i)
                ok = (status == 200 and headers["x-cmsref-version"] == body["data_version"]
                      and headers["x-cmsref-manifest-sha256"] == body["manifest_sha256"] and right)
                with lock:
                    seen.append(body.get("data_version"))
                    if not ok:
                        errors.append((n, i, status, body))
            except Exception as exc:  # noqa: BLE001 - every failure counts, whatever its kind
                with lock:
                    errors.append((n, i, repr(exc)))
    try:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
        for t in threads:
            t.start()
        guide = SHARED / "vendor-guides" / "ivus-2024-coding-reimbursement-guide.pdf"
        assert pipeline.import_vendor_guide(guide, db=db).data_version == "2026.2.1"
        for t in threads:
            t.join(timeout=300)
        assert errors == [] and len(seen) == 2_000, log(proc)
        assert set(seen) <= {"2026.2", "2026.2.1"}
        assert get(f"{base}/api/latest/payment?hcpcs=37252&date=2024-06-01")[2]["data_version"] == "2026.2.1"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert not list(db.parent.glob("cmsref.duckdb.serving-*"))  # the server removed its links on the way out
