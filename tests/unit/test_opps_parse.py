"""OPPS Addendum B on files generated in code, in both CMS formats (xlsx and the Section 508 csv).

No real Addendum B is available offline, so the fixtures follow the documented layout and its quirks: title
and copyright rows above the header, `$` and thousands separators, `.` for "no amount", one- and
two-character status indicators, blank APCs, and a note column whose header changes every year. The xlsx is
written by hand by tests/builders.py (no xlsx writer is a dependency).

The last tests use the same generated workbooks to check the engine features the ASC addenda layout needs
(sheet chosen by name, a blank-headed column found by position, rounding to the shown decimals).
"""

from decimal import Decimal

import polars as pl
import pytest

from core.errors import ParseError
from transform.asc import parse_workbook
from transform.layout import load_layouts, parse_file
from tests.helpers import parse_addendum_b
from tests.builders import (OPPS_HEADER, OPPS_NOTE_2020, OPPS_NOTE_2025, OPPS_ROWS, OPPS_TITLE, write_csv,
                            write_xlsx)

# ------------------------------------------------------------------------------------- Addendum B
# The fixture (title rows, header, rows as the 508 csv and as the xlsx hold them) is tests/builders.py's.
TITLE, NOTE_2025, NOTE_2020, HEADER, ROWS = OPPS_TITLE, OPPS_NOTE_2025, OPPS_NOTE_2020, OPPS_HEADER, OPPS_ROWS


def _files(tmp_path, header=HEADER, rows=ROWS, title=TITLE, name="addendum_b"):
    csv_path = write_csv(tmp_path / f"{name}.csv", title + [header] + [r[0] for r in rows])
    xlsx_path = write_xlsx(tmp_path / f"{name}.xlsx", {"Addendum B": title + [header] + [list(r[1]) for r in rows]})
    return csv_path, xlsx_path


def test_csv_and_xlsx_parse_to_identical_tables(tmp_path):
    csv_path, xlsx_path = _files(tmp_path)
    from_csv, from_xlsx = parse_addendum_b(csv_path, 2025), parse_addendum_b(xlsx_path, 2025)
    assert from_csv.columns == [
        "hcpcs", "short_descriptor", "status_indicator", "apc", "relative_weight", "payment_rate",
        "national_unadjusted_copayment", "minimum_unadjusted_copayment", "note", "pass_through_expiration",
        "ira_adjusted_copayment", "change_flag", "source_row"]
    assert from_csv.height == len(ROWS)
    assert from_csv.equals(from_xlsx)
    assert from_csv.schema == from_xlsx.schema


def test_money_placeholders_status_indicators_and_apcs(tmp_path):
    f = parse_addendum_b(_files(tmp_path)[0], 2025)
    rows = {r["hcpcs"]: r for r in f.iter_rows(named=True)}
    icd = rows["33274"]
    assert (icd["status_indicator"], icd["apc"]) == ("J1", "5194")
    assert icd["relative_weight"] == Decimal("159.2513")
    assert icd["payment_rate"] == Decimal("14331.98")  # "$14,331.98"
    assert icd["national_unadjusted_copayment"] is None  # "."
    assert icd["minimum_unadjusted_copayment"] == Decimal("2866.40")
    assert icd["change_flag"] == "*"
    assert icd["source_row"] == 6  # three title rows, the header, then the data
    assert rows["99285"]["national_unadjusted_copayment"] == Decimal("262.14")
    assert rows["99285"]["note"] == "*"
    assert rows["G0008"]["apc"] == "0412"  # leading zero kept (and restored from the xlsx number)
    assert rows["C9046"]["pass_through_expiration"] == "12/31/2026"
    assert rows["C1734"]["short_descriptor"] == "Orth/devic/drug bn/bn,tis/bn"
    blank = rows["36415"]
    assert blank["status_indicator"] == "Q4"
    assert [blank[c] for c in ("apc", "relative_weight", "payment_rate", "minimum_unadjusted_copayment")] == [None] * 4
    assert f.schema["payment_rate"] == pl.Decimal(18, 9) and f.schema["relative_weight"] == pl.Decimal(18, 4)
    assert f.schema["hcpcs"] == pl.String and f.schema["apc"] == pl.String


def _keep(rows, columns):
    """The rows with only the given column positions, in both representations."""
    def pick(cells):
        cells = list(cells) + [None] * (len(HEADER) - len(cells))
        return [cells[i] for i in columns]
    return [(pick(c), pick(x)) for c, x in rows]


def test_the_note_header_of_another_year_and_absent_optional_columns(tmp_path):
    # CY2020-style: another note header, another change-flag header, no pass-through column.
    cols = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10]
    header_2020 = HEADER[:8] + [NOTE_2020, "* Indicates a Change from the Previous Quarter"]
    for path in _files(tmp_path, header_2020, _keep(ROWS, cols)):
        f = parse_addendum_b(path, 2020)
        assert f["note"].to_list() == [r[0][8] or None for r in ROWS]
        assert f["change_flag"].to_list() == [r[0][10] or None for r in ROWS]
        assert f["pass_through_expiration"].null_count() == len(ROWS)  # absent in this file: NULL

    minimal = parse_addendum_b(_files(tmp_path, HEADER[:8], _keep(ROWS, range(8)), name="min")[0], 2025)
    assert minimal.columns[-5:] == ["note", "pass_through_expiration", "ira_adjusted_copayment", "change_flag",
                                    "source_row"]
    assert minimal.select("note", "pass_through_expiration", "change_flag").null_count().row(0) == (len(ROWS),) * 3


def test_header_found_by_name_below_more_title_rows(tmp_path):
    title = [["Addendum B"], ["January 2025 update"]] + TITLE
    f = parse_addendum_b(_files(tmp_path, title=title)[1], 2025)
    assert f.height == len(ROWS)
    assert f["source_row"][0] == len(title) + 2


