"""`cmsref serve` never answers 500 and never names a path of its server: a missing, damaged or foreign warehouse is a
503 on every endpoint (API and pages) whose JSON says what is wrong and what to run, with one line in the server's
log; an altered data version is a 503 naming the version and table; cmsref's own errors get the status they mean, and
any other error is a generic 503 logged as one line. A tiny warehouse published in code (tests/builders.py), damaged
in a copy per test: the server's faults need no real release."""

from __future__ import annotations

import logging
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from core.errors import AlteredDataError, CmsrefError, NoDataError

SHA = "a" * 64
ENDPOINTS = [  # every route a client or a person reaches, with arguments that a sound warehouse answers
    ("GET", "/api/versions", None),
    ("GET", "/api/latest/payment?hcpcs=37252&date=2024-08-01", None),
    ("HEAD", "/api/2024.2/payment?hcpcs=37252&date=2024-08-01", None),
    ("GET", "/api/latest/codes/37252?date=2024-08-01", None),
    ("POST", "/api/latest/lines", {"lines": [{"hcpcs": "37252", "date_of_service": "2024-08-01"}]}),
    ("GET", "/", None),
    ("GET", "/code/37252?date=2024-08-01", None),
    ("GET", "/code?hcpcs=37252&date=2024-08-01", None),
    ("GET", f"/source/{SHA}?row=1", None),
    ("GET", "/notes/latest", None),
    ("GET", "/diff?a=2024.2&b=2024.2", None),
    ("GET", "/reports/pfs/2024B/r1", None),
]


@pytest.fixture(scope="module")
def sound(tmp_path_factory) -> Path:
    """One published PFS release (2024B: 37252), built once for the module; tests copy it before harming it."""
    from tests.builders import built
    from warehouse.publish import publish

    db = tmp_path_factory.mktemp("serve-sound") / "cmsref.duckdb"
    publish(db, [built("2024B", date(2024, 4, 1), "b")])
    return db


