"""Pricing by ZIP code over HTTP on the whole-mirror build (CMS's real October 2025 ZIP file, PFS RVU25D): /payment,
/codes and /lines take a ZIP code and price it exactly as its locality; one the file cannot place is never guessed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cmsref.serve import create_app

pytestmark = pytest.mark.integration

DAY = "2025-11-01"


@pytest.fixture(scope="module")
def client(mirror_db):
    with TestClient(create_app(mirror_db)) as client:
        yield client


def amounts(body) -> dict:
    return {a["setting"]: str(a["amount"]) for a in body["amounts"]}


@pytest.mark.parametrize("code, zip_code, locality", [
    ("37252", "90210", "01182:18"), ("99214", "10001-0001", "13202:01"), ("93000", "77030", "04412:18")])
def test_payment_by_zip_is_payment_by_its_locality(client, code, zip_code, locality):
    by_zip = client.get(f"/api/latest/payment?hcpcs={code}&date={DAY}&zip={zip_code}")
    by_locality = client.get(f"/api/latest/payment?hcpcs={code}&date={DAY}&locality={locality}")
    assert by_zip.status_code == by_locality.status_code == 200
    assert by_zip.json()["amounts"] == by_locality.json()["amounts"] and by_zip.json()["locality"] == locality
    place = by_zip.json()["zip"]
    assert (place["zip"], place["locality"], place["period"], place["release_id"]) == (
        zip_code, locality, "2025-10", "zip/2025-10/r1")
    assert place["source_sha256"] in by_zip.json()["source_files"]  # the ZIP file's row is cited like every source


def test_37252_in_beverly_hills(client):
    body = client.get(f"/api/latest/payment?hcpcs=37252&date={DAY}&zip=90210").json()
    assert amounts(body) == {"facility": "86.08", "non_facility": "1012.62"}
    assert body["zip"]["source_row"] == 2540


@pytest.mark.parametrize("query, status, parameter, text", [
    ("zip=00000", 400, "zip", "ZIP code 00000 is not in the ZIP code to carrier locality file of 2025-10"),
    ("zip=9021", 400, "zip", "'9021' is not a ZIP code (5 digits, or 9 with an optional dash"),
    ("zip=90210&locality=01182:18", 400, "zip", "give a zip or a locality, not both"),
    ("zip=02324", 404, None, "ZIP code 02324 spans localities"),
])
def test_a_zip_that_cannot_be_priced_says_why(client, query, status, parameter, text):
    r = client.get(f"/api/latest/payment?hcpcs=99214&date={DAY}&{query}")
    assert r.status_code == status
    body = r.json()
    assert text in str(body)
    if parameter:
        assert body["parameter"] == parameter


def test_a_date_no_zip_file_covers_names_the_loaded_windows(client):
    r = client.get("/api/latest/payment?hcpcs=99214&date=2025-06-01&zip=90210")
    assert r.status_code == 404 and "Loaded windows (end exclusive): 2025-10 2025-10-01..2026-01-01" in str(r.json())


def test_codes_with_a_zip_add_the_payment_in_its_locality(client):
    body = client.get(f"/api/latest/codes/37252?date={DAY}&zip=90210").json()
    assert body["zip"]["locality"] == "01182:18"
    assert {a["setting"]: str(a["amount"]) for a in body["pfs_zip_payment"]} == {"facility": "86.08",
                                                                                 "non_facility": "1012.62"}
    spans = client.get(f"/api/latest/codes/37252?date={DAY}&zip=02324").json()
    assert spans["zip"]["locality"] is None and spans["pfs_zip_payment"] == []
    assert client.get(f"/api/latest/codes/37252?date={DAY}&zip=00000").status_code == 400


def test_lines_take_a_zip_field(client):
    lines = [{"hcpcs": "99214", "date_of_service": DAY, "zip": "10001"},
             {"hcpcs": "99214", "date_of_service": DAY, "locality": "13202:01"},
             {"hcpcs": "99214", "date_of_service": DAY, "zip": "02324"}]
    r = client.post("/api/latest/lines", json={"lines": lines})
    assert r.status_code == 200
    got = [(x["zip"], x["locality"], None if x["pfs_amount"] is None else str(x["pfs_amount"]), x["pfs_status"])
           for x in r.json()["lines"]]
    assert got == [("10001", "13202:01", "142.07", "priced"), (None, "13202:01", "142.07", "priced"),
                   ("02324", None, None, "ZIP code spans localities: its +4 and the ZIP+4 file (not loaded) are "
                                         "needed")]


@pytest.mark.parametrize("line, parameter", [
    ({"zip": "00000"}, "lines[1].zip"), ({"zip": "902"}, "lines[1].zip"),
    ({"zip": "90210", "locality": "01182:18"}, "lines[1].zip"),
])
def test_a_bad_zip_on_a_line_is_a_400_naming_it(client, line, parameter):
    lines = [{"hcpcs": "99214", "date_of_service": DAY}, {"hcpcs": "99214", "date_of_service": DAY, **line}]
    r = client.post("/api/latest/lines", json={"lines": lines})
    assert r.status_code == 400 and r.json()["parameter"] == parameter


def test_the_code_page_takes_a_zip(client):
    page = client.get(f"/code/37252?date={DAY}&zip=90210")
    assert page.status_code == 200 and "Payment in 01182:18" in page.text and "1012.62" in page.text
    spans = client.get(f"/code/37252?date={DAY}&zip=02324")
    assert spans.status_code == 404 and "spans localities" in spans.text
    found = client.get(f"/code?hcpcs=37252&date={DAY}&zip=90210", follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"/code/37252?date={DAY}&zip=90210"


def test_the_search_form_takes_a_zip(client):
    """The form a person fills in has a ZIP box; a browser sends the empty locality box along with it."""
    index = client.get("/")
    assert '<input id="zip" name="zip"' in index.text
    found = client.get(f"/code?hcpcs=37252&date={DAY}&locality=&zip=90210", follow_redirects=True)
    assert found.status_code == 200 and "Payment in 01182:18" in found.text and "1012.62" in found.text
