"""The real vendor guides (../shared/vendor-guides) reconciled against the real CMS files of the mirror: every PFS
release, the 2026 Q2 MUE table and the 2020 ASC addenda loaded into one warehouse."""

from __future__ import annotations

import duckdb
import pytest

from expectations.reconcile import reconcile
from expectations.reconcile_report import render_report
from extract.download import sha256_file as file_sha256
from tests.helpers import SHARED
from transform.vendor_guide import extract_guide

pytestmark = pytest.mark.integration
GUIDES = SHARED / "vendor-guides"
GUIDE_2024 = GUIDES / "ivus-2024-coding-reimbursement-guide.pdf"
ARTICLE_2022 = GUIDES / "ivus-documenting-coding-billing-2022.pdf"


@pytest.fixture(scope="module")
def con(mirror_db):
    con = duckdb.connect(str(mirror_db), read_only=True)
    yield con
    con.close()


def checked(con, path):
    extract = extract_guide(path)
    return extract, reconcile(con, extract, guide_sha256=file_sha256(path))


def by_key(checks):
    return {(c.hcpcs, c.field): c for c in checks}


def test_2024_guide_matches_rvu24b(con):
    extract, checks = checked(con, GUIDE_2024)
    assert extract.year == 2024 and extract.conversion_factor == "33.2875"
    got = by_key(checks)
    expected = {
        ("37252", "work_rvu"): ("1.80", "1.80"), ("37253", "work_rvu"): ("1.44", "1.44"),
        ("37252", "total_rvu_facility"): ("2.59", "2.59"), ("37253", "total_rvu_facility"): ("2.06", "2.06"),
        ("37252", "payment_facility"): ("86", "86.21"), ("37253", "payment_facility"): ("69", "68.57"),
        ("37252", "payment_non_facility"): ("927", "927.06"), ("37253", "payment_non_facility"): ("170", "170.43"),
    }
    for key, (guide_value, cms_value) in expected.items():
        c = got[key]
        assert (c.guide_value, c.cms_value, c.status, c.cms_release) == (
            guide_value, cms_value, "match", "pfs/2024B/r1"), key
    assert got[("37252", "payment_non_facility")].note == "guide rounds to whole dollars; CMS 927.06 rounds to 927"
    assert all(c.guide == GUIDE_2024.name and len(c.guide_sha256) == 64 for c in checks)


def test_2024_guide_asc_is_checked_against_the_2024_addenda_and_opps_has_no_2024_release(con):
    _, checks = checked(con, GUIDE_2024)
    got = by_key(checks)
    for code in ("37252", "37253"):
        asc = got[(code, "asc_payment_indicator")]
        assert (asc.guide_value, asc.cms_value, asc.status, asc.cms_release) == ("N1", "N1", "match", "asc/2024-04/r1")
        opps = got[(code, "opps_status_indicator")]
        assert (opps.guide_value, opps.status, opps.cms_release) == ("N", "not in CMS data", None)
        assert "2024" in opps.note and "OPPS" in opps.note


def test_2022_article_matches_rvu22a_and_its_mues_are_another_period(con):
    extract, checks = checked(con, ARTICLE_2022)
    assert extract.year == 2022 and extract.conversion_factor is None
    got = by_key(checks)
    for key, value in {("37252", "payment_non_facility"): "1026.07", ("37252", "payment_facility"): "89.63",
                       ("37253", "payment_non_facility"): "175.45", ("37253", "payment_facility"): "70.94"}.items():
        c = got[key]
        assert (c.guide_value, c.cms_value, c.status, c.cms_release) == (value, value, "match", "pfs/2022A/r1"), key
    for code, limit in (("37252", "1"), ("37253", "5")):
        c = got[(code, "mue")]
        # only the 2026Q2 table is loaded: the 2022 article's limits equal it, but that is not a 2022 match
        assert (c.guide_value, c.cms_value, c.status, c.cms_release) == (limit, limit, "other period",
                                                                         "mue/2026Q2/r1")
        assert "equal figures, but of 2026Q2" in c.note and "a 2022 quarter's practitioner table is needed" in c.note
    ptp = [c for c in checks if c.field == "not_reported_with"]
    assert ptp and {c.status for c in ptp} == {"not comparable"}


def test_no_figure_of_either_guide_is_a_mismatch(con):
    for path in (GUIDE_2024, ARTICLE_2022):
        extract, checks = checked(con, path)
        assert len(checks) == len(extract.figures)
        assert [c for c in checks if c.status == "mismatch"] == []


def test_reports_of_the_real_guides(con):
    extract, checks = checked(con, GUIDE_2024)
    page = render_report(checks, extract, "html")
    assert GUIDE_2024.name in page and file_sha256(GUIDE_2024) in page and "pfs/2024B/r1" in page
    assert "0 mismatch, 0 other period, 2 not in CMS data, 0 not comparable, 10 match" in page
    md = render_report(checks, extract, "markdown")
    assert md.index("not in CMS data |") < md.index("| match |")
