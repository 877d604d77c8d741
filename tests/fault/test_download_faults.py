"""Download faults: cms.gov misbehaving, seen through `cmsref build` against the local stand-in (real sockets).

Every case starts from a copy of the baseline warehouse and asserts (1) the exit status and the message the user
sees, (2) how many requests each URL got (what was retried, what was not), (3) that the warehouse's data versions
and rows are exactly as before (or, where the download recovers, what was published).

2024B's zip is catalogued with its URL and a SHA-256 pin; the stand-in serves the real bytes
(../shared/cms-mirror/pfs_rvu/RVU24B/rvu24b-updated-03-18-2024.zip). The baseline already holds them, so a
download that recovers ends in "nothing new to publish". 2025B has only a landing page: its zip is found by a
link on it, and publishes a new data version when it arrives.
"""

from __future__ import annotations

import time

import pytest
import requests

from extract.catalog import load_dataset
from tests.helpers import query
from tests.fault import cms_standin as s
from tests.fault.helpers import assert_one_new_version, assert_unchanged, leftovers
from tests.fault.sources import SOURCES, companions

pytestmark = pytest.mark.integration

ZIP_24B = "https://www.cms.gov/files/zip/rvu24b-updated-03/18/2024.zip"
PIN_24B = "a03497146b0fb1440df785208fecb320c66a12aaac449d856533dc5a1be6da57"
LANDING_25B = load_dataset("pfs").release("2025B").landing_page
UNCHANGED_24B = "nothing new to publish: the sources of pfs/2024B/r1 are unchanged"


def build_24b(cli):
    return cli("--period", "2024B")


def serve_25b(world, members=None) -> str:
    src = SOURCES["pfs"]
    return world.cms.add_release_zip(world.mirror, "pfs", "2025B", src.zip_name,
                                     members if members is not None else {**companions("pfs"), src.member: src.good()})


# ------------------------------------------------------------------------------------ retried, then recovered
def test_http_500_twice_then_success_with_the_shipped_backoff(world_unpatched, cli):
    """The downloader as shipped: two 500s, then the file. Its backoff (1 s, then 2 s) is not configurable."""
    w = world_unpatched
    w.cms.fault(ZIP_24B, s.status(500, times=2))
    started = time.monotonic()
    r = build_24b(cli)
    elapsed = time.monotonic() - started
    assert r.code == 0 and UNCHANGED_24B in r.text
    assert "retrying" in r.text and "attempt 2 of 5" in r.text and "attempt 3 of 5" in r.text and "HTTP 500" in r.text
    assert w.cms.hits(ZIP_24B) == 3
    assert elapsed >= 3.0  # 1 s + 2 s of backoff: a real build cannot shorten it
    assert_unchanged(w)


def test_connection_reset_twice_then_success(world, cli):
    world.cms.fault(ZIP_24B, s.reset(times=2))
    r = build_24b(cli)
    assert r.code == 0 and UNCHANGED_24B in r.text
    assert "ConnectionError" in r.text and "attempt 3 of 5" in r.text
    assert world.cms.hits(ZIP_24B) == 3
    assert_unchanged(world)


def test_connection_reset_in_the_middle_of_the_body_then_success(world, cli):
    world.cms.fault(ZIP_24B, s.reset(times=1, after_bytes=200_000))
    r = build_24b(cli)
    assert r.code == 0 and UNCHANGED_24B in r.text
    assert "attempt 2 of 5" in r.text
    assert world.cms.hits(ZIP_24B) == 2
    assert_unchanged(world)


def test_stalled_response_times_out_then_success(world, cli):
    """The first answer stalls past the read timeout (0.5 s here, 60 s as shipped); the retry gets the file. The
    stall (15 s) is far longer than a whole build on a busy 2-core machine, so the time bound below cannot flake."""
    world.cms.fault(ZIP_24B, s.stall(15.0, times=1))
    started = time.monotonic()
    r = build_24b(cli)
    assert r.code == 0 and UNCHANGED_24B in r.text
    assert "Read timed out" in r.text and "attempt 2 of 5" in r.text
    assert world.cms.hits(ZIP_24B) == 2
    assert time.monotonic() - started < 12.0  # it did not wait for the stalled answer
    assert_unchanged(world)


