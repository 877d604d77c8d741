"""Trust faults: an output option pointed at a file cmsref owns, and a data version altered behind cmsref's back.

Every case runs on its own copy of the fault suite's baseline warehouse (the real PFS RVU24B, MUE 2026 Q2, ASC
2020-01, and generated OPPS and AOC releases). An output over the warehouse, its files, the data folder or the mirror
is refused in one line with exit 2 and the warehouse as it was; a version whose rows, lineage, views or macros were
changed by another DuckDB client is refused by every reader (CLI, Python API, HTTP, export), naming the version and
the table, never answered from.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import duckdb
import pytest

from tests.helpers import ROOT, SHARED
from tests.fault.helpers import assert_unchanged

pytestmark = pytest.mark.integration

GUIDE = SHARED / "vendor-guides" / "ivus-2024-coding-reimbursement-guide.pdf"


def cmsref(capsys, *args: str) -> tuple[int, str, str]:
    from cmsref.cli import main

    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------------------------------------ outputs
def _targets(world, tmp_path):
    """name -> (option words) whose output lands on something cmsref owns."""
    db, home = world.db, world.home
    link = tmp_path / "looks-harmless.csv"
    link.symlink_to(db)
    hard = tmp_path / "hard-link.csv"
    os.link(db, hard)
    serving = db.with_name(db.name + ".serving-1-abcd-42")
    serving.write_bytes(b"")
    (home / "cache").mkdir(exist_ok=True)
    return {
        "query over the warehouse": ["query", "--output", str(db), "SELECT 1"],
        "query over its WAL": ["query", "--output", f"{db}.wal", "SELECT 1"],
        "query over its lock": ["query", "--output", f"{db}.lock", "SELECT 1"],
        "query over a serving link": ["query", "--output", str(serving), "SELECT 1"],
        "query through a symbolic link": ["query", "--output", str(link), "SELECT 1"],
        "query over a hard link": ["query", "--output", str(hard), "SELECT 1"],
        "query into the cache": ["query", "--output", str(home / "cache" / "r.csv"), "SELECT 1"],
        "query into the data folder": ["query", "--output", str(home / "r.csv"), "SELECT 1"],
        "query into the mirror": ["query", "--output", str(world.mirror / "r.csv"), "SELECT 1"],
        "query relative to the warehouse": ["query", "--output", os.path.relpath(db), "SELECT 1"],
        "report over the warehouse": ["vendor", "reconcile", str(GUIDE), "--report", str(db)],
        "report into the data folder": ["vendor", "reconcile", str(GUIDE), "--report", str(home / "r.html")],
        "export into the data folder": ["export", "--version", "latest", "--to", str(home)],
        "export into the cache": ["export", "--version", "latest", "--to", str(home / "cache" / "out")],
        "export into the mirror": ["export", "--version", "latest", "--to", str(world.mirror / "out")],
        "export onto the warehouse": ["export", "--version", "latest", "--to", str(db)],
    }


CASES = ["query over the warehouse", "query over its WAL", "query over its lock", "query over a serving link",
         "query through a symbolic link", "query over a hard link", "query into the cache",
         "query into the data folder", "query into the mirror", "query relative to the warehouse",
         "report over the warehouse", "report into the data folder", "export into the data folder",
         "export into the cache", "export into the mirror", "export onto the warehouse"]


@pytest.mark.parametrize("case", CASES)
def test_an_output_on_a_file_cmsref_owns_is_refused_before_any_work(case, world, tmp_path, capsys, monkeypatch):
    world.mirror.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("CMSREF_MIRROR", str(world.mirror))
    monkeypatch.chdir(tmp_path)
    args = _targets(world, tmp_path)[case]
    code, out, err = cmsref(capsys, *args)
    assert code == 2, (case, out, err)
    assert len(err.strip().splitlines()) == 1 and "cmsref never writes" in err, err
    assert out == ""
    assert_unchanged(world)
    assert not [p for p in world.home.rglob("*") if ".cmsref-" in p.name]  # no temporary file left
    code, _, err = cmsref(capsys, "verify", "--version", "latest")
    assert code == 0, err


def test_an_output_file_is_complete_or_absent(world, tmp_path, capsys, monkeypatch):
    """A query that fails half-way through its rows leaves the earlier file as it was and no temporary file."""
    out = tmp_path / "r.csv"
    out.write_text("earlier result\n")
    code, _, err = cmsref(capsys, "query", "--format", "csv", "--output", str(out),
                          "SELECT CASE WHEN i < 50000 THEN i ELSE error('boom') END FROM range(100000) t(i)")
    assert code == 1 and "query failed" in err and "boom" in err, err
    assert out.read_text() == "earlier result\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "r.csv"]


def test_query_output_streams_any_number_of_rows_in_bounded_memory(world, tmp_path):
    """2 million rows of 100 characters (about 400 MB as Python tuples) take no more memory than one row: they are
    written in batches. Each run is a process of its own, so its peak RSS is its own."""
    def peak_mb(rows: int) -> int:
        child = textwrap.dedent(f"""
            import resource, sys
            from cmsref.cli import main
            code = main(["query", "--format", "csv", "--output", {str(tmp_path / "big.csv")!r},
                         "SELECT i, repeat('x', 100) AS s FROM range({rows}) t(i)"])
            print("RESULT", code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
        """)
        r = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, cwd=ROOT, env=os.environ)
        code, peak = map(int, r.stdout.split("RESULT")[-1].split())
        assert code == 0, r.stderr
        return peak

    one = peak_mb(1)
    many = peak_mb(2_000_000)
    with open(tmp_path / "big.csv") as fh:
        assert sum(1 for _ in fh) == 2_000_001
    assert many - one < 100, f"peak RSS {many} MB for 2 million rows, {one} MB for one"


# ------------------------------------------------------------------------------------------------ altered data
TAMPER = {
    "a changed value": ("pfs_rvu", "UPDATE store.pfs_rvu SET work_rvu = work_rvu + 1 WHERE hcpcs = '37252'"),
    "a deleted row": ("mue", "DELETE FROM store.mue WHERE rowid = (SELECT min(rowid) FROM store.mue)"),
    "a changed source row": ("pfs_gpci", "UPDATE store.pfs_gpci SET source_row = source_row + 1 "
                                         "WHERE rowid = (SELECT min(rowid) FROM store.pfs_gpci)"),
    "a forged source URL": ("source_files", "UPDATE meta.source_files SET url = 'https://example.org/rvu.zip'"),
    "a changed release date": ("source_files", "UPDATE meta.releases SET cms_release_date = DATE '2001-01-01' "
                                               "WHERE dataset = 'pfs'"),
    "a changed view": ("pfs_payment", "CREATE OR REPLACE VIEW main.pfs_payment AS SELECT 1 AS amount"),
    "a changed macro": ("in_effect", "CREATE OR REPLACE MACRO main.in_effect(d, f, t) AS true"),
    "an added macro": ("shadow", "CREATE MACRO main.shadow(x) AS x"),
}
READERS = ["payment", "query", "export", "python", "http"]


def _tamper(db, sql: str) -> None:
    con = duckdb.connect(str(db))
    try:
        con.execute(sql)
    finally:
        con.close()


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("tamper", list(TAMPER))
def test_an_altered_version_is_never_answered_from(tamper, reader, world, tmp_path, capsys):
    table, sql = TAMPER[tamper]
    _tamper(world.db, sql)
    version = world.baseline.versions[-1]
    if reader == "python":
        from core.errors import AlteredDataError
        from warehouse.api import open_version

        with pytest.raises(AlteredDataError) as caught:
            open_version(world.db, "latest")
        assert (caught.value.version, caught.value.table) == (version, table)
        return
    if reader == "http":
        from fastapi.testclient import TestClient

        from cmsref.serve import create_app

        with TestClient(create_app(world.db)) as client:
            r = client.get("/api/latest/payment", params={"hcpcs": "37252", "date": "2024-06-01"})
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["data_version"] == version and body["table"] == table
        assert str(world.home) not in r.text and str(tmp_path) not in r.text
        assert "immutable" not in r.headers.get("cache-control", "")
        return
    args = {"payment": ["payment", "37252", "--date", "2024-06-01"],
            "query": ["query", "SELECT count(*) FROM pfs_rvu"],
            "export": ["export", "--version", "latest", "--to", str(tmp_path / "out")]}[reader]
    code, out, err = cmsref(capsys, *args)
    assert code == 1 and out == "", (out, err)
    assert f"data version {version} does not match its published manifest" in err and table in err
    assert len(err.strip().splitlines()) == 1
    if reader == "export":
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_an_intact_version_is_checked_once_per_state_of_the_file(world, monkeypatch):
    """The manifest is recomputed when a file is first opened and again only when the file changed."""
    import warehouse.api as api

    calls = []
    real = api.verify_version
    monkeypatch.setattr(api, "verify_version", lambda con, v: calls.append(v) or real(con, v))
    for _ in range(3):
        api.open_version(world.db, "latest").close()
    assert len(calls) == 1
    _tamper(world.db, "UPDATE store.mue SET mue_value = mue_value + 1 WHERE rowid = 0")
    with pytest.raises(Exception, match="does not match its published manifest"):
        api.open_version(world.db, "latest")
    assert len(calls) == 2


@pytest.mark.parametrize("fmt", ["duckdb", "parquet"])
def test_a_changed_view_in_an_export_fails_verify(fmt, world, tmp_path, capsys):
    out = tmp_path / "out"
    assert cmsref(capsys, "export", "--version", "latest", "--to", str(out), "--format", fmt)[0] == 0
    assert cmsref(capsys, "verify", str(out))[0] == 0
    if fmt == "duckdb":
        (snapshot,) = out.glob("*.duckdb")
        _tamper(snapshot, "CREATE OR REPLACE VIEW pfs_payment AS SELECT 1 AS amount")
    else:
        with open(out / "views.sql", "a") as fh:
            fh.write("CREATE OR REPLACE VIEW pfs_payment AS SELECT 1 AS amount;\n")
    code, _, err = cmsref(capsys, "verify", str(out))
    assert code == 1 and ("pfs_payment was changed" in err or "views.sql was changed" in err), err


def test_the_manifest_records_lineage_and_definitions(world):
    con = duckdb.connect(str(world.db), read_only=True)
    try:
        manifest = json.loads(con.execute("SELECT manifest FROM meta.data_versions ORDER BY seq DESC LIMIT 1")
                              .fetchone()[0])
    finally:
        con.close()
    assert all(len(r["lineage_sha256"]) == 64 for r in manifest["releases"])
    assert "view main.pfs_payment" in manifest["definitions"] and "macro main.pfs_rvu_on" in manifest["definitions"]


def test_a_restored_copy_answers_again(world, tmp_path, capsys):
    """The way out the refusal names: put back the bytes that were published, and the version answers."""
    good = tmp_path / "good.duckdb"
    shutil.copyfile(world.db, good)
    _tamper(world.db, TAMPER["a changed value"][1])
    assert cmsref(capsys, "payment", "37252", "--date", "2024-06-01")[0] == 1
    shutil.copyfile(good, world.db)
    code, out, _ = cmsref(capsys, "payment", "37252", "--date", "2024-06-01")
    assert code == 0 and "86.21" in out
