"""The real vendor coding guides (../shared/vendor-guides) extract to the figures they print, page by page."""

from __future__ import annotations

import pytest

from tests.helpers import SHARED
from transform.vendor_guide import extract_guide

pytestmark = pytest.mark.integration
GUIDES = SHARED / "vendor-guides"
GUIDE_2024 = GUIDES / "ivus-2024-coding-reimbursement-guide.pdf"
ARTICLE_2022 = GUIDES / "ivus-documenting-coding-billing-2022.pdf"


def by_key(extract) -> dict[tuple[str, str], list[tuple[str, int]]]:
    out: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for f in extract.figures:
        out.setdefault((f.hcpcs, f.field), []).append((f.value, f.page))
    return out


@pytest.fixture(scope="module")
def guide_2024():
    return extract_guide(GUIDE_2024)  # a missing guide fails: ../shared is part of every developer's and CI's machine


@pytest.fixture(scope="module")
def article_2022():
    return extract_guide(ARTICLE_2022)


def test_2024_guide_year_and_conversion_factor(guide_2024):
    assert guide_2024.year == 2024
    assert guide_2024.conversion_factor == "33.2875"  # stated on the notes/sources page (page 2)


def test_2024_guide_ruled_tables(guide_2024):
    assert by_key(guide_2024) == {
        ("37252", "work_rvu"): [("1.80", 1)], ("37253", "work_rvu"): [("1.44", 1)],
        ("37252", "total_rvu_facility"): [("2.59", 1)], ("37253", "total_rvu_facility"): [("2.06", 1)],
        ("37252", "payment_facility"): [("86", 1)], ("37253", "payment_facility"): [("69", 1)],
        ("37252", "payment_non_facility"): [("927", 1)], ("37253", "payment_non_facility"): [("170", 1)],
        # the status cells are merged over both rows of the ASC / hospital outpatient table
        ("37252", "asc_payment_indicator"): [("N1", 1)], ("37253", "asc_payment_indicator"): [("N1", 1)],
        ("37252", "opps_status_indicator"): [("N", 1)], ("37253", "opps_status_indicator"): [("N", 1)],
    }
    assert all(f.add_on for f in guide_2024.figures)  # printed +37252 / +37253
    raw = {(f.hcpcs, f.field): f.raw for f in guide_2024.figures}
    assert raw[("37252", "payment_non_facility")] == "$927"
    assert raw[("37252", "asc_payment_indicator")].startswith("Status N1: Packaged services.")


def test_2022_article_unruled_table_and_prose(article_2022):
    assert article_2022.year == 2022
    assert article_2022.conversion_factor is None  # the article does not state it
    figures = by_key(article_2022)
    assert figures[("37252", "payment_non_facility")] == [("1026.07", 1)]
    assert figures[("37252", "payment_facility")] == [("89.63", 1)]
    assert figures[("37253", "payment_non_facility")] == [("175.45", 1)]
    assert figures[("37253", "payment_facility")] == [("70.94", 1)]
    assert figures[("37252", "mue")] == [("1", 1)]
    assert figures[("37253", "mue")] == [("5", 1)]
    for code in ("37252", "37253"):
        assert sorted(v for v, _ in figures[(code, "not_reported_with")]) == ["37191", "37192", "37193", "37197"]
    # nothing else: the description list under the table and the code ranges in the prose are not figures
    assert {field for _, field in figures} == {"payment_non_facility", "payment_facility", "mue",
                                               "not_reported_with"}
    raw = {(f.hcpcs, f.field): f.raw for f in article_2022.figures}
    assert raw[("37252", "payment_non_facility")] == "$1,026.07"
    assert raw[("37252", "mue")] == "one (1) for 37252"


def test_year_argument_wins(article_2022):
    assert extract_guide(ARTICLE_2022, year=2023).year == 2023
