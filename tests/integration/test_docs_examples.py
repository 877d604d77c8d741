"""Every example query of docs/schema.md runs on a warehouse built from the whole mirror."""

from decimal import Decimal

import duckdb
import pytest

from warehouse.docs import EXAMPLES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def con(mirror_db):
    c = duckdb.connect(str(mirror_db), read_only=True)
    yield c
    c.close()


D = Decimal
# The figures each documented example gives on the whole mirror (CMS's own numbers: 86.21 / 927.06 are also in the
# README; PFREV-checked payment formula, see docs/payments.md)
EXPECTED = {
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


@pytest.mark.parametrize("title, sql", EXAMPLES, ids=[t for t, _ in EXAMPLES])
def test_example_gives_its_documented_figures(con, title, sql):
    *setup, query = [s for s in sql.split(";") if s.strip()]
    for statement in setup:
        con.execute(statement)
    rows = con.execute(query).fetchall()
    expected = EXPECTED[title]
    if isinstance(expected, tuple):  # a long result: its first row
        assert rows and rows[0] == expected, title
    else:
        assert rows == expected, title


def test_every_example_has_its_figures():
    assert set(EXPECTED) == {t for t, _ in EXAMPLES}
