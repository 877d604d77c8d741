"""What `cmsref serve` makes of a request's headers and body: If-None-Match with the ETag of the answer is a 304 with
the version headers and no body; a JSON body that names a key twice, or a /lines body with a key other than
`lines`, is a 400 naming the key and where it is. A tiny warehouse published in code."""

from __future__ import annotations

import json
from datetime import date

import pytest
from fastapi.testclient import TestClient

from cmsref.serve import create_app

VERSIONED = [  # every GET that answers with an ETag (the data version's manifest)
    "/api/versions",
    "/api/latest/payment?hcpcs=37252&date=2024-08-01",
    "/api/2024.2/payment?hcpcs=37252&date=2024-08-01",
    "/api/latest/codes/37252?date=2024-08-01",
    "/code/37252?date=2024-08-01",
    "/code/37252?date=2024-08-01&version=2024.2",
]
LINE = {"hcpcs": "37252", "date_of_service": "2024-08-01"}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from tests.builders import built
    from warehouse.publish import publish

    db = tmp_path_factory.mktemp("serve-requests") / "cmsref.duckdb"
    publish(db, [built("2024B", date(2024, 4, 1), "b")])
    with TestClient(create_app(db)) as client:
        yield client


@pytest.fixture(scope="module")
def etag(client) -> str:
    return client.get("/api/versions").headers["etag"]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("form", ["exact", "in a list", "weak", "star"])
@pytest.mark.parametrize("url", VERSIONED)
def test_if_none_match_with_the_current_etag_is_a_304_with_the_version_headers(client, etag, url, form, method):
    asked = {"exact": etag, "in a list": f'"0123", {etag}', "weak": f"W/{etag}", "star": "*"}[form]
    fresh = client.request(method, url)
    r = client.request(method, url, headers={"If-None-Match": asked})
    assert r.status_code == 304 and r.content == b"", r.text
    for header in ("etag", "x-cmsref-version", "x-cmsref-manifest-sha256", "cache-control"):
        assert r.headers[header] == fresh.headers[header]
    assert "content-type" not in r.headers


@pytest.mark.parametrize("url", VERSIONED)
def test_a_stale_etag_gets_the_whole_answer(client, url):
    r = client.get(url, headers={"If-None-Match": '"' + "0" * 64 + '", W/"older"'})
    assert r.status_code == 200 and r.content and r.headers["x-cmsref-version"] == "2024.2"


def test_an_error_is_never_a_304(client, etag):
    """A 404 or 400 carries the version's ETag too, but a conditional request is judged on a 200 only (RFC 9110)."""
    r = client.get("/api/latest/payment?hcpcs=99999&date=2024-08-01", headers={"If-None-Match": etag})
    assert r.status_code == 404 and r.headers["etag"] == etag
    r = client.get("/api/latest/payment?hcpcs=37252&date=2024-08-01&locality=01182:99",
                   headers={"If-None-Match": "*"})
    assert r.status_code == 400
    r = client.post("/api/latest/lines", json={"lines": [LINE]}, headers={"If-None-Match": etag})
    assert r.status_code == 200 and r.json()["lines"]  # a POST is answered whole


@pytest.mark.parametrize("raw, parameter, key", [
    ('{"lines": [{"hcpcs": "37252", "units": 1, "units": 9, "date_of_service": "2024-08-01"}]}', "lines[0].units",
     "units"),
    ('{"lines": [{"hcpcs": "37252", "date_of_service": "2024-08-01"}, {"hcpcs": "37252", "date_of_service": '
     '"2024-08-01"}, {"hcpcs": "37252", "hcpcs": "37253", "date_of_service": "2024-08-01"}]}', "lines[2].hcpcs",
     "hcpcs"),
    ('{"lines": [{"hcpcs": "37252", "date_of_service": "2024-08-01"}], "lines": [{"hcpcs": "37253", '
     '"date_of_service": "2024-08-01"}]}', "body", "lines"),
    ('{"lines": [{"hcpcs": "37252", "date_of_service": "2024-08-01", "locality": {"mac": "1", "mac": "2"}}]}',
     "lines[0].locality.mac", "mac"),
    ('{"lines": [{"hcpcs": "37252", "date_of_service": "2024-08-01", "qp": false, "qp": true}]}', "lines[0].qp",
     "qp"),
    ('{"a": {"b": 1, "b": 2}, "a": 3, "lines": []}', "body", "a"),  # the inner object is dropped with its key
])
def test_a_key_given_twice_is_a_400_naming_it_and_where(client, raw, parameter, key):
    r = client.post("/api/latest/lines", content=raw.encode(), headers={"Content-Type": "application/json"})
    got = r.json()
    assert (r.status_code, got["error"], got["parameter"]) == (400, "bad input", parameter), got
    assert f"key '{key}' appears more than once" in got["detail"]


@pytest.mark.parametrize("body, parameter, named", [
    ({"lines": [LINE], "claims": []}, "claims", "'claims'"),
    ({"line": [LINE]}, "line", "'line'"),  # a misspelt `lines`
    ({"lines": [LINE], "version": "2024.2", "dry_run": True}, "dry_run", "'dry_run', 'version'"),
])
def test_a_lines_body_with_a_key_other_than_lines_is_a_400_naming_them(client, body, parameter, named):
    r = client.post("/api/latest/lines", json=body)
    got = r.json()
    assert (r.status_code, got["parameter"]) == (400, parameter) and named in got["detail"], got


@pytest.mark.parametrize("raw", [b"", b"{", b"[1]", b'"x"', b"\xff\xfe\x00", b"[" * 100_000 + b"]" * 100_000,
                                 b'{"lines": []}', b'{"lines": 5}'])
def test_bodies_that_are_no_lines_object_are_still_a_400_naming_body_or_lines(client, raw):
    r = client.post("/api/latest/lines", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["parameter"] in ("body", "lines") and len(r.content) < 400, r.text


def test_a_body_without_duplicates_is_priced_as_before(client):
    body = json.dumps({"lines": [LINE, {**LINE, "units": 2, "setting": "facility"}]})
    r = client.post("/api/latest/lines", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and [line["pfs_amount"] for line in r.json()["lines"]] == ["927.06", "86.21"]
