"""The edges of the riskiest rules, each on a warehouse or file made in code, where bending one line of the rule
changes what a user gets (issue 21; every test here was seen to fail with its bend, tests/mutation/sql_bends.toml):
an open window (no effective_to) in effect from its first day on, in SQL and every `_on` / `_at` macro; the non-QP
conversion factor for a line that does not say `qp`; status codes A, R and T priced, no other; lineage columns in
the content hash; trailing zeros past a column's scale; `units: 0`; a MAC typed without its leading zero."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from fastapi.testclient import TestClient

from cmsref.serve import create_app
from core.errors import ParseError
from core.tables import TABLES
from tests.builders import built
from transform.layout import load_layouts, parse_file
from warehouse.manifest import verify_version
from warehouse.publish import publish
from warehouse.views import _empty_sql, create_pinned_views, snapshot_statements

D = Decimal
OPEN_FROM = date(2026, 1, 1)
LATER = ["2026-01-01", "2026-12-31", "2031-06-01", "2099-12-31"]  # every one in effect in a window open from 2026


# ------------------------------------------------------------------ open windows in every `_on` and `_at` macro
def snapshot_con(rows: dict[str, list[dict]]):
    """An in-memory database laid out as an exported snapshot (tables named like the views, every macro of
    views.snapshot_statements), holding the rows given per table (columns not given are NULL)."""
    con = duckdb.connect()
    for name, table in TABLES.items():
        con.execute(f"CREATE TABLE {name} AS {_empty_sql(table)}")
        for row in rows.get(name, []):
            cols = list(row)
            con.execute(f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                        list(row.values()))
    for statement in snapshot_statements("2026.1"):
        con.execute(statement)
    return con


def window(effective_to=None, **values):
    return {"release_id": "x/2026A/r1", "period": "2026A", "effective_from": OPEN_FROM, "effective_to": effective_to,
            **values}


def pfs_rows(statuses=("A",), factors=None, effective_to=None):
    """One code per status (37252 for the first), work 1.80, PE 0.44 / 25.70, MP 0.35; factors {variant: CF}."""
    codes = ["37252", "37253", "37254", "37255", "37256", "37257", "37258", "37259"]
    rvu = [window(effective_to, hcpcs=code, modifier="", status_code=status, work_rvu=D("1.80"),
                  facility_pe_rvu=D("0.44"), non_facility_pe_rvu=D("25.70"), mp_rvu=D("0.35"))
           for code, status in zip(codes, statuses)]
    cf = [window(effective_to, kind="physician", variant=v, conversion_factor=D(f))
          for v, f in (factors or {"all": "33.2875"}).items()]
    return {"pfs_rvu": rvu, "conversion_factor": cf}


def test_every_on_and_at_macro_keeps_an_open_window_in_effect_from_its_first_day():
    con = snapshot_con({name: [window()] for name in TABLES})
    for name in TABLES:
        for day in LATER:
            assert con.execute(f"SELECT count(*) FROM {name}_on(DATE '{day}')").fetchone()[0] == 1, (name, day)
            assert con.execute(f"SELECT count(*) FROM {name}_at('2026.1', DATE '{day}')").fetchone()[0] == 1, name
        assert con.execute(f"SELECT count(*) FROM {name}_on(DATE '2025-12-31')").fetchone()[0] == 0, name
    assert con.execute("SELECT in_effect(DATE '2099-12-31', DATE '2026-01-01', NULL)").fetchone()[0] is True


def test_pfs_payment_and_the_claim_rules_price_and_judge_in_an_open_window():
    rows = pfs_rows()
    rows["mue"] = [window(service_type="practitioner", hcpcs="37252", mue_value=1, mai=3, mai_label="x")]
    rows["addon_code_edit"] = [window(addon_code="37253", primary_code="37252", edit_type=1,
                                      edit_effective_date=OPEN_FROM)]
    con = snapshot_con(rows)
    for day in LATER:
        assert con.execute(f"SELECT setting, amount FROM pfs_payment_on(DATE '{day}') WHERE hcpcs = '37252' "
                           f"ORDER BY setting").fetchall() == [("facility", D("86.21")),
                                                              ("non_facility", D("927.06"))], day
        con.execute(f"CREATE OR REPLACE TABLE claim AS SELECT * FROM (VALUES ('37252', 2, DATE '{day}', "
                    f"'practitioner'), ('37253', 1, DATE '{day}', 'practitioner')) "
                    f"t(hcpcs, units, date_of_service, service_type)")
        assert con.execute("SELECT pfs_amount, pfs_status FROM pfs_check('claim') ORDER BY line_no").fetchone() == (
            D("927.06"), "priced")
        assert con.execute("SELECT status FROM mue_check('claim') ORDER BY line_no").fetchall() == [
            ("exceeds",), ("no MUE for this code",)]
        assert con.execute("SELECT status FROM addon_check('claim') ORDER BY line_no").fetchall() == [
            ("not an add-on code",), ("allowed primary on claim",)]


@pytest.fixture(scope="module")
def open_warehouse(tmp_path_factory) -> Path:
    """A published warehouse (one PFS release) whose stored window is then opened (effective_to NULL)."""
    db = tmp_path_factory.mktemp("open") / "w.duckdb"
    publish(db, [built("2026A", OPEN_FROM, "a")])
    con = duckdb.connect(str(db))
    con.execute("UPDATE meta.data_version_tables SET effective_to = NULL")
    con.close()
    return db


def test_the_latest_and_pinned_macros_of_a_warehouse_keep_an_open_window_in_effect(open_warehouse):
    con = duckdb.connect(str(open_warehouse), read_only=True)
    try:
        for day in LATER:
            assert con.execute(f"SELECT count(*) FROM pfs_rvu_on(DATE '{day}')").fetchone()[0] == 1, day
            assert con.execute(f"SELECT count(*) FROM pfs_rvu_at('2026.1', DATE '{day}')").fetchone()[0] == 1
            assert con.execute(f"SELECT amount FROM pfs_payment_on(DATE '{day}') WHERE setting = 'facility'"
                               ).fetchall() == [(D("86.21"),)]
        create_pinned_views(con, "2026.1")
        for day in LATER:
            assert con.execute(f"SELECT count(*) FROM pfs_rvu_on(DATE '{day}')").fetchone()[0] == 1, day
            assert con.execute(f"SELECT count(*) FROM conversion_factor_on(DATE '{day}')").fetchone()[0] == 1
    finally:
        con.close()


# ------------------------------------------------------------------------------------ what pfs_check prices
def test_only_status_codes_a_r_and_t_are_priced():
    statuses = ("A", "R", "T", "B", "C", "I", "N", "X")
    con = snapshot_con(pfs_rows(statuses))
    con.execute("CREATE TABLE claim AS SELECT hcpcs, DATE '2026-03-01' AS date_of_service FROM pfs_rvu")
    got = con.execute("SELECT pfs_status_code, pfs_status FROM pfs_check('claim') ORDER BY line_no").fetchall()
    assert got == [("A", "priced"), ("R", "priced"), ("T", "priced")] + [
        (s, f"status {s}: not paid from the fee schedule amount") for s in statuses[3:]]


CF_2026 = {"qp": "33.5675", "non_qp": "33.4009"}  # CY2026: the QP and the non-QP conversion factor


@pytest.mark.parametrize("lines, variant, amount", [
    ("SELECT '37252' AS hcpcs, DATE '2026-03-01' AS date_of_service", "non_qp", "930.22"),  # no qp column
    ("SELECT '37252' AS hcpcs, DATE '2026-03-01' AS date_of_service, NULL::BOOLEAN AS qp", "non_qp", "930.22"),
    ("SELECT '37252' AS hcpcs, DATE '2026-03-01' AS date_of_service, false AS qp", "non_qp", "930.22"),
    ("SELECT '37252' AS hcpcs, DATE '2026-03-01' AS date_of_service, true AS qp", "qp", "934.85"),
])
def test_a_line_that_does_not_say_qp_takes_the_non_qp_factor_of_2026(lines, variant, amount):
    con = snapshot_con(pfs_rows(factors=CF_2026))
    con.execute(f"CREATE TABLE claim AS {lines}")
    # non-facility 27.85 RVUs: x 33.4009 = 930.215 -> 930.22; x 33.5675 = 934.855 -> 934.85 (half-up, 934.854875)
    assert con.execute("SELECT pfs_cf_variant, pfs_amount, pfs_status FROM pfs_check('claim')").fetchall() == [
        (variant, D(amount), "priced")]


def gpci_frame(sha: str):
    cols = {c.name: [None] for c in TABLES["pfs_gpci"].columns}
    cols.update(mac=["01182"], locality=["18"], state=["CA"], locality_name=["LOS ANGELES"], work_gpci=["1.042"],
                pe_gpci=["1.194"], mp_gpci=["0.690"])
    return pl.DataFrame(cols, schema={c: pl.String for c in cols}).with_columns(
        source_sha256=pl.lit(sha), source_row=pl.lit(7, dtype=pl.Int64))


@pytest.fixture(scope="module")
def served_2026(tmp_path_factory) -> Path:
    """PFS 2026A made in code: 37252 with the two conversion factors of 2026 and the GPCIs of 01182:18."""
    db = tmp_path_factory.mktemp("served") / "w.duckdb"
    release = built("2026A", OPEN_FROM, "a", factors=CF_2026)
    release.tables["pfs_gpci"] = gpci_frame("a")
    publish(db, [release])
    return db


def test_over_http_a_line_without_qp_is_priced_with_the_non_qp_factor(served_2026):
    line = {"hcpcs": "37252", "date_of_service": "2026-03-01", "setting": "facility"}
    with TestClient(create_app(served_2026)) as client:
        got = client.post("/api/latest/lines", json={"lines": [line, {**line, "qp": True}]})
        assert got.status_code == 200, got.text
        assert [(g["pfs_cf_variant"], g["pfs_amount"]) for g in got.json()["lines"]] == [
            ("non_qp", "86.51"), ("qp", "86.94")]  # 2.59 x 33.4009 = 86.508; 2.59 x 33.5675 = 86.940


@pytest.mark.parametrize("units, ok", [(0, False), (-1, False), (1, True), (2**31 - 1, True), (2**31, False)])
def test_units_below_one_are_a_400_naming_the_line(served_2026, units, ok):
    body = {"lines": [{"hcpcs": "37252", "date_of_service": "2026-03-01", "units": units}]}
    with TestClient(create_app(served_2026)) as client:
        r = client.post("/api/latest/lines", json=body)
    if ok:
        assert r.status_code == 200 and r.json()["lines"][0]["units"] == units, r.text
    else:
        assert r.status_code == 400 and r.json()["parameter"] == "lines[0].units", r.text


def test_a_mac_typed_without_its_leading_zero_answers_as_the_padded_one(served_2026):
    with TestClient(create_app(served_2026)) as client:
        padded = client.get("/api/latest/payment?hcpcs=37252&date=2026-03-01&locality=01182:18")
        short = client.get("/api/latest/payment?hcpcs=37252&date=2026-03-01&locality=1182:18")
        assert padded.status_code == short.status_code == 200, short.text
        assert short.json() == padded.json() and short.json()["locality"] == "01182:18"
        # facility (1.80 x 1.042 + 0.44 x 1.194 + 0.35 x 0.690) x 33.4009 = 88.2606
        assert "88.26" in {a["amount"] for a in short.json()["amounts"]}
        lines = [{"hcpcs": "37252", "date_of_service": "2026-03-01", "locality": loc, "setting": "facility"}
                 for loc in ("01182:18", "1182:18")]
        got = client.post("/api/latest/lines", json={"lines": lines}).json()["lines"]
        assert [(g["locality"], g["pfs_amount"]) for g in got] == [("01182:18", "88.26")] * 2, got


# -------------------------------------------------------------------------------- lineage is content
@pytest.mark.parametrize("change", ["source_row = source_row + 1", "source_sha256 = 'b' || source_sha256",
                                    # only decimals lose trailing zeros in the hash: 11 -> 110 and a text value
                                    # gaining a trailing 0 are changes
                                    "source_row = source_row * 10", "hcpcs = hcpcs || '0'"])
def test_a_changed_source_row_or_sha256_of_a_published_row_fails_verify(tmp_path, change):
    db = tmp_path / "w.duckdb"
    publish(db, [built("2026A", OPEN_FROM, "a")])
    con = duckdb.connect(str(db))
    try:
        assert verify_version(con, "2026.1") == []
        con.execute(f"UPDATE store.pfs_rvu SET {change}")
        problems = verify_version(con, "2026.1")
        assert [p.table for p in problems] == ["pfs_rvu"], problems
        assert "rows changed since publish" in str(problems[0])
    finally:
        con.close()


# ------------------------------------------------------------------------- decimals past a column's scale
PPRRVU = load_layouts("pfs")["pprrvu"]


def pprrvu(tmp_path, work: str) -> Path:
    from tests.unit.test_layout_engine import HEADER, PREAMBLE, ROW

    path = tmp_path / "PPRRVU.csv"
    row = ROW.format(code="37252", mod="").replace(",1.80,", f",{work},")
    path.write_bytes(("\r\n".join(PREAMBLE + HEADER + [row]) + "\r\n").encode("cp1252"))
    return path


@pytest.mark.parametrize("work, value", [("1.500", "1.50"), ("1.5000000", "1.50"), ("2.000", "2.00"),
                                         ("1.5", "1.50"), ("10", "10.00"), ("0.010", "0.01")])
def test_trailing_zeros_past_the_scale_are_read_not_counted(tmp_path, work, value):
    frame = parse_file(pprrvu(tmp_path, work), PPRRVU, 2025).frame
    assert frame["work_rvu"].to_list() == [D(value)]


@pytest.mark.parametrize("work", ["1.505", "1.5001", "0.001"])
def test_a_significant_decimal_past_the_scale_is_refused(tmp_path, work):
    with pytest.raises(ParseError, match=f"'{work}' has more than 2 decimals"):
        parse_file(pprrvu(tmp_path, work), PPRRVU, 2025)


def test_a_line_is_priced_in_its_own_locality_among_the_macs_localities():
    rows = pfs_rows()
    rows["pfs_gpci"] = [window(mac="01182", locality=loc, locality_name=loc, work_gpci=D(w), pe_gpci=D("1.000"),
                               mp_gpci=D("1.000")) for loc, w in (("18", "1.000"), ("26", "1.500"))]
    con = snapshot_con(rows)
    con.execute("CREATE TABLE claim AS SELECT * FROM (VALUES ('18'), ('26')) t(locality)")
    con.execute("CREATE TABLE lines AS SELECT '37252' AS hcpcs, DATE '2026-03-01' AS date_of_service, "
                "'facility' AS setting, '01182' AS mac, locality FROM claim")
    # facility (1.80 x work GPCI + 0.44 + 0.35) x 33.2875: 86.21 in 18, 116.17 in 26 (work GPCI 1.5)
    assert con.execute("SELECT locality, pfs_amount FROM pfs_check('lines') ORDER BY line_no").fetchall() == [
        ("01182:18", D("86.21")), ("01182:26", D("116.17"))]
