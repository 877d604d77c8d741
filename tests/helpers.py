"""Helpers of the test suite: where the real CMS files are, warehouse queries and snapshots, a CMSREF_HOME of a
copy. Fixtures and pytest hooks are in tests/conftest.py; tests import these names from here."""

from __future__ import annotations

import os
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CMSREF_SHARED", ROOT.parent / "shared"))
MIRROR = SHARED / "cms-mirror"
PFS = MIRROR / "pfs_rvu"


class WholeBuild(NamedTuple):
    """A warehouse that a session fixture built once (pfs_2024b, pfs_2024b_2025d in tests/conftest.py): read-only for
    the tests that share it; a test that publishes into it works on a copy (home_with_copy)."""
    db: Path
    data_versions: tuple[str, ...]  # what each build published, in order


def home_with_copy(db: Path, tmp_path: Path, monkeypatch) -> Path:
    """A fresh CMSREF_HOME under tmp_path holding a copy of warehouse `db` (copy on write: the original stays as it
    was for the next test); returns the copy."""
    import shutil

    home = tmp_path / "data"
    home.mkdir()
    shutil.copyfile(db, home / "cmsref.duckdb")
    monkeypatch.setenv("CMSREF_HOME", str(home))
    for var in ("CMSREF_DB", "CMSREF_MIRROR"):
        monkeypatch.delenv(var, raising=False)
    return home / "cmsref.duckdb"


@contextmanager
def cmsref_home(path: Path):
    """CMSREF_HOME set to `path` while a module-scoped fixture builds and yields (monkeypatch is per test)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CMSREF_HOME", str(path))
    try:
        yield Path(path)
    finally:
        mp.undo()


def built_once(tmp_path_factory, name: str, build):
    """`build(folder)` run once per test run, and its result (JSON: a path is passed as str). Without pytest-xdist in
    a new folder of this session; under xdist in a folder that every worker of the run shares: the first worker that
    asks builds while the others wait on a lock, then each reads what it built. For the session fixtures that build
    warehouses read-only for their tests (tests/conftest.py): one build per run, not one per worker."""
    import fcntl
    import json
    import shutil

    if not os.environ.get("PYTEST_XDIST_WORKER") or not tmp_path_factory.getbasetemp().name.startswith("popen-"):
        return build(tmp_path_factory.mktemp(name))
    root = tmp_path_factory.getbasetemp().parent  # this run's folder: xdist gives each worker a folder popen-gwN in it
    folder, done = root / name, root / f"{name}.json"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when closed, or when its worker dies
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a worker whose build failed left
            folder.mkdir()
            done.write_text(json.dumps(build(folder)))
        return json.loads(done.read_text())


def parse_addendum_b(path: Path, year: int):
    """An OPPS Addendum B file parsed with the real layout (transform/layouts/opps.toml), as a polars frame."""
    from transform.layout import load_layouts, parse_file

    return parse_file(Path(path), load_layouts("opps")["addendum_b"], year).frame


def query(db: Path, sql: str, params=None) -> list:
    """Rows of one query on a warehouse file, opened read-only and closed again."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def addon_statuses(db: Path, lines: list[tuple[str, str]]) -> list[str]:
    """addon_check's status of each (code, date of service) line of one claim."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("CREATE TEMP TABLE claim AS SELECT * FROM (VALUES " +
                    ", ".join(f"('{c}', DATE '{d}')" for c, d in lines) + ") t(hcpcs, date_of_service)")
        return [r[-1] for r in con.execute("SELECT * FROM addon_check('claim')").fetchall()]
    finally:
        con.close()


def snapshot(db: Path) -> dict:
    """Everything a reader can see: data versions and every stored row, to prove a failed build changed nothing.
    Each table is summarised by its columns and types, its row count and two order-independent sums of its rows'
    hashes (one changed value, added, lost or repeated row changes them), not by its rows: the rows of the whole
    mirror take seconds to compare, the hashes 50 ms."""
    import duckdb

    if not db.exists():
        return {"exists": False}
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for schema, table in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name IN ('meta', 'store') "
            "ORDER BY ALL").fetchall():
            columns = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND "
                                  "table_name = ? ORDER BY column_index", [schema, table]).fetchall()
            rows = con.execute(f"SELECT count(*), sum(hash(t)::HUGEINT), bit_xor(hash(t)) FROM {schema}.{table} t")
            out[f"{schema}.{table}"] = (columns, rows.fetchone())
        return out
    finally:
        con.close()


D = Decimal
# The figures each documented example gives on the whole mirror (CMS's own numbers: 86.21 / 927.06 are also in the
# README; PFREV-checked payment formula, see docs/payments.md)
DOC_EXAMPLE_FIGURES = {
    "The payment for a code in a locality on a date of service": [
        ("facility", D("87.96"), D("1.042"), D("1.194"), D("0.690"), D("33.2875")),
        ("non_facility", D("1091.93"), D("1.042"), D("1.194"), D("0.690"), D("33.2875"))],
    "National payment, and the release it comes from": [("2024B", "facility", D("86.21")),
                                                        ("2024B", "non_facility", D("927.06"))],
    "What changed between two quarters (RVUs of codes in both)": ("0446T", "", D("91.71"), D("179.53")),
    "Which codes are packaged (no separate payment) in OPPS and in an ASC": ("10004", "Fna bx w/o img gdn ea addl",
                                                                            "N1"),
    "Which MUEs dropped from one quarter to the next": [],  # one MUE quarter is mirrored: it runs and finds none
    "A code side by side in every setting, with definitions": [
        ("pfs_status", None, None, None, None, None, "no data: no release of this setting covers the date of service"),
        ("opps_si", "2020-01", "N", "Items and services packaged into APC rates: no separate payment", None, None,
         "found"),
        ("asc_pi", "2020-01", "N1", "Packaged service/item; no separate payment made.", None, None, "found")],
    "Scrub claim lines against the MUEs (lines: a table you create)": [
        ("37253", 6, 5, "Date of Service Edit: Clinical", True, "exceeds")],
    "Pin a data version from plain SQL": [("37252", D("1.80"))],
}
