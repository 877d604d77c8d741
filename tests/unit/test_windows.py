"""Two effective windows overlap, intersect and group by one rule (core/effective.py), right for open ends (NULL):
the rule itself, in SQL and Python, and every place that intersects or groups windows (pfs_payment's GPCI join, the
releases view, the reconciliation's releases, the no-payment explanation), on warehouses made in code."""

from datetime import date
from decimal import Decimal
from itertools import product

import duckdb
import pytest

from core import effective
from warehouse.claim_rules import create_scalar_macros
from core.tables import META_DDL, TABLES
from warehouse.views import _empty_sql, catalog_sql, payment_sql

D = date.fromisoformat
ENDS = [None, D("2024-01-01"), D("2024-07-01"), D("2025-01-01")]
WINDOWS = [(f, t) for f, t in product([D("2023-07-01"), D("2024-01-01"), D("2024-07-01")], ENDS)
           if t is None or f < t]


def _con():
    con = duckdb.connect()
    create_scalar_macros(con)  # in_effect, windows_overlap and the one-row rules that use them
    return con


def test_windows_overlap_in_python_with_open_ends():
    assert effective.windows_overlap(D("2024-01-01"), None, D("2030-01-01"), None)
    assert effective.windows_overlap(D("2024-01-01"), None, D("2023-01-01"), D("2024-01-02"))
    assert not effective.windows_overlap(D("2024-01-01"), None, D("2023-01-01"), D("2024-01-01"))  # end exclusive
    assert effective.windows_overlap(D("2023-01-01"), D("2024-01-02"), D("2024-01-01"), None)
    assert not effective.windows_overlap(D("2023-01-01"), D("2024-01-01"), D("2024-01-01"), None)
    assert effective.overlaps(D("2024-07-01"), None, D("2025-01-01"), D("2026-01-01"))


def test_the_sql_macro_and_python_agree_on_every_pair_of_windows():
    con = _con()
    for (f1, t1), (f2, t2) in product(WINDOWS, WINDOWS):
        sql = con.execute("SELECT windows_overlap(?::DATE, ?::DATE, ?::DATE, ?::DATE)",
                          [f1, t1, f2, t2]).fetchone()[0]
        days = {d for d in (f1, f2) if effective.in_effect(d, f1, t1) and effective.in_effect(d, f2, t2)}
        assert sql is effective.windows_overlap(f1, t1, f2, t2) is bool(days), (f1, t1, f2, t2)


@pytest.mark.parametrize("to1, to2, end", [(None, None, None), (None, "2024-07-01", "2024-07-01"),
                                           ("2024-07-01", None, "2024-07-01"), ("2025-01-01", "2024-07-01", "2024-07-01")])
def test_the_end_of_an_intersection_is_the_earlier_end_open_only_when_both_are(to1, to2, end):
    got = _con().execute(f"SELECT {effective.earlier_end_sql('a', 'b')} FROM (SELECT ?::DATE a, ?::DATE b)",
                         [to1, to2]).fetchone()[0]
    assert got == (D(end) if end else None)


def test_the_end_of_a_group_of_windows_is_open_when_any_is_open():
    con = _con()
    con.execute("CREATE TABLE w AS SELECT * FROM (VALUES ('a', DATE '2024-07-01'), ('a', NULL), "
                "('b', DATE '2024-07-01'), ('b', DATE '2025-01-01')) t(k, effective_to)")
    assert con.execute(f"SELECT k, {effective.latest_end_sql('effective_to')} FROM w GROUP BY k ORDER BY k"
                       ).fetchall() == [("a", None), ("b", D("2025-01-01"))]


