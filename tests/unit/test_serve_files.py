"""Which file `cmsref serve` reads: a publish that renames a new warehouse over the old one is answered for `latest`
on the next request, whether the server can hard-link the file or must copy it; links of a killed server are
removed; two servers in one process keep to their own paths. Tiny warehouses published in code."""

import tempfile
from decimal import Decimal
from datetime import date
from pathlib import Path

import duckdb
from fastapi.testclient import TestClient

from cmsref.serve import create_app
from tests.builders import built
from warehouse.publish import publish

URL = "/api/latest/payment?hcpcs=37252&date=2024-08-01"


def version_and_amount(client) -> tuple[str, str]:
    r = client.get(URL)
    assert r.status_code == 200, r.text
    return r.headers["x-cmsref-version"], r.json()["amounts"][0]["amount"]


def warehouse(tmp_path):
    db = tmp_path / "w.duckdb"
    publish(db, [built("2024B", date(2024, 4, 1), "b")])
    return db


def test_without_hard_links_a_private_copy_still_follows_each_publish(tmp_path, monkeypatch):
    import os

    def no_link(*_):
        raise PermissionError("protected_hardlinks")

    monkeypatch.setattr(os, "link", no_link)
    before = set(Path(tempfile.gettempdir()).glob("cmsref-serve-*"))
    db = warehouse(tmp_path)
    with TestClient(create_app(db)) as client:
        assert version_and_amount(client) == ("2024.2", "86.21")  # (1.80 + .44 + .35) x 33.2875, facility
        held = duckdb.connect(str(db), read_only=True)  # as another thread still reading the old file would
        publish(db, [built("2024C", date(2024, 7, 1), "c", work="2.00")])
        assert version_and_amount(client) == ("2024.3", "92.87")
        assert client.get("/api/2024.2/payment?hcpcs=37252&date=2024-08-01").json()["amounts"][0]["amount"] == "86.21"
        assert not list(tmp_path.glob("w.duckdb.serving-*"))  # read from copies in a temporary folder
        held.close()
    assert not [p for p in Path(tempfile.gettempdir()).glob("cmsref-serve-*") if p not in before]  # removed


def test_links_of_a_killed_server_go_and_a_live_servers_stay(tmp_path):
    import os

    db = warehouse(tmp_path)
    dead = db.with_name("w.duckdb.serving-999999999-0a0b0c0d-123")  # no such process
    live = db.with_name(f"w.duckdb.serving-{os.getppid()}-0a0b0c0d-123")  # a process that exists
    old_style = db.with_name("w.duckdb.serving-999999999-123")  # named by an earlier cmsref
    for path in (dead, live, old_style):
        os.link(db, path)
    with TestClient(create_app(db)) as client:
        version_and_amount(client)
    assert not dead.exists() and not old_style.exists() and live.exists()


def test_two_servers_in_one_process_keep_their_own_paths(tmp_path):
    db = warehouse(tmp_path)
    with TestClient(create_app(db)) as first:
        assert version_and_amount(first)[0] == "2024.2"
        with TestClient(create_app(db)) as second:
            assert version_and_amount(second)[0] == "2024.2"
        assert len(list(tmp_path.glob("w.duckdb.serving-*"))) == 1  # the first one's link is still there
        publish(db, [built("2024C", date(2024, 7, 1), "c", work="2.00")])
        assert version_and_amount(first) == ("2024.3", "92.87")  # the second one's shutdown took nothing of it
    assert not list(tmp_path.glob("w.duckdb.serving-*"))


def test_lines_choose_the_qp_factor_on_request_and_price_only_what_the_pfs_pays(tmp_path):
    db = tmp_path / "w.duckdb"
    publish(db, [built("2026A", date(2026, 1, 1), "a", factors={"qp": "33.4009", "non_qp": "33.0607"})])
    line = {"hcpcs": "37252", "date_of_service": "2026-02-01", "setting": "facility"}
    with TestClient(create_app(db)) as client:
        got = client.post("/api/latest/lines", json={"lines": [line, {**line, "qp": True}]}).json()["lines"]
        assert [(g["pfs_amount"], g["pfs_cf_variant"], g["pfs_status"]) for g in got] == [
            ("85.63", "non_qp", "priced"), ("86.51", "qp", "priced")]  # 2.59 x 33.0607, 2.59 x 33.4009
        assert client.post("/api/latest/lines", json={"lines": [{**line, "qp": "yes"}]}).json()["parameter"] == \
            "lines[0].qp"
    publish(db, [built("2026B", date(2026, 4, 1), "b", status="B", factors={"non_qp": "33.0607"})])
    with TestClient(create_app(db)) as client:
        got = client.post("/api/latest/lines", json={"lines": [{**line, "date_of_service": "2026-05-01"}]}).json()
        assert (got["lines"][0]["pfs_status_code"], got["lines"][0]["pfs_status"]) == (
            "B", "status B: not paid from the fee schedule amount")


def test_payment_caches_are_kept_for_the_most_recently_asked_versions_only():
    from cmsref.serve import connections

    versions = connections.Versions.__new__(connections.Versions)  # only the cache bookkeeping is under test
    versions.lock, versions.caches = __import__("threading").Lock(), {}
    first = versions.payments("v1", "a")
    for n in range(2, connections.MAX_CACHED_VERSIONS + 1):
        versions.payments(f"v{n}", "a")
    assert versions.payments("v1", "a") is first  # asked again: now the most recent
    versions.payments("new", "a")
    assert len(versions.caches) == connections.MAX_CACHED_VERSIONS and ("v2", "a") not in versions.caches
    assert versions.payments("v1", "a") is first


def test_pfs_check_refuses_a_locality_without_its_mac(tmp_path):
    from warehouse.api import open_version

    con = open_version(warehouse(tmp_path), "latest")
    try:
        con.execute("CREATE TEMP TABLE t AS SELECT * FROM (VALUES ('37252', DATE '2024-06-01', NULL, '18'), "
                    "('37252', DATE '2024-06-01', NULL, NULL)) t(hcpcs, date_of_service, mac, locality)")
        assert con.execute("SELECT locality, pfs_amount, pfs_status FROM pfs_check('t') ORDER BY line_no").fetchall() \
            == [("?:18", None, "mac and locality are given together, or neither"),
                ("national", Decimal("927.06"), "priced")]
    finally:
        con.close()