def test_missing_si_column_is_a_clear_error(tmp_path):
    cols = [i for i in range(len(HEADER)) if HEADER[i] != "SI"]
    csv_path, xlsx_path = _files(tmp_path, [HEADER[i] for i in cols], _keep(ROWS, cols))
    for path in (csv_path, xlsx_path):
        with pytest.raises(ParseError, match=rf"{path.name}: missing column 'status_indicator'"):
            parse_addendum_b(path, 2025)


def test_a_money_cell_that_is_not_a_number_names_row_and_column(tmp_path):
    rows = list(ROWS)
    rows[1] = ([*ROWS[1][0][:5], "$14,33l.98", *ROWS[1][0][6:]], ROWS[1][1])
    with pytest.raises(ParseError, match=r"addendum_b.csv row 6, column payment_rate: '1433l.98' is not a number"):
        parse_addendum_b(_files(tmp_path, rows=rows)[0], 2025)


# ------------------------------------------------------------------- engine features used by the ASC layout
def _asc_workbook(tmp_path, aa_header_gap=True, marker_header=None, weight=6.6146):
    title = [["Addendum AA -- ASC Covered Surgical Procedures for CY 2020"], ["CPT codes ... copyright"]]
    head = ["HCPCS Code", marker_header, "Short Descriptor", "Subject to Multiple Procedure Discounting",
            " January CY 2020 Payment Indicator", "January CY 2020 Payment Weight  ", "January CY 2020 Payment Rate "]
    aa = title + ([[None]] if aa_header_gap else []) + [head] + [
        ["10005", "*", "Fna bx w/us gdn 1st les", "Y", "P3", None, 75.07],
        ["37252", None, "Intrvasc us noncoronary 1st", "N", "N1"],
        ["G0260", None, "Inj for sacroiliac jt anesth", "Y", "A2", weight, 315.83],
        [None],
        ["NOTE 1:  Asterisked codes(*) indicate that the designation is temporary."],
    ]
    bb = [["Addendum BB -- ASC Covered Ancillary Services"], ["CPT codes ... copyright"],
          ["HCPCS Code", None, "Short Descriptor", "January CY 2020 Payment Indicator",
           "January CY 2020 Payment Weight  ", "January CY 2020 Payment Rate "],
          ["Q9991", None, "Buprenorph xr 100 mg or less", "K2", None, 1672.45],
          ["G0008", "**", "Admin influenza virus vac", "L1"]]
    dd1 = [["Addendum DD1 -- ASC Payment Indicators for CY 2020"], ["Indicator", "Payment Indicator Definition"],
           ["N1", "Packaged service/item; no separate payment made."]]
    dd2 = [["Addendum DD2 -- ASC Comment Indicators for CY 2020"], ["CI", "Comment  Indicator Meanings"],
           ["CH", "Active HCPCS code ..."]]
    ee = [["Addendum EE"], ["CPT codes ... copyright"], [None], ["HCPCS Code", "Short Descriptior"],
          ["00176", "\tAnesth pharyngeal surgery"]]
    # Sheets out of order: they are chosen by name, not by position.
    return write_xlsx(tmp_path / "asc_addenda.xlsx", {
        "CY 2020 Jan ASC EE": ee, "CY 2020 Jan ASC AA": aa, "CY 2020 Jan ASC DD1": dd1,
        "CY 2020 Jan ASC BB": bb, "CY 2020 Jan ASC DD2": dd2})


def test_asc_sheets_by_name_blank_marker_column_and_note_rows(tmp_path):
    parsed = parse_workbook(_asc_workbook(tmp_path, aa_header_gap=False), 2020)
    aa = parsed["aa"].frame
    assert aa.select("hcpcs", "marker", "payment_indicator").rows() == [
        ("10005", "*", "P3"), ("37252", None, "N1"), ("G0260", None, "A2")]
    assert aa["payment_weight"].to_list() == [None, None, Decimal("6.6146")]
    assert aa["comment_indicator"].to_list() == [None] * 3  # optional, absent in 2020
    assert parsed["bb"].frame.select("hcpcs", "marker").rows() == [("Q9991", None), ("G0008", "**")]
    assert parsed["dd1"].frame.rows() == [("N1", "Packaged service/item; no separate payment made.", 3)]
    assert parsed["ee"].frame.rows() == [("00176", "Anesth pharyngeal surgery", 5)]


def test_asc_weight_stored_with_more_decimals_is_rounded_and_noted(tmp_path):
    parsed = parse_workbook(_asc_workbook(tmp_path, weight=433.02448321360504), 2020)["aa"]
    assert parsed.frame["payment_weight"][2] == Decimal("433.0245")
    assert parsed.notes == ["asc_addenda.xlsx: column payment_weight rounded to 4 decimals in rows [7] "
                            "(sheet 'CY 2020 Jan ASC AA')"]


def test_asc_marker_column_with_a_header_or_missing_sheet_is_an_error(tmp_path):
    with pytest.raises(ParseError, match=r"missing column 'marker' \(the column right after 'hcpcs'.*found header "
                                         r"'FOOTNOTE'.*\(sheet 'CY 2020 Jan ASC AA'\)"):
        parse_workbook(_asc_workbook(tmp_path, marker_header="Footnote"), 2020)
    path = write_xlsx(tmp_path / "only_aa.xlsx", {"CY 2020 Jan ASC AA": [["HCPCS Code"]]})
    with pytest.raises(ParseError, match=r"only_aa.xlsx: no sheets named like .*BB\$.*CY 2020 Jan ASC AA"):
        parse_file(path, load_layouts("asc")["bb"], 2020)