def test_truncated_body_is_retried(world, cli):
    """Content-Length promises the whole zip; half arrives and the connection closes."""
    world.cms.fault(ZIP_24B, s.truncate(times=1))
    r = build_24b(cli)
    assert r.code == 0 and UNCHANGED_24B in r.text
    assert "attempt 2 of 5" in r.text
    assert world.cms.hits(ZIP_24B) == 2
    assert_unchanged(world)


def test_content_length_longer_than_the_body_is_retried(world, cli):
    world.cms.fault(ZIP_24B, s.content_length(+4096, times=1))
    r = build_24b(cli)
    assert r.code == 0 and UNCHANGED_24B in r.text
    assert "attempt 2 of 5" in r.text and ("IncompleteRead" in r.text or "truncated body" in r.text)
    assert world.cms.hits(ZIP_24B) == 2
    assert_unchanged(world)


def test_landing_page_zip_500_once_then_published(world, cli):
    """2025B: the zip is found on the landing page; its first request fails, the retry publishes a new version."""
    url = serve_25b(world)
    world.cms.fault(url, s.status(500, times=1))
    r = cli("--period", "2025B")
    assert r.code == 0 and "published data version" in r.out and "new releases: pfs/2025B/r1" in r.out
    assert world.cms.hits(LANDING_25B) == 1 and world.cms.hits(url) == 2
    new = assert_one_new_version(world, "pfs/2025B/r1")
    assert new["store.pfs_rvu"] == SOURCES["pfs"].data_rows()  # every row of RVU25D's PPRRVU, served as 2025B
    assert source_urls(world.db, "pfs/2025B/r1") == {"https://www.cms.gov/files/zip/rvu25b.zip"}


def source_urls(db, release_id):
    return {r[0] for r in query(db, "SELECT url FROM meta.source_files WHERE release_id = ? AND kind = 'pprrvu'",
                                [release_id])}


# ------------------------------------------------------------------------------------ retried, then given up
def test_persistent_503_gives_up_after_five_attempts(world, cli):
    world.cms.fault(ZIP_24B, s.status(503, times=None))
    r = build_24b(cli)
    assert r.code == 1
    assert f"cmsref: error: giving up on {world.cms.url(ZIP_24B)} after 5 attempts; last error: HTTP 503" in r.err
    assert world.cms.hits(ZIP_24B) == 5
    assert_unchanged(world)


def test_stalling_every_time_gives_up(world, cli):
    world.cms.fault(ZIP_24B, s.stall(3.0, times=None))
    r = build_24b(cli)
    assert r.code == 1 and "giving up on" in r.text and "after 5 attempts" in r.text and "timed out" in r.text
    assert world.cms.hits(ZIP_24B) == 5
    assert_unchanged(world)


# ------------------------------------------------------------------------------------ refused at once (no retry)
def test_http_404(world, cli):
    world.cms.fault(ZIP_24B, s.status(404, times=None))
    r = build_24b(cli)
    assert r.code == 1 and f"cmsref: error: HTTP 404 Not Found for {world.cms.url(ZIP_24B)}" in r.err
    assert world.cms.hits(ZIP_24B) == 1
    assert_unchanged(world)


def test_redirect_loop(world, cli):
    world.cms.fault(ZIP_24B, s.redirect(s.path_of(ZIP_24B)))
    r = build_24b(cli)
    assert r.code == 1 and "too many redirects (redirect loop?)" in r.text and "Exceeded 30 redirects" in r.text
    assert world.cms.hits(ZIP_24B) == 31  # the request and 30 redirects (requests' limit), then no retry
    assert_unchanged(world)


def test_license_page_instead_of_the_zip(world, cli):
    """CMS's AMA click-through: HTML until the license is accepted (a cookie set by the accept link).

    cmsref cannot accept a license: it recognises the page, says so clearly and stops, without retrying.
    """
    world.cms.fault(ZIP_24B, s.license_page())
    r = build_24b(cli)
    assert r.code == 1
    assert f"an HTML page was served where a zip was expected from {world.cms.url(ZIP_24B)}" in r.text
    assert "(page title: 'License Agreement | CMS')" in r.text and "license/click-through page" in r.text
    assert world.cms.hits(ZIP_24B) == 1
    assert not [p for p in world.cms.all_hits() if p.startswith(s.LICENSE_PATH)]  # never tried to accept it
    assert_unchanged(world)
    # The stand-in does serve the file once the license is accepted the way a browser does it:
    with requests.Session() as browser:
        page = browser.get(world.cms.url(ZIP_24B))
        assert page.headers["Content-Type"].startswith("text/html") and b"License Agreement" in page.content
        accept = world.cms.url(f"{s.LICENSE_PATH}?file={s.path_of(ZIP_24B)}&agree=yes")
        got = browser.get(accept)
        assert got.status_code == 200 and got.content[:4] == b"PK\x03\x04"
        import hashlib

        assert hashlib.sha256(got.content).hexdigest() == PIN_24B


