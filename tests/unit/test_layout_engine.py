"""The layout engine on small files generated in code: header finding, drift rules, clear errors."""

from decimal import Decimal

from pathlib import Path

import pytest

from core.errors import ParseError
from transform.layout import Column, FileLayout, load_layouts, parse_file

PPRRVU = load_layouts("pfs")["pprrvu"]
PREAMBLE = [
    ",,2026 National Physician Fee Schedule Relative Value File January Release",
    ",,CPT codes and descriptions only are copyright 2025 American Medical Association.",
    ",,Dental codes (D codes) are copyright 2026/27 American Dental Association.",
    ",, ",
    ",,RELEASED 11/01/2025",
]
HEADER = [
    ",, , ,,,,,,,,,,,,,,,,,,,,,,,,,NON-FACILITY,FACILITY,",
    ",,,,NOT USED,,,,,,,,,,,,,,,,,,,,,PHYSICIAN,,DIAGNOSTIC,PE USED,PE USED,MP USED",
    ",,,,FOR,,,NON-FAC,,FACILITY ,,,,,,,,,,,,,,,,SUPERVISION OF,,IMAGING,FOR OPPS,FOR OPPS,FOR OPPS",
    ",,,STATUS,MEDICARE ,WORK,NON-FAC,NA,FACILITY,NA,MP,NON-FACILITY,FACILITY,PCTC,GLOB,PRE,INTRA,POST,MULT,BILAT,"
    "ASST,CO-,TEAM,ENDO,CONV,DIAGNOSTIC,CALCULATION,FAMILY,PAYMENT,PAYMENT,PAYMENT",
    "HCPCS,MOD,DESCRIPTION,CODE,PAYMENT,RVU,PE RVU,INDICATOR,PE RVU,INDICATOR,RVU,TOTAL,TOTAL,IND,DAYS,OP,OP,OP,PROC,"
    "SURG,SURG,SURG,SURG,BASE,FACTOR,PROCEDURES,FLAG,INDICATOR,AMOUNT,AMOUNT,AMOUNT",
]
ROW = "{code},{mod},\"Desc, with comma\",A,,1.80,25.70,,0.44,,0.35,27.85,2.59,0,ZZZ,0.00,0.00,0.00,0,0,0,1,0,,33.2875,09,0,99,0.00,0.00,0.00"


def write(tmp_path, lines, name="PPRRVU.csv"):
    path = tmp_path / name
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return path


def test_split_header_codes_text_and_ctrl_z_trailer(tmp_path):
    lines = PREAMBLE + HEADER + [ROW.format(code="37252", mod=""), ROW.format(code="00100", mod="26"),
                                 "\x1a" + "," * 30]
    parsed = parse_file(write(tmp_path, lines), PPRRVU, 2025)
    f = parsed.frame
    assert f["hcpcs"].to_list() == ["37252", "00100"]
    assert f["modifier"].to_list() == ["", "26"]
    assert f["work_rvu"].to_list() == [Decimal("1.80")] * 2
    assert f["description"][0] == "Desc, with comma"
    assert f["source_row"].to_list() == [11, 12]
    assert parsed.values["cms_release_date"] == "11/01/2025"
    assert "pricing_indicator" not in f.columns  # before 2026 the column does not exist


def test_2026_pric_ind_column_found_by_name_not_position(tmp_path):
    head = [h.split(",") for h in HEADER]
    for row, text in zip(head, ["", "", "", "PRIC", "IND"]):
        row.insert(23, text)
    cells = ROW.format(code="37252", mod="").replace('"Desc, with comma"', "Desc").split(",")
    cells.insert(23, "1")
    lines = PREAMBLE + [",".join(r) for r in head] + [",".join(cells)]
    f = parse_file(write(tmp_path, lines), PPRRVU, 2026).frame
    assert f["pricing_indicator"].to_list() == ["1"]
    assert f["endoscopic_base_code"].to_list() == [None]
    assert f["conversion_factor"].to_list() == [Decimal("33.2875")]


def test_2026_file_without_pric_ind_is_an_error(tmp_path):
    lines = PREAMBLE + HEADER + [ROW.format(code="37252", mod="")]
    with pytest.raises(ParseError, match="missing column 'pricing_indicator'"):
        parse_file(write(tmp_path, lines), PPRRVU, 2026)


def test_header_moved_down_a_row_is_still_found(tmp_path):
    lines = [",,an extra title row"] + PREAMBLE + HEADER + [ROW.format(code="37252", mod="")]
    assert parse_file(write(tmp_path, lines), PPRRVU, 2025).frame["source_row"].to_list() == [12]


def test_not_a_number_names_file_row_and_column(tmp_path):
    lines = PREAMBLE + HEADER + [ROW.format(code="37252", mod="").replace(",1.80,", ",1.8O,")]
    with pytest.raises(ParseError, match=r"PPRRVU.csv row 11, column work_rvu: '1.8O' is not a number"):
        parse_file(write(tmp_path, lines), PPRRVU, 2025)


def test_more_decimals_than_the_layout_allows(tmp_path):
    lines = PREAMBLE + HEADER + [ROW.format(code="37252", mod="").replace(",1.80,", ",1.805,")]
    with pytest.raises(ParseError, match="more than 2 decimals"):
        parse_file(write(tmp_path, lines), PPRRVU, 2025)


def test_data_after_the_footer_is_an_error_not_a_silent_truncation(tmp_path):
    lines = PREAMBLE + HEADER + [ROW.format(code="37252", mod=""), "a note in the middle,,",
                                 ROW.format(code="37253", mod="")]
    with pytest.raises(ParseError, match="row 13: looks like data but comes after the data ended at row 12"):
        parse_file(write(tmp_path, lines), PPRRVU, 2025)