def _pfs(con, rvu_window, gpci_window):
    """Tables named like the views (as in an exported snapshot): one RVU row, one GPCI row, one conversion factor."""
    for name in ("pfs_rvu", "pfs_gpci", "conversion_factor"):
        con.execute(f"CREATE TABLE {name} AS {_empty_sql(TABLES[name])}")
    con.execute("INSERT INTO pfs_rvu (release_id, period, effective_from, effective_to, hcpcs, modifier, status_code, "
                "work_rvu, non_facility_pe_rvu, facility_pe_rvu, mp_rvu) VALUES "
                "('pfs/2026A/r1', '2026A', ?, ?, '37252', '', 'A', 1.80, 25.00, 0.60, 0.30)", list(rvu_window))
    con.execute("INSERT INTO pfs_gpci (release_id, period, effective_from, effective_to, mac, locality, locality_name, "
                "work_gpci, pe_gpci, mp_gpci) VALUES ('pfs/2026A/r1', '2026A', ?, ?, '01112', '05', 'SAN FRANCISCO', "
                "1.000, 1.000, 1.000)", list(gpci_window))
    con.execute("INSERT INTO conversion_factor (release_id, period, effective_from, effective_to, kind, variant, "
                "conversion_factor) VALUES ('pfs/2026A/r1', '2026A', ?, ?, 'physician', 'all', 33.4009)",
                list(rvu_window))


@pytest.mark.parametrize("rvu, gpci, window", [
    ((D("2026-01-01"), None), (D("2026-01-01"), None), (D("2026-01-01"), None)),  # both open
    ((D("2026-01-01"), None), (D("2026-01-01"), D("2026-04-01")), (D("2026-01-01"), D("2026-04-01"))),
    ((D("2026-01-01"), D("2026-04-01")), (D("2026-02-01"), None), (D("2026-02-01"), D("2026-04-01"))),
])
def test_pfs_payment_pairs_rvus_and_gpcis_whose_windows_overlap_with_open_ends(rvu, gpci, window):
    con = _con()
    _pfs(con, rvu, gpci)
    rows = con.execute(f"SELECT setting, effective_from, effective_to, amount FROM ({payment_sql(None)}) "
                       f"WHERE locality = '05' ORDER BY setting").fetchall()
    assert rows == [("facility", *window, Decimal("90.18")),
                    ("non_facility", *window, Decimal("905.16"))]


def test_the_releases_view_keeps_an_open_window_open():
    con = _con()
    con.execute(META_DDL)
    con.execute("INSERT INTO meta.data_versions VALUES (1, '2026.1', now(), 'x', 'sha', '{}', NULL)")
    con.execute("INSERT INTO meta.releases (release_id, dataset, period, revision, effective_from, period_end, "
                "fingerprint, row_counts, validation_success, validation, cmsref_version, built_at) VALUES "
                "('pfs/2026A/r1', 'pfs', '2026A', 1, DATE '2026-01-01', 'release', 'f', '{}', true, '{}', 'x', now())")
    for table, end in (("pfs_rvu", None), ("pfs_gpci", "2026-04-01")):  # the GPCI file was replaced in April
        con.execute("INSERT INTO meta.data_version_tables VALUES ('2026.1', ?, 'pfs/2026A/r1', 'pfs', '2026A', "
                    "DATE '2026-01-01', ?::DATE, 1)", [table, end])
    assert con.execute(f"SELECT effective_from, effective_to, in_latest FROM ({catalog_sql()['releases']})"
                       ).fetchall() == [(D("2026-01-01"), None, True)]


def test_the_reconciliation_sees_an_open_release_as_open():
    from expectations.reconcile import _loaded

    con = _con()
    con.execute("CREATE TABLE v AS SELECT * FROM (VALUES ('pfs/2026A/r1', '2026A', DATE '2026-01-01', NULL::DATE), "
                "('pfs/2026A/r1', '2026A', DATE '2026-01-01', DATE '2026-04-01')) "
                "t(release_id, period, effective_from, effective_to)")
    (release,) = _loaded(con, "v")
    assert release.effective_to is None


def test_the_no_payment_explanation_shows_an_open_window_as_open():
    from warehouse.lookup import explain_no_payment

    con = _con()
    _pfs(con, (D("2026-01-01"), None), (D("2026-01-01"), None))
    con.execute("INSERT INTO pfs_rvu (release_id, period, effective_from, effective_to, hcpcs, modifier) VALUES "
                "('pfs/2026A/r1', '2026A', DATE '2026-01-01', DATE '2026-04-01', '37253', '')")
    con.execute("CREATE MACRO pfs_rvu_on(dos) AS TABLE SELECT * FROM pfs_rvu WHERE false")
    _, why = explain_no_payment(con, "37252", "2026-06-01")
    assert "2026A 2026-01-01..open" in why
