"""Reconciling guide figures against CMS data, on a small in-memory warehouse built in code: views of the same
names and columns the reconciler reads, with the `<view>_on(date)` macros of the real warehouse."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from core.errors import NoDataError
from transform.vendor_guide import GuideExtract, GuideFigure
from expectations.reconcile import _compare_numbers, reconcile
from expectations.reconcile_report import render_report

SHA = "ab" * 32
WINDOW = "release_id VARCHAR, period VARCHAR, effective_from DATE, effective_to DATE"
TABLES = {
    "pfs_rvu": "hcpcs VARCHAR, modifier VARCHAR, work_rvu DECIMAL(9,2), facility_total_rvu DECIMAL(9,2), "
               "non_facility_total_rvu DECIMAL(9,2)",
    "conversion_factor": "kind VARCHAR, variant VARCHAR, conversion_factor DECIMAL(9,4)",
    "pfs_payment": "hcpcs VARCHAR, modifier VARCHAR, is_national BOOLEAN, setting VARCHAR, cf_variant VARCHAR, "
                   "amount DECIMAL(12,2)",
    "mue": "service_type VARCHAR, hcpcs VARCHAR, mue_value INTEGER, mai INTEGER",
    "asc_addendum_aa": "hcpcs VARCHAR, payment_indicator VARCHAR, payment_rate DECIMAL(12,2)",
    "asc_addendum_bb": "hcpcs VARCHAR, payment_indicator VARCHAR, payment_rate DECIMAL(12,2)",
    "opps_addendum_b": "hcpcs VARCHAR, status_indicator VARCHAR, payment_rate DECIMAL(12,2)",
}
WINDOWS = {  # release -> (period, from, to)
    "pfs/2022A/r1": ("2022A", "2022-01-01", "2023-01-01"),
    "pfs/2024A/r1": ("2024A", "2024-01-01", "2024-04-01"),
    "pfs/2024B/r1": ("2024B", "2024-04-01", "2024-07-01"),
    "pfs/2024C/r1": ("2024C", "2024-07-01", "2025-01-01"),
    "pfs/2026A/r1": ("2026A", "2026-01-01", "2027-01-01"),
    "mue/2024Q1/r1": ("2024Q1", "2024-01-01", "2024-04-01"),
    "mue/2024Q3/r1": ("2024Q3", "2024-07-01", "2024-10-01"),
    "mue/2026Q2/r1": ("2026Q2", "2026-04-01", "2026-07-01"),
    "asc/2024-04/r1": ("2024-04", "2024-04-01", "2024-07-01"),
}
# pfs release -> code -> (work, facility total, non-facility total, facility $, non-facility $)
PFS = {
    "pfs/2022A/r1": {"37252": ("1.80", "2.59", "29.65", "89.63", "1026.07"),
                     "37253": ("1.44", "2.05", "5.07", "70.94", "175.45")},
    "pfs/2024A/r1": {"37252": ("1.80", "2.59", "27.85", "84.80", "911.93"),
                     "37253": ("1.44", "2.06", "5.12", "67.45", "167.64")},
    "pfs/2024B/r1": {"37252": ("1.80", "2.59", "27.85", "86.21", "927.06"),
                     "37253": ("1.44", "2.06", "5.12", "68.57", "170.43")},
    # a later release of the year with the same CF and a changed amount
    "pfs/2024C/r1": {"37252": ("1.80", "2.59", "27.90", "86.21", "928.72"),
                     "37253": ("1.44", "2.06", "5.12", "68.57", "170.43")},
}
CF = {"pfs/2022A/r1": {"all": "34.6062"}, "pfs/2024A/r1": {"all": "32.7442"},
      "pfs/2024B/r1": {"all": "33.2875"}, "pfs/2024C/r1": {"all": "33.2875"},
      "pfs/2026A/r1": {"qp": "33.4009", "non_qp": "33.0607"}}


def _insert(con, table: str, release: str, *values) -> None:
    period, start, end = WINDOWS[release]
    marks = ", ".join("?" * (4 + len(values)))
    con.execute(f"INSERT INTO {table} VALUES ({marks})", [release, period, start, end, *values])


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    for name, cols in TABLES.items():
        con.execute(f"CREATE TABLE {name} ({WINDOW}, {cols})")
        con.execute(f"CREATE MACRO {name}_on(dos) AS TABLE SELECT * FROM {name} "
                    "WHERE CAST(dos AS DATE) >= effective_from AND (effective_to IS NULL OR CAST(dos AS DATE) < effective_to)")
    for release, codes in PFS.items():
        for code, (work, fac_total, nonfac_total, fac, nonfac) in codes.items():
            _insert(con, "pfs_rvu", release, code, "", work, fac_total, nonfac_total)
            _insert(con, "pfs_rvu", release, code, "26", "9.99", "9.99", "9.99")  # not the unmodified row
            _insert(con, "pfs_payment", release, code, "", True, "facility", "all", fac)
            _insert(con, "pfs_payment", release, code, "", True, "non_facility", "all", nonfac)
            _insert(con, "pfs_payment", release, code, "", False, "facility", "all", "1.00")  # a locality
    _insert(con, "pfs_rvu", "pfs/2026A/r1", "37252", "", "1.80", "2.61", "26.60")
    _insert(con, "pfs_payment", "pfs/2026A/r1", "37252", "", True, "non_facility", "qp", "869.42")
    _insert(con, "pfs_payment", "pfs/2026A/r1", "37252", "", True, "non_facility", "non_qp", "860.57")
    for release, variants in CF.items():
        for variant, cf in variants.items():
            _insert(con, "conversion_factor", release, "physician", variant, cf)
        _insert(con, "conversion_factor", release, "anesthesia", "all", "33.2875" if "2022" in release else "20.0")
    _insert(con, "mue", "mue/2024Q1/r1", "practitioner", "37252", 1, 2)
    _insert(con, "mue", "mue/2024Q3/r1", "practitioner", "37252", 2, 2)
    _insert(con, "mue", "mue/2024Q3/r1", "outpatient_hospital", "37253", 9, 3)
    _insert(con, "mue", "mue/2026Q2/r1", "practitioner", "37252", 1, 2)
    _insert(con, "mue", "mue/2026Q2/r1", "practitioner", "37253", 5, 3)
    _insert(con, "asc_addendum_aa", "asc/2024-04/r1", "37221", "J8", "9876.54")
    _insert(con, "asc_addendum_bb", "asc/2024-04/r1", "37252", "N1", None)
    yield con
    con.close()


def fig(hcpcs: str, field: str, value: str, raw: str | None = None, page: int = 1) -> GuideFigure:
    return GuideFigure(page, hcpcs, field, value, raw if raw is not None else value, True)


def guide(*figures: GuideFigure, year: int | None = 2024, cf: str | None = "33.2875") -> GuideExtract:
    return GuideExtract(path=Path("/guides/some-guide.pdf"), year=year, conversion_factor=cf, figures=list(figures))


GUIDE_2024 = (
    fig("37252", "work_rvu", "1.80"), fig("37252", "total_rvu_facility", "2.59"),
    fig("37252", "payment_facility", "86", "$86"), fig("37252", "payment_non_facility", "927", "$927"),
    fig("37253", "work_rvu", "1.44"), fig("37253", "total_rvu_facility", "2.06"),
    fig("37253", "payment_facility", "69", "$69"), fig("37253", "payment_non_facility", "170", "$170"),
)


def one(con, figure: GuideFigure, **kw):
    year = kw.pop("year", 2024)
    checks = reconcile(con, guide(figure, year=year, **kw), guide_sha256=SHA)
    assert len(checks) == 1
    return checks[0]


def test_guide_matching_cms_all_match_against_the_release_with_its_cf(con):
    checks = reconcile(con, guide(*GUIDE_2024), guide_sha256=SHA)
    assert [c.status for c in checks] == ["match"] * 8
    # 2024A has another CF; 2024C has the same CF but came later: the release that brought in the CF is used
    assert {c.cms_release for c in checks} == {"pfs/2024B/r1"}
    c = checks[3]
    assert (c.guide, c.guide_sha256, c.page, c.hcpcs, c.field, c.guide_value, c.guide_raw, c.cms_value) == (
        "some-guide.pdf", SHA, 1, "37252", "payment_non_facility", "927", "$927", "927.06")
    assert c.note == "guide rounds to whole dollars; CMS 927.06 rounds to 927"


def test_one_altered_amount_is_exactly_one_mismatch(con):
    figures = list(GUIDE_2024)
    figures[7] = fig("37253", "payment_non_facility", "171", "$171")
    checks = reconcile(con, guide(*figures), guide_sha256=SHA)
    bad = [c for c in checks if c.status == "mismatch"]
    assert len(bad) == 1 and (bad[0].hcpcs, bad[0].field, bad[0].cms_value) == ("37253", "payment_non_facility", "170.43")
    assert sum(c.status == "match" for c in checks) == 7


@pytest.mark.parametrize(("code", "field", "value", "year", "status", "cms"), [
    ("37252", "payment_non_facility", "927", 2024, "match", "927.06"),
    ("37252", "payment_non_facility", "928", 2024, "mismatch", "927.06"),
    ("37252", "payment_non_facility", "1026.07", 2022, "match", "1026.07"),
    ("37252", "payment_facility", "86", 2024, "match", "86.21"),
    ("37252", "payment_facility", "86.2", 2024, "match", "86.21"),       # one decimal fewer
    ("37252", "payment_facility", "86.210", 2024, "match", "86.21"),     # one decimal more
    ("37252", "payment_facility", "86.22", 2024, "mismatch", "86.21"),
    ("37252", "work_rvu", "1.8", 2024, "match", "1.80"),
    ("37252", "work_rvu", "2", 2024, "mismatch", "1.80"),                 # RVUs are not rounded to whole units
    ("37253", "total_rvu_facility", "2.06", 2022, "mismatch", "2.05"),
])
def test_rounding_rules(con, code, field, value, year, status, cms):
    c = one(con, fig(code, field, value), year=year, cf="33.2875" if year == 2024 else None)
    assert (c.status, c.cms_value) == (status, cms)


@pytest.mark.parametrize(("guide_value", "cms", "status"), [
    ("171", "170.50", "match"),       # half-up, not banker's rounding
    ("170", "170.50", "mismatch"),
    ("170", "170.49", "match"),
    ("1.9", "1.85", "match"),
    ("1.8", "1.849", "mismatch"),     # two places fewer is only allowed for whole dollars
    ("927.06", "927.06", "match"),
    ("927.059", "927.06", "mismatch"),
])
def test_half_up_at_the_guides_precision(guide_value, cms, status):
    assert _compare_numbers(guide_value, Decimal(cms), money=True)[0] == status


def test_code_absent_from_cms_is_not_in_cms_data(con):
    c = one(con, fig("99999", "work_rvu", "1.00"))
    assert (c.status, c.cms_value, c.cms_release) == ("not in CMS data", None, "pfs/2024B/r1")
    assert "99999" in c.note and "2024B" in c.note
    c = one(con, fig("99999", "payment_facility", "10"))
    assert c.status == "not in CMS data"


def test_year_not_loaded_makes_every_pfs_figure_not_in_cms_data(con):
    checks = reconcile(con, guide(*GUIDE_2024, year=2023, cf=None), guide_sha256=SHA)
    assert {c.status for c in checks} == {"not in CMS data"}
    assert all(c.cms_release is None and c.cms_value is None and "2023" in c.note for c in checks)
    # the year argument wins over the guide's
    checks = reconcile(con, guide(*GUIDE_2024), year=2023, guide_sha256=SHA)
    assert {c.status for c in checks} == {"not in CMS data"}


def test_no_year_is_an_error(con):
    with pytest.raises(NoDataError, match="some-guide.pdf"):
        reconcile(con, guide(*GUIDE_2024, year=None), guide_sha256=SHA)
    assert reconcile(con, guide(*GUIDE_2024, year=None), year=2024, guide_sha256=SHA)[0].status == "match"


def test_release_choice_without_a_cf_or_with_an_unknown_cf_is_the_latest_of_the_year(con):
    c = one(con, fig("37252", "payment_non_facility", "928.72"), cf=None)
    assert (c.status, c.cms_release) == ("match", "pfs/2024C/r1")
    c = one(con, fig("37252", "payment_non_facility", "928.72"), cf="31.0000")
    assert (c.status, c.cms_release) == ("match", "pfs/2024C/r1")
    assert "31.0000" in c.note
    c = one(con, fig("37252", "payment_non_facility", "911.93"), cf="32.7442")
    assert (c.status, c.cms_release) == ("match", "pfs/2024A/r1")


def test_payment_uses_the_cf_variant_the_guide_states(con):
    nonfac = fig("37252", "payment_non_facility", "869.42")
    assert one(con, nonfac, year=2026, cf="33.4009").status == "match"        # the QP conversion factor
    assert one(con, nonfac, year=2026, cf=None).cms_value == "860.57"         # default: non-QP


def test_mue_of_the_year_else_the_newest_table(con):
    c = one(con, fig("37252", "mue", "2"))  # the latest 2024 practitioner table: Q3
    assert (c.status, c.cms_release) == ("match", "mue/2024Q3/r1")
    c = one(con, fig("37253", "mue", "5"), year=2022, cf=None)  # only other years' tables: shown, never a match
    assert (c.status, c.cms_value, c.cms_release) == ("other period", "5", "mue/2026Q2/r1")
    assert "2026Q2" in c.note and "a 2022 quarter's practitioner table is needed" in c.note
    assert one(con, fig("37253", "mue", "6"), year=2022, cf=None).status == "other period"  # not a mismatch either
    c = one(con, fig("37253", "mue", "9"))  # only an outpatient hospital MUE in 2024Q3
    assert c.status == "not in CMS data"


def test_indicators_and_not_comparable(con):
    assert one(con, fig("37252", "asc_payment_indicator", "N1", "Status N1: Packaged")).status == "match"  # BB
    assert one(con, fig("37221", "asc_payment_indicator", "A2")).status == "mismatch"                      # AA J8
    assert one(con, fig("37221", "asc_payment", "9876.54")).status == "match"
    packaged = one(con, fig("37252", "asc_payment", "500"))
    assert packaged.status == "mismatch" and "N1" in packaged.note
    c = one(con, fig("37252", "asc_payment_indicator", "N1"), year=2022, cf=None)
    assert c.status == "not in CMS data" and "2022" in c.note
    c = one(con, fig("37252", "opps_status_indicator", "N"))
    assert c.status == "not in CMS data" and "OPPS" in c.note
    c = one(con, fig("37252", "not_reported_with", "37191"))
    assert (c.status, c.cms_value, c.cms_release) == ("not comparable", None, None) and "PTP" in c.note


def test_report_puts_mismatches_first_and_escapes_html(con):
    figures = [fig("37252", "not_reported_with", "37191", "37191 <b>IVC</b> & filter"),
               *GUIDE_2024[:3],
               fig("37252", "payment_non_facility", "999", "$999 <script>alert(1)</script>", page=2),
               fig("99999", "work_rvu", "1.00", "1.00 | pipe")]
    g = guide(*figures)
    checks = reconcile(con, g, guide_sha256=SHA)
    page = render_report(checks, g, "html")
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;IVC&lt;/b&gt; &amp; filter" in page
    assert page.startswith("<!DOCTYPE html>") and "<link" not in page and "src=" not in page  # self-contained
    for text in ("some-guide.pdf", SHA, "2024", "33.2875", "pfs/2024B/r1",
                 "1 mismatch, 0 other period, 1 not in CMS data, 1 not comparable, 3 match"):
        assert text in page
    order = [page.index(f'<tr class="{s}">') for s in ("mismatch", "not-in-cms-data", "not-comparable", "match")]
    assert order == sorted(order)

    md = render_report(checks, g, "markdown")
    rows = [line for line in md.splitlines() if line.startswith("| ") and "page" not in line]
    assert [r.split(" | ")[5] for r in rows] == ["mismatch", "not in CMS data", "not comparable"] + ["match"] * 3
    assert "1.00 \\| pipe" in md and "<script>" not in md
    with pytest.raises(ValueError):
        render_report(checks, g, "pdf")