def test_file_whose_sha256_differs_from_the_catalog_pin(world, cli):
    other = s.make_zip({"PPRRVU24_APR.csv": b"HCPCS,MOD\n"})
    world.cms.fault(ZIP_24B, s.body(other))
    r = build_24b(cli)
    assert r.code == 1
    assert f"SHA-256 mismatch for {world.cms.url(ZIP_24B)}: expected {PIN_24B}" in r.text
    assert "the file was not kept" in r.text
    assert world.cms.hits(ZIP_24B) == 1
    assert not list((world.home / "cache").rglob("*.zip"))  # not in the cache either
    assert_unchanged(world)


def test_content_length_shorter_than_the_body(world, cli):
    """A Content-Length 4 kB short: the client reads exactly what was declared, believes it complete, and the
    pin catches the short file. Not retried (a mismatch is taken as a changed file, not a transient fault)."""
    world.cms.fault(ZIP_24B, s.content_length(-4096, times=1))
    r = build_24b(cli)
    assert r.code == 1 and "SHA-256 mismatch" in r.text and "the file was not kept" in r.text
    assert world.cms.hits(ZIP_24B) == 1
    assert_unchanged(world)


def test_empty_body(world, cli):
    world.cms.fault(ZIP_24B, s.body(b""))
    r = build_24b(cli)
    assert r.code == 1 and f"the body from {world.cms.url(ZIP_24B)} is not a zip archive (starts with b''" in r.text
    assert world.cms.hits(ZIP_24B) == 1
    assert_unchanged(world)


def test_valid_zip_without_the_pprrvu_member(world, cli):
    url = serve_25b(world, {"GPCI2025.csv": b"Medicare GPCIs\r\n", "25LOCCO.csv": b"Counties\r\n"})
    r = cli("--period", "2025B")
    assert r.code == 1
    assert ("cmsref: error: release pfs:2025B: no PPRRVU, ANES, OPPSCAP file among its sources (['25LOCCO.csv', "
            "'GPCI2025.csv']); every pfs release has one") in r.err
    assert world.cms.hits(LANDING_25B) == 1 and world.cms.hits(url) == 1
    assert_unchanged(world)


def test_landing_page_404(world, cli):
    r = cli("--period", "2025B")  # the stand-in has no rvu25b page yet
    assert r.code == 1 and "cmsref: error: release pfs:2025B: landing page unreachable: HTTP 404 Not Found for " \
        f"{world.cms.url(LANDING_25B)}" in r.err and "--mirror" in r.err
    assert world.cms.hits(LANDING_25B) == 1
    assert_unchanged(world)


def test_landing_page_without_a_link_to_the_zip(world, cli):
    world.cms.routes[s.path_of(LANDING_25B)] = s._Route(
        data=b'<html><body><a href="/files/zip/rvu25a.zip">January</a></body></html>', content_type="text/html")
    r = cli("--period", "2025B")
    assert r.code == 1
    assert "no zip link matching 'rvu25b'" in r.err and "links seen: ['/files/zip/rvu25a.zip']" in r.err
    assert world.cms.hits(LANDING_25B) == 1 and world.cms.hits("/files/zip/rvu25a.zip") == 0
    assert_unchanged(world)


def test_landing_page_500_is_retried_like_a_file(world, cli):
    """The landing page goes through the same downloader as the zips: one transient 503 is retried."""
    url = serve_25b(world)
    world.cms.fault(LANDING_25B, s.status(503, times=1))
    r = cli("--period", "2025B")
    assert r.code == 0 and "new releases: pfs/2025B/r1" in r.out, r.text
    assert world.cms.hits(LANDING_25B) == 2 and world.cms.hits(url) == 1
    assert_one_new_version(world, "pfs/2025B/r1")
    assert leftovers(world) == []