def overwritten(sound: Path, db: Path, start: int = 3 * 4096) -> None:
    """A copy whose blocks are overwritten from `start` (by default the first, after DuckDB's file headers) to three
    quarters of the file (a disk or copy fault): their checksums no longer match their bytes."""
    shutil.copyfile(sound, db)
    size = db.stat().st_size
    with open(db, "r+b") as f:
        f.seek(start)
        f.write(b"\xde\xad\xbe\xef" * ((3 * size // 4 - start) // 4))


def truncated(sound: Path, db: Path) -> None:
    """A copy cut to half its size (a full disk, an interrupted copy)."""
    shutil.copyfile(sound, db)
    with open(db, "r+b") as f:
        f.truncate(db.stat().st_size // 2)


def foreign(sound: Path, db: Path) -> None:
    """A valid DuckDB database that is not a cmsref warehouse (no meta.data_versions)."""
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t AS SELECT 1")
    con.close()


def not_duckdb(sound: Path, db: Path) -> None:
    db.write_text("id,name\n1,not a database\n")


def missing(sound: Path, db: Path) -> None:
    pass


FAULTS = {  # how the file is harmed -> the `error` of the 503
    "missing": (missing, "no warehouse"),
    "overwritten": (overwritten, "damaged warehouse"),
    "truncated": (truncated, "damaged warehouse"),
    "foreign": (foreign, "not a cmsref warehouse"),
    "not_duckdb": (not_duckdb, "not a cmsref warehouse"),
}


def ask(client: TestClient, method: str, url: str, body=None):
    return client.request(method, url, json=body)


def no_path(text: str, db: Path) -> None:
    """Nothing of the server's filesystem: not its folders, not the warehouse's name, not the name of its link."""
    for leak in (str(db.parent), db.name, ".serving-", "/tmp", str(Path.home())):
        assert leak not in text, (leak, text)


def one_line_logged(caplog, *expected: str) -> str:
    """The server's log holds exactly one record for the request: one line, no traceback."""
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(records) == 1, [r.getMessage() for r in records]
    (record,) = records
    line = record.getMessage()
    assert "\n" not in line and record.exc_info is None and record.exc_text is None, line
    for text in expected:
        assert text in line, (text, line)
    return line


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("method, url, body", ENDPOINTS, ids=[f"{m} {u.split('?')[0]}" for m, u, _ in ENDPOINTS])
def test_a_warehouse_that_cannot_answer_is_a_503_that_says_what_to_run_on_every_endpoint(
        sound, tmp_path, caplog, fault, method, url, body):
    from cmsref.serve import create_app

    harm, error = FAULTS[fault]
    db = tmp_path / "cmsref.duckdb"
    harm(sound, db)
    with TestClient(create_app(db)) as client, caplog.at_level(logging.WARNING):
        r = ask(client, method, url, body)
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/json" and r.headers["cache-control"] == "no-store"
    no_path(str(r.headers) + r.text, db)
    if method != "HEAD":
        got = r.json()
        assert set(got) == {"error", "detail"} and got["error"] == error, got
        assert "`cmsref build`" in got["detail"] and ("restore" in got["detail"] or fault == "missing"), got
    one_line_logged(caplog, url.split("?")[0], str(db))


def test_a_damaged_file_is_named_for_what_happened_to_it(sound, tmp_path):
    from cmsref.serve import create_app

    for harm, said in ((overwritten, "checksum"), (truncated, "cut short"), (foreign, "meta.data_versions"),
                       (not_duckdb, "not a DuckDB database")):
        db = tmp_path / harm.__name__ / "cmsref.duckdb"
        db.parent.mkdir()
        harm(sound, db)
        with TestClient(create_app(db)) as client:
            assert said in client.get("/api/versions").json()["detail"]


@pytest.mark.parametrize("method, url, body", ENDPOINTS[1:5], ids=[f"{m} {u.split('?')[0]}" for m, u, _ in
                                                                  ENDPOINTS[1:5]])
def test_a_damaged_part_met_by_a_query_is_a_503_too(sound, tmp_path, caplog, method, url, body):
    """Only the middle half overwritten: the file opens and its catalog reads, and DuckDB meets the damage when a
    query reads the blocks it needs (a block is read only when needed)."""
    from cmsref.serve import create_app

    db = tmp_path / "cmsref.duckdb"
    overwritten(sound, db, start=sound.stat().st_size // 4)
    with TestClient(create_app(db)) as client, caplog.at_level(logging.WARNING):
        r = ask(client, method, url, body)
    assert r.status_code == 503, r.text
    no_path(str(r.headers) + r.text, db)
    if method != "HEAD":
        assert r.json()["error"] == "damaged warehouse" and "checksum" in r.json()["detail"]
    one_line_logged(caplog, str(db))


def test_a_folder_in_the_warehouse_s_place_is_a_503(tmp_path, caplog):
    from cmsref.serve import create_app

    db = tmp_path / "cmsref.duckdb"
    db.mkdir()
    with TestClient(create_app(db)) as client, caplog.at_level(logging.WARNING):
        r = client.get("/api/versions")
    assert r.status_code == 503 and r.json()["error"] == "unreadable warehouse", r.text
    no_path(r.text, db)
    one_line_logged(caplog, str(db))


def test_the_server_answers_again_once_the_warehouse_is_restored(sound, tmp_path):
    """A 503 is no state: restoring the file (renamed into place, as a publish does) is answered at once."""
    from cmsref.serve import create_app

    db = tmp_path / "cmsref.duckdb"
    foreign(sound, db)
    with TestClient(create_app(db)) as client:
        assert client.get("/api/versions").status_code == 503
        shutil.copyfile(sound, tmp_path / "restored")
        (tmp_path / "restored").rename(db)
        r = client.get("/api/latest/payment?hcpcs=37252&date=2024-08-01")
        assert r.status_code == 200 and r.headers["x-cmsref-version"] == "2024.2", r.text
        overwritten(sound, tmp_path / "harmed")  # and harmed again while serving
        (tmp_path / "harmed").rename(db)
        assert client.get("/api/versions").json()["error"] == "damaged warehouse"


# ------------------------------------------------------------------------------ an altered data version


@pytest.mark.parametrize("url", ["/api/versions", "/api/2024.2/payment?hcpcs=37252&date=2024-08-01",
                                 "/api/latest/codes/37252?date=2024-08-01", "/code/37252?date=2024-08-01", "/"])
def test_an_altered_data_version_is_a_503_naming_the_version_and_the_table(sound, tmp_path, monkeypatch, caplog,
                                                                            url):
    """warehouse.api.open_version refuses a version whose content no longer matches its manifest; the message it
    raises names the file, the answer must not."""
    from cmsref import serve
    from cmsref.serve import connections

    def altered(path, version="latest", **_):
        raise AlteredDataError(f"data version 2024.2 in {path} does not match its manifest (pfs_rvu: 1 row "
                               f"changed)", version="2024.2", table="pfs_rvu")

    monkeypatch.setattr(connections, "open_version", altered)
    with TestClient(serve.create_app(sound)) as client, caplog.at_level(logging.WARNING):
        r = client.get(url)
    assert r.status_code == 503, r.text
    got = r.json()
    assert (got["error"], got["data_version"], got["table"]) == ("altered data version", "2024.2", "pfs_rvu")
    assert "2024.2" in got["detail"] and "pfs_rvu" in got["detail"] and "restore" in got["detail"]
    no_path(r.text, sound)
    one_line_logged(caplog, "data version 2024.2 is altered (table pfs_rvu)")


# ------------------------------------------------------------------------------ errors of the server's own


def failing(monkeypatch, exc: BaseException) -> None:
    """Every /codes lookup raises `exc` (as a fault in a lookup would)."""
    from cmsref.serve.routes import codes, pages

    def fail(*_):
        raise exc

    for routes in (codes, pages):
        monkeypatch.setattr(routes, "code_record", fail)


@pytest.mark.parametrize("exc", [
    RuntimeError("boom in /srv/cmsref/data/cmsref.duckdb\nsecond line"),
    KeyError("pfs"),
    duckdb.BinderException("Binder Error: column x not found\nLINE 1: SELECT x"),
    RecursionError("maximum recursion depth exceeded"),
], ids=["RuntimeError", "KeyError", "BinderException", "RecursionError"])
def test_any_other_error_is_a_generic_503_and_one_log_line_never_a_500(sound, monkeypatch, caplog, exc):
    from cmsref.serve import create_app

    failing(monkeypatch, exc)
    with TestClient(create_app(sound)) as client, caplog.at_level(logging.WARNING):  # raises what escapes
        for url in ("/api/latest/codes/37252?date=2024-08-01", "/code/37252?date=2024-08-01"):
            caplog.clear()
            r = client.get(url)
            assert r.status_code == 503 and r.json()["error"] == "internal error", r.text
            assert "/srv" not in r.text and "Binder" not in r.text and "log" in r.json()["detail"]
            one_line_logged(caplog, url.split("?")[0], type(exc).__name__)


@pytest.mark.parametrize("exc, status", [
    (CmsrefError("cannot read /srv/cmsref/data/cmsref.duckdb: it is held"), 503),
    (NoDataError("no loaded release covers 2024-08-01 in /srv/cmsref/data/cmsref.duckdb"), 404),
], ids=["CmsrefError", "NoDataError"])
def test_cmsref_errors_get_the_status_they_mean_without_a_path(sound, monkeypatch, caplog, exc, status):
    from cmsref.serve import create_app

    failing(monkeypatch, exc)
    with TestClient(create_app(sound)) as client:
        r = client.get("/api/latest/codes/37252?date=2024-08-01")
    assert r.status_code == status, r.text
    assert "/srv" not in r.text and "cmsref.duckdb" not in r.text and "<file>" in r.text


def test_a_real_server_process_answers_503_and_logs_one_line_per_request(sound, tmp_path):
    """`cmsref serve` itself, on a warehouse swapped for a foreign file while it runs: each request is a 503 and one
    line in its log, no traceback; the warehouse restored, it answers again."""
    import json
    import urllib.error
    import urllib.request

    from tests.integration.test_serve import start

    db = tmp_path / "cmsref.duckdb"
    shutil.copyfile(sound, db)
    proc, base = start(db)
    try:
        foreign(sound, tmp_path / "other.duckdb")
        (tmp_path / "other.duckdb").rename(db)
        before = proc.log.read_text()
        for url in ("/api/versions", "/code/37252?date=2024-08-01"):
            with pytest.raises(urllib.error.HTTPError) as got:
                urllib.request.urlopen(base + url, timeout=30)
            text = got.value.read().decode()
            assert got.value.code == 503 and json.loads(text)["error"] == "not a cmsref warehouse"
            no_path(text + str(got.value.headers), db)
        shutil.copyfile(sound, tmp_path / "restored")
        (tmp_path / "restored").rename(db)
        with urllib.request.urlopen(base + "/api/versions", timeout=30) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    logged = proc.log.read_text()[len(before):].splitlines()
    assert len(logged) == 2 and all("is not a cmsref warehouse" in line for line in logged), logged
    assert "Traceback" not in proc.log.read_text()