def test_empty_file_and_missing_header(tmp_path):
    with pytest.raises(ParseError, match="empty"):
        parse_file(write(tmp_path, [""]), PPRRVU, 2025)
    with pytest.raises(ParseError, match="header row not found"):
        parse_file(write(tmp_path, PREAMBLE + ["37252,,x"]), PPRRVU, 2025)


GRID = FileLayout(
    kind="demo", table="demo", key=("mac", "locality"), data_key="mac", key_pattern=r"^[0-9]{1,5}$",
    anchor="CONTRACTOR", header_rows=1, txt_years=(2020, 2030), columns=(
        Column("mac", "CONTRACTOR", "code", pad=5, txt=(1, 5)),
        Column("locality", "LOCALITY", "code", pad=2, txt=(7, 8)),
        Column("state", "STATE", "text", fill_down=True, txt=(10, 19)),
        Column("name", "NAME", "text", strip_chars="*", txt=(20, 39)),
        Column("cf", r"(\d{4} CF|(NATIONAL )?CF OF [0-9.]+)", "decimal", scale=2, txt=(40, 43), txt_implied_decimals=2,
               header_value=r"CF OF ([0-9.]+)"),
    ))


def test_lost_zeros_fill_down_footnote_markers_blank_rows_and_header_value(tmp_path):
    lines = ["Contractor,Locality,State ,Name,National CF of 20.3178", "", "2102 ,1 ,ALASKA ,ALASKA* ,27.86 ",
             ",,,,", "1182,18,CALIFORNIA,LA**,21.69", "1112,5,,SF,22.10", "", "* a footnote,,,,"]
    parsed = parse_file(write(tmp_path, lines, "demo.csv"), GRID, 2025)
    f = parsed.frame
    assert f.select("mac", "locality", "state", "name").rows() == [
        ("02102", "01", "ALASKA", "ALASKA"), ("01182", "18", "CALIFORNIA", "LA"), ("01112", "05", "CALIFORNIA", "SF")]
    assert f["cf"].to_list() == [Decimal("27.86"), Decimal("21.69"), Decimal("22.10")]
    assert parsed.values["cf_header_value"] == "20.3178"


def test_fixed_width_with_implied_decimals_and_year_bounds(tmp_path):
    line = "02102 01 ALASKA    ALASKA*             2786"
    path = write(tmp_path, ["HDR copyright", line, "\x1a"], "demo.txt")
    f = parse_file(path, GRID, 2025).frame
    assert f.select("mac", "locality", "name", "cf").rows() == [("02102", "01", "ALASKA", Decimal("27.86"))]
    with pytest.raises(ParseError, match="no fixed-width layout for DEMO 2031"):
        parse_file(path, GRID, 2031)


def test_a_number_too_large_for_its_column_is_refused_not_published_as_null(tmp_path):
    from tests.builders import write_csv
    from tests.helpers import parse_addendum_b

    header = ["HCPCS Code", "Short Descriptor", "SI", "APC", "Relative Weight", "Payment Rate",
              "National Unadjusted Copayment", "Minimum Unadjusted Copayment"]
    path = write_csv(tmp_path / "b.csv", [["Addendum B"], header,
                                          ["99285", "Ed visit", "J2", "5025", "7.7651", "$1,310.66", ".", "$262.14"],
                                          ["99999", "Huge", "S", "5025", "1", "99999999999999999", ".", "1"]])
    with pytest.raises(ParseError, match=r"b.csv row 4, column payment_rate: '99999999999999999' does not fit"):
        parse_addendum_b(path, 2025)


@pytest.mark.parametrize("data, message", [
    ("HCPCS,DESC\r\n37252,Intravascular ultrasound\r\n".encode("cp1252") + "37253,Café\r\n".encode("utf-8") +
     "37254,®\r\n".encode("cp1252"), r"x.csv line 3: mixes UTF-8 text \(bytes C3 A9 at offset \d+\) with bytes that "
                                    r"are not UTF-8 \(0xAE"),
    (b"HCPCS,DESC\r\n37252,Intravascular\x00 ultrasound\r\n", r"x.csv line 2: a NUL byte"),
])
def test_mixed_encodings_and_nul_bytes_are_refused(tmp_path, data, message):
    from transform.grids import decode_text

    with pytest.raises(ParseError, match=message):
        decode_text(tmp_path / "x.csv", data)


def test_cp1252_and_utf8_files_still_read():
    from transform.grids import decode_text

    assert decode_text(Path("a.csv"), "Medicare ® codes".encode("cp1252")) == "Medicare ® codes"
    assert decode_text(Path("b.csv"), "\ufeffMedicare ® codes".encode("utf-8")) == "Medicare ® codes"


def test_a_workbook_formula_without_a_stored_value_is_refused(tmp_path):
    import zipfile

    from tests.builders import OPPS_HEADER, OPPS_ROWS, OPPS_TITLE, write_xlsx
    from tests.helpers import parse_addendum_b

    path = write_xlsx(tmp_path / "b.xlsx", {"Addendum B": OPPS_TITLE + [OPPS_HEADER] + [list(r[1]) for r in OPPS_ROWS]})
    assert parse_addendum_b(path, 2025).height == len(OPPS_ROWS)
    bad = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":  # the 33274 payment rate becomes an uncalculated formula
                data = data.replace(b"<v>14331.98</v>", b"<f>E6*90</f>", 1)
                assert b"<f>E6*90</f>" in data
            zout.writestr(item, data)
    with pytest.raises(ParseError, match=r"bad.xlsx cell F6 \(sheet1.xml\): a formula without a stored value"):
        parse_addendum_b(bad, 2025)
