"""Every example query of docs/schema.md runs on a warehouse built from the whole mirror."""

from decimal import Decimal as D

import duckdb
import pytest

from tests.helpers import DOC_EXAMPLE_FIGURES
from warehouse.docs import EXAMPLES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def con(mirror_db):
    c = duckdb.connect(str(mirror_db), read_only=True)
    yield c
    c.close()


EXPECTED = DOC_EXAMPLE_FIGURES


@pytest.mark.parametrize("title, sql", EXAMPLES, ids=[t for t, _ in EXAMPLES])
def test_example_gives_its_documented_figures(con, title, sql):
    *setup, query = [s for s in sql.split(";") if s.strip()]
    for statement in setup:
        con.execute(statement)
    rows = con.execute(query).fetchall()
    expected = EXPECTED[title]
    if isinstance(expected, tuple):  # a long result: one of its rows
        assert expected in rows, title
    else:
        assert rows == expected, title


def test_every_example_has_its_figures():
    assert set(EXPECTED) == {t for t, _ in EXAMPLES}


def run_examples(con) -> dict:
    out = {}
    for title, sql in EXAMPLES:
        *setup, query = [s for s in sql.split(";") if s.strip()]
        for statement in setup:
            con.execute(statement)
        rows = con.execute(query).fetchall()
        expected = EXPECTED[title]
        out[title] = (expected in rows) if isinstance(expected, tuple) else (rows == expected)
    return out


@pytest.fixture(scope="module")
def exported(mirror_db, tmp_path_factory):
    from cmsref.cli import main

    out = tmp_path_factory.mktemp("export")
    for fmt in ("duckdb", "parquet"):
        assert main(["export", "--db", str(mirror_db), "--version", "latest", "--to", str(out / fmt),
                     "--format", fmt]) == 0
    return out


def test_a_duckdb_export_answers_every_documented_query_in_a_plain_client(exported):
    snap = duckdb.connect(str(exported / "duckdb" / "cmsref-2026.2.duckdb"), read_only=True)
    try:
        assert run_examples(snap) == {t: True for t, _ in EXAMPLES}
        assert snap.execute("SELECT amount FROM pfs_payment_on('2024-06-01') WHERE hcpcs = '37252' AND modifier = '' "
                            "AND is_national ORDER BY setting").fetchall() == [(D("86.21"),), (D("927.06"),)]
    finally:
        snap.close()


def test_a_parquet_export_carries_the_sql_that_recreates_the_views(exported, monkeypatch):
    folder = exported / "parquet"
    monkeypatch.chdir(folder)  # views.sql names its files relative to the export folder
    con = duckdb.connect()
    try:
        for statement in (folder / "views.sql").read_text().split(";\n"):
            if statement.strip():
                con.execute(statement)
        assert run_examples(con) == {t: True for t, _ in EXAMPLES}
    finally:
        con.close()
