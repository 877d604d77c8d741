"""The ZIP code to carrier locality file (dataset zip) on files and frames made in code: both formats parse alike, CMS's
codes are read or refused, every check of the suite and the GPCI check fails on the bad case, and pfs_check places a
line's ZIP code or says why it cannot."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import polars as pl
import pytest

from core.errors import ParseError
from core.tables import TABLES
from expectations import zip_locality as suite_module
from expectations.suites import validate_tables
from extract.catalog import load_dataset
from extract.fetch import local_source
from tests.builders import write_xlsx
from transform import zip_locality

HEADER = ["STATE", "ZIP CODE", "CARRIER", "LOCALITY", "RURAL IND", "LAB CB LOCALITY", "RURAL IND2", "PLUS 4 FLAG",
          "PART B DRUG INDICATOR", "YEAR/QTR"]
ROWS = [("AK", "99501", "02102", "01", "", "Z9", "", "0", "A", "20254"),
        ("CA", "90210", "01182", "18", "", "Z9", "", "0", "A", "20254"),
        ("MA", "02324", "14212", "99", "R", "Z1", "R", "1", "A", "20254"),
        ("WY", "83414", "03602", "21", "B", "Z9", "B", "0", "A", "20254")]


def fixed_width(row) -> str:
    """One record as ZIP5lyout.txt places it: 80 columns."""
    state, zip5, mac, loc, rural, lab, rural2, plus4, part_b, yq = row
    line = f"{state}{zip5}{mac}{loc}{rural or ' '}{lab}{rural2 or ' '}  {plus4} {part_b}"
    return line.ljust(75) + yq


def write_txt(path, rows=ROWS):
    path.write_bytes("".join(fixed_width(r) + "\r\n" for r in rows).encode("ascii"))
    return path


def transform(path, period="2025-10"):
    spec = load_dataset("zip")
    return zip_locality.transform_release(spec, spec.release(period), [local_source("zip5", "all", path)])


def test_the_txt_and_the_xlsx_parse_to_the_same_table(tmp_path):
    txt = transform(write_txt(tmp_path / "ZIP5_OCT2025.txt")).tables["zip_locality"]
    xlsx_path = write_xlsx(tmp_path / "ZIP5_OCT2025.xlsx", {"ZIP5_OCT2025": [HEADER, *[list(r) for r in ROWS]]})
    xlsx = transform(xlsx_path).tables["zip_locality"]
    assert txt.drop("source_sha256", "source_row").equals(xlsx.drop("source_sha256", "source_row"))
    assert txt["source_row"].to_list() == [1, 2, 3, 4] and xlsx["source_row"].to_list() == [2, 3, 4, 5]
    assert txt.columns[:-2] == [c.name for c in TABLES["zip_locality"].columns]
    assert txt.select("zip5", "mac", "locality", "rural_indicator", "needs_plus_four").rows() == [
        ("99501", "02102", "01", "urban", False), ("90210", "01182", "18", "urban", False),
        ("02324", "14212", "99", "rural", True), ("83414", "03602", "21", "super_rural", False)]


@pytest.mark.parametrize("column, index, value, message", [
    ("rural indicator", 4, "X", "column rural_indicator: 'X' is not one of blank, 'R', 'B'"),
    ("plus four flag", 7, "2", "column needs_plus_four: '2' is not one of '0', '1'"),
])
def test_a_code_the_record_layout_does_not_list_is_refused_with_its_row(tmp_path, column, index, value, message):
    rows = [list(r) for r in ROWS]
    rows[2][index] = value
    with pytest.raises(ParseError, match=f"ZIP5_OCT2025.txt row 3, {message}"):
        transform(write_txt(tmp_path / "ZIP5_OCT2025.txt", rows))


def test_a_file_named_for_another_quarter_is_refused(tmp_path):
    with pytest.raises(ParseError, match="ZIP5_JUL2025.txt: its name states the quarter of 2025-07, but the catalog's "
                                         "release zip:2025-10 is effective 2025-10-01"):
        transform(write_txt(tmp_path / "ZIP5_JUL2025.txt"))


# --------------------------------------------------------------------------- the suite and the GPCI check
N = 30_000  # the suite's lower bound: the real file has 42,956 ZIP codes


def zip_frame(n=N, **override) -> pl.DataFrame:
    base = {"zip5": [f"{i:05d}" for i in range(n)], "state": ["CA"] * n, "mac": ["01182"] * n, "locality": ["18"] * n,
            "rural_indicator": ["urban"] * n, "lab_cb_locality": ["Z9"] * n, "needs_plus_four": [False] * n,
            "part_b_payment_indicator": ["A"] * n, "year_quarter": ["20254"] * n}
    for column, (row, value) in override.items():
        base[column][row] = value
    return pl.DataFrame(base, schema={c.name: c.polars_type for c in TABLES["zip_locality"].columns}).with_columns(
        pl.lit("x" * 64).alias("source_sha256"), pl.int_range(1, n + 1).alias("source_row"))


def validated(frame, previous_rows=None, gpci=None):
    return {r.table: r for r in validate_tables(
        {"zip_locality": frame}, dataset="zip", period="2025-10", effective_from=date(2025, 10, 1),
        previous_rows=previous_rows, previous_period="2025-07", previous_data={"gpci": gpci} if gpci else None)}


def failed(result) -> list[tuple[str, str | None]]:
    return [(o.expectation, o.column) for o in result.failures()]


def test_a_clean_frame_passes():
    assert validated(zip_frame(), previous_rows={"zip_locality": N + 100})["zip_locality"].success


@pytest.mark.parametrize("override, expected", [
    ({"zip5": (5, "00004")}, [("expect_column_values_to_be_unique", "zip5")]),
    ({"zip5": (5, "9021")}, [("expect_column_values_to_match_regex", "zip5")]),
    ({"mac": (5, "1182")}, [("expect_column_values_to_match_regex", "mac")]),
    ({"locality": (5, "1")}, [("expect_column_values_to_match_regex", "locality")]),
    ({"state": (5, None)}, [("expect_column_values_to_not_be_null", "state")]),
    ({"rural_indicator": (5, "R")}, [("expect_column_values_to_be_in_set", "rural_indicator")]),
    ({"lab_cb_locality": (5, "Z7")}, [("expect_column_values_to_be_in_set", "lab_cb_locality")]),
    ({"needs_plus_four": (5, None)}, [("expect_column_values_to_not_be_null", "needs_plus_four")]),
    ({"part_b_payment_indicator": (5, "AB")}, [("expect_column_values_to_match_regex", "part_b_payment_indicator")]),
    # a row of another quarter's file: the shape is right, the quarter is not the release's
    ({"year_quarter": (5, "20253")}, [("expect_column_values_to_be_in_set", "year_quarter")]),
])
def test_each_check_fails_on_its_bad_value(override, expected):
    assert failed(validated(zip_frame(**override))["zip_locality"]) == expected


def test_the_row_count_must_stay_within_2_percent_of_the_previous_release():
    assert failed(validated(zip_frame(), previous_rows={"zip_locality": 31_000})["zip_locality"]) == [
        ("expect_table_row_count_to_be_between", None)]  # 30,000 is 3.2 % fewer


def test_a_file_far_smaller_than_the_real_one_fails():
    assert failed(validated(zip_frame(n=1_000))["zip_locality"]) == [("expect_table_row_count_to_be_between", None)]


def test_a_locality_missing_from_the_gpci_file_in_effect_names_its_zip_codes():
    frame = zip_frame(mac=(3, "04412"))
    gpci = pl.DataFrame({"mac": ["01182"], "locality": ["18"]})
    (label, problems, _), = suite_module.release_checks({"zip_locality": frame}, {"gpci": (gpci, "2025D")})
    assert label == "zip localities vs GPCI (2025D)"
    assert problems["problem"].to_list() == [
        "04412:18 is not a locality of the GPCI file of 2025D, but 1 ZIP code is priced in it: 00003"]
    result = validated(frame, gpci=(gpci, "2025D"))["zip localities vs GPCI (2025D)"]
    assert failed(result) == [("expect_column_values_to_be_null", "problem")]
    ok = validated(zip_frame(), gpci=(gpci, "2025D"))["zip localities vs GPCI (2025D)"]
    assert ok.success


def test_many_zip_codes_of_a_missing_locality_are_named_ten_and_counted():
    (_, problems, _), = suite_module.release_checks({"zip_locality": zip_frame(n=25)},
                                                    {"gpci": (pl.DataFrame({"mac": ["01112"], "locality": ["05"]}),
                                                              "2025D")})
    assert problems["problem"].to_list() == [
        "01182:18 is not a locality of the GPCI file of 2025D, but 25 ZIP codes are priced in it: 00000, 00001, "
        "00002, 00003, 00004, 00005, 00006, 00007, 00008, 00009 and 15 more"]


def test_without_a_gpci_file_in_effect_the_check_is_not_made():
    assert suite_module.release_checks({"zip_locality": zip_frame(n=5)}, {"gpci": (None, None)}) == []


# --------------------------------------------------------------------------- pfs_check places a line's ZIP code
@pytest.fixture
def con():
    """A snapshot (tables named like the views, every macro) of PFS 2025D's 37252 with the GPCI row of 01182:18, and
    a ZIP code file of two ZIP codes (90210 in 01182:18; 02324 spanning localities)."""
    from tests.unit.test_rule_edges import snapshot_con

    def of_2025d(**values):
        return {"release_id": "pfs/2025D/r1", "period": "2025D", "effective_from": date(2025, 10, 1),
                "effective_to": date(2026, 1, 1), **values}

    def of_zip_file(**values):
        return {**of_2025d(**values), "release_id": "zip/2025-10/r1", "period": "2025-10"}

    D = Decimal
    return snapshot_con({
        "pfs_rvu": [of_2025d(hcpcs="37252", modifier="", status_code="A", work_rvu=D("1.80"),
                             facility_pe_rvu=D("0.44"), non_facility_pe_rvu=D("25.70"), mp_rvu=D("0.35"))],
        "pfs_gpci": [of_2025d(mac="01182", locality="18", locality_name="LOS ANGELES", work_gpci=D("1.054"),
                              pe_gpci=D("1.213"), mp_gpci=D("0.742"))],
        "conversion_factor": [of_2025d(kind="physician", variant="all", conversion_factor=D("32.3465"))],
        "zip_locality": [of_zip_file(zip5="90210", mac="01182", locality="18", needs_plus_four=False),
                         of_zip_file(zip5="02324", mac="14212", locality="99", needs_plus_four=True)]})


def checked(con, lines):
    con.execute("CREATE OR REPLACE TEMP TABLE claim AS SELECT * FROM (VALUES " + ", ".join(
        "('37252', DATE '{}', {}, {}, {})".format(d, *(f"'{v}'" if v else "NULL" for v in rest))
        for d, *rest in lines) + ") t(hcpcs, date_of_service, zip, mac, locality)")
    return con.execute("SELECT locality, pfs_amount, pfs_status FROM pfs_check('claim')").fetchall()


def test_a_zip_is_priced_exactly_as_its_locality(con):
    rows = checked(con, [("2025-11-01", "90210", None, None), ("2025-11-01", None, "01182", "18"),
                         ("2025-11-01", "90210-1234", None, None), ("2025-11-01", "902101234", None, None)])
    # (1.80 x 1.054 + 25.70 x 1.213 + 0.35 x 0.742) x 32.3465 = 1078.14, the amount pfs_payment has for 01182:18
    assert con.execute("SELECT amount FROM pfs_payment_on(DATE '2025-11-01') WHERE locality = '18' "
                       "AND setting = 'non_facility'").fetchall() == [(Decimal("1078.14"),)]
    assert [(r[0], str(r[1])) for r in rows] == [("01182:18", "1078.14")] * 4 and {r[2] for r in rows} == {"priced"}


@pytest.mark.parametrize("line, status", [
    (("2025-11-01", "02324", None, None), "ZIP code spans localities: its +4 and the ZIP+4 file (not loaded) are "
                                          "needed"),
    (("2025-11-01", "99999", None, None), "ZIP code not in the ZIP code to carrier locality file in effect"),
    (("2025-11-01", "9021", None, None), "zip 9021 is not a ZIP code (5 digits, or 9 with an optional dash, e.g. "
                                         "90210 or 90210-1234)"),
    (("2025-06-01", "90210", None, None), "no data: no ZIP code to carrier locality file covers the date of service"),
    (("2025-11-01", "90210", "01182", "18"), "give a zip, or a mac and locality, not both"),
])
def test_a_zip_that_cannot_be_placed_gets_no_amount_never_the_national_one(con, line, status):
    assert checked(con, [line]) == [(None, None, status)]
