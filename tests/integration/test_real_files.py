"""Every dataset from the real CMS files in ../shared/cms-mirror: OPPS Addendum B 2020-2022 with CMS's two
corrections, the ASC addenda 2020-2026 (workbooks and per-addendum csv/txt files), and the real add-on code edit
file. Values asserted here were read from the files themselves (cell by cell), not from cmsref."""

from __future__ import annotations

import csv
import os
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from cmsref import pipeline

from core import settings
from core.errors import ParseError
from tests.builders import add_header_cell, rename_header, shift_row_right, write_csv
from tests.helpers import MIRROR, addon_statuses, query as q, snapshot, parse_addendum_b
from transform.asc import parse_addendum_file, parse_workbook
from transform.aoc import transform_release as aoc_transform
from transform.grids import read_grid
from warehouse.diff import diff

pytestmark = pytest.mark.integration
OPPS = MIRROR / "opps_addendum_b"
ASC = MIRROR / "asc_addenda"
AOC = MIRROR / "aoc" / "2026Q2" / "AOC_V2026Q2-MCR.xlsx"
JAN_2020 = "2020_january_web_addendum_b.12312019.xlsx"
JAN_2020_CORRECTION = "January 2020 Addendum B CORRECTION.02042020.xlsx"
OCT_2022 = "October_2022_Web_Addendum_B.09.26.22.xlsx"
OCT_2022_REPOST = "October_2022_Web_Addendum_B.11142022.xlsx"
D = Decimal


# ------------------------------------------------------------------------------------------- the whole mirror
def test_the_whole_mirror_is_one_data_version_of_every_dataset(mirror_db):
    assert q(mirror_db, "SELECT data_version FROM data_versions") == [("2026.2",)]
    assert dict(q(mirror_db, "SELECT dataset, count(*) FROM releases WHERE in_latest GROUP BY dataset")) == {
        "pfs": 5, "mue": 1, "aoc": 1, "opps": 7, "asc": 13, "zip": 1}
    assert q(mirror_db, "SELECT period FROM releases WHERE dataset = 'opps' ORDER BY period") == [
        (p,) for p in ("2020-01", "2020-04", "2021-01", "2022-01", "2022-04", "2022-07", "2022-10")]


# ------------------------------------------------------------------------------------------- OPPS Addendum B
# (period, rows, a T code with APC and copayments, the hepatitis B immune globulin drug 90371 with its 3-decimal rate)
OPPS_QUARTERS = [
    ("2020-01", 16_628, ("65855", "T", "5481", D("6.2744"), D("506.93"), D("101.51"), D("101.39")),
     (D("115.936"), D("23.1872"))),
    ("2020-04", 16_661, ("65855", "T", "5481", D("6.2744"), D("506.93"), D("101.51"), D("101.39")),
     (D("117.829"), D("23.5658"))),
    ("2021-01", 16_873, ("65855", "T", "5481", D("6.0855"), D("503.86"), D("100.90"), D("100.78")),
     (D("126.858"), D("25.38"))),
    ("2022-01", 17_192, ("G0104", "T", "5311", D("9.6283"), D("810.48"), D("0"), D("0")), (D("135.593"), D("27.12"))),
    ("2022-04", 17_241, ("G0104", "T", "5311", D("9.6283"), D("810.48"), D("0"), D("0")), (D("138.917"), D("27.79"))),
    ("2022-07", 17_300, ("G0104", "T", "5311", D("9.6283"), D("810.48"), D("0"), D("0")), (D("138.873"), D("27.78"))),
    ("2022-10", 17_347, ("G0104", "T", "5311", D("9.6283"), D("810.48"), D("0"), D("0")), (D("135.879"), D("27.18"))),
]


@pytest.mark.parametrize("period, rows, with_apc, drug", OPPS_QUARTERS)
def test_opps_quarter_values(mirror_db, period, rows, with_apc, drug):
    where = f"FROM opps_addendum_b WHERE period = '{period}'"
    assert q(mirror_db, f"SELECT count(*) {where}") == [(rows,)]
    assert q(mirror_db, f"SELECT hcpcs, status_indicator, apc, relative_weight, payment_rate, "
                        f"national_unadjusted_copayment, minimum_unadjusted_copayment {where} "
                        f"AND hcpcs = '{with_apc[0]}'") == [with_apc]
    # packaged: SI N, no APC, no rate
    assert q(mirror_db, f"SELECT status_indicator, apc, payment_rate {where} AND hcpcs = '37252'") == [
        ("N", None, None)]
    # a drug rate keeps CMS's third decimal; its minimum copayment (20 %) keeps the 4th where the workbook has it
    assert q(mirror_db, f"SELECT status_indicator, apc, payment_rate, minimum_unadjusted_copayment, "
                        f"national_unadjusted_copayment {where} AND hcpcs = '90371'") == [
        ("K", "1630", *drug, None)]


def test_opps_2020_computed_rates_keep_their_decimals(mirror_db):
    # stored as 317.58333333333331 / 63.516666666666666 (rate / 12 and 20 % of it), shown $317.583 / $63.52
    assert q(mirror_db, "SELECT payment_rate, minimum_unadjusted_copayment FROM opps_addendum_b "
                        "WHERE period = '2020-01' AND hcpcs = 'J0179'") == [(D("317.583333333"), D("63.516666667"))]


def test_opps_corrections_answer_for_their_quarter(mirror_db):
    assert q(mirror_db, "SELECT status_indicator, apc, payment_rate FROM opps_addendum_b_on('2020-02-15') "
                        "WHERE hcpcs = '78429'") == [("S", "5594", D("1443.09"))]  # the original said 1443.16
    assert q(mirror_db, "SELECT status_indicator, apc, payment_rate FROM opps_addendum_b_on('2022-11-15') "
                        "WHERE hcpcs = 'Q5124'") == [("K", "9017", D("232.78"))]  # the original said E2, no APC
    assert q(mirror_db, "SELECT s.member_name FROM opps_addendum_b_on('2020-02-15') b JOIN source_files s "
                        "ON s.sha256 = b.source_sha256 AND s.release_id = b.release_id WHERE b.hcpcs = '78429'") == [
        (JAN_2020_CORRECTION,)]


def _opps_mirror(root: Path, period: str, names: list[str]) -> Path:
    folder = root / "opps_addendum_b" / period
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(OPPS / period / name, folder / name)  # a copy: links out of a mirror are refused
    return root


@pytest.mark.parametrize("period, original, correction, changed, date, code, before, after", [
    # 24 codes differ in January 2020: 23 in SI / APC / weight / rate, and G0404 in its copayments only
    # (national 0 -> '.', minimum 0 -> 4.60)
    ("2020-01", JAN_2020, JAN_2020_CORRECTION, 24, "2020-02-15", "78429", D("1443.16"), D("1443.09")),
    ("2022-10", OCT_2022, OCT_2022_REPOST, 3, "2022-11-15", "Q5124", None, D("232.78")),
])
def test_a_correction_is_a_new_revision_and_the_old_version_keeps_answering(
        home, tmp_path, period, original, correction, changed, date, code, before, after):
    first = pipeline.build(["opps"], mirror=_opps_mirror(tmp_path / "m1", period, [original]))
    second = pipeline.build(["opps"], mirror=_opps_mirror(tmp_path / "m2", period, [original, correction]))
    assert second.new_releases == [f"opps/{period}/r2"]
    db = settings.db_path()
    sql = f"SELECT payment_rate FROM opps_addendum_b_at(?, '{date}') WHERE hcpcs = '{code}'"
    assert q(db, sql, [first.data_version]) == [(before,)]
    assert q(db, sql, [second.data_version]) == [(after,)]
    con = duckdb.connect(str(db), read_only=True)
    try:
        (table,) = [t for t in diff(con, first.data_version, second.data_version, details=True)
                    if t.table == "opps_addendum_b"]
    finally:
        con.close()
    assert (table.added, table.removed) == (0, 0)
    assert {change[0] for change in table.changes} == {period}  # version diff: rows matched by period and key
    assert len({change[1] for change in table.changes}) == changed  # the codes CMS changed, each listed
    assert code in {change[1] for change in table.changes}


def _money(text: str | None) -> str | None:
    """A number as the Section 508 csv prints money: `$1,234.567` (every decimal kept)."""
    if text is None or not text[:1].isdigit():
        return text
    whole, _, frac = text.partition(".")
    return f"${int(whole):,}" + (f".{frac}" if frac else "")


@pytest.mark.parametrize("period, name", [("2020-01", JAN_2020_CORRECTION), ("2022-10", OCT_2022_REPOST)])
def test_opps_section_508_csv_of_a_real_workbook_parses_to_the_same_table(tmp_path, period, name):
    grid = read_grid(OPPS / period / name)
    header = next(i for i, v in enumerate(grid["c0"].to_list()) if v == "HCPCS Code")
    rows = []
    for i, row in enumerate(grid.drop("source_row").iter_rows()):
        row = list(row)
        if i > header:
            row[5:8] = [_money(v) for v in row[5:8]]  # payment rate and copayments, as the csv writes them
        rows.append(row)
    path = write_csv(tmp_path / f"Section 508 version of {Path(name).stem}.csv", rows, encoding="utf-8")
    from_xlsx, from_csv = parse_addendum_b(OPPS / period / name, 2020), parse_addendum_b(path, 2020)
    assert from_csv.height > 16_000
    assert from_csv.equals(from_xlsx)


@pytest.mark.parametrize("change, message", [
    (lambda src, dst: rename_header(src, dst, "Payment Rate ", "Payment Amount"),
     r"missing column 'payment_rate' \(header matching 'PAYMENT RATE'\).*found headers: .*'PAYMENT AMOUNT'"),
    (lambda src, dst: add_header_cell(src, dst, 3, "K", "Site-Neutral Rate"),
     r"unknown column 'SITE-NEUTRAL RATE' in the header at row 3; add it to \[addendum_b\] in "
     r"transform/layouts/opps.toml"),
    (lambda src, dst: shift_row_right(src, dst, 3),
     r"header row not found: no row has 'HCPCS\( CODE\)\?' in column 1"),
])
def test_a_real_workbook_with_a_changed_header_is_refused_and_the_warehouse_is_unchanged(
        home, tmp_path, change, message):
    pipeline.build(["opps"], mirror=_opps_mirror(tmp_path / "m1", "2020-04", ["2020_april_web_addendum_b.05042020.xlsx"]))
    db = settings.db_path()
    before = snapshot(db)
    folder = tmp_path / "m2" / "opps_addendum_b" / "2021-01"
    folder.mkdir(parents=True)
    name = "2021_January_Web_Addendum_B.12.29.20.xlsx"
    change(OPPS / "2021-01" / name, folder / name)
    with pytest.raises(ParseError, match=rf"^{name}: .*{message}"):
        pipeline.build(["opps"], mirror=tmp_path / "m2")
    assert snapshot(db) == before


# ------------------------------------------------------------------------------------------- ASC addenda
# (period, J8 device-intensive procedure 64555, P3 office-based 11102, K2 drug 90371 in BB)
ASC_QUARTERS = [
    ("2020-01", 3_965, (D("98.1454"), D("4686.15")), D("75.79"), D("115.94")),
    ("2020-04", 3_965, (D("98.1454"), D("4686.15")), D("75.79"), D("117.83")),
    ("2020-07", 3_977, (D("98.1454"), D("4686.15")), D("75.79"), D("115.89")),
    ("2021-01", 4_266, (D("97.7080"), D("4783.00")), D("81.65"), D("126.86")),
    ("2021-04", 4_253, (D("97.7080"), D("4783.00")), D("81.65"), D("126.28")),
    ("2022-01", 4_010, (D("97.8738"), D("4885.47")), D("80.29"), D("135.59")),
    ("2022-04", 4_011, (D("97.8738"), D("4885.47")), D("80.29"), D("138.92")),
    ("2023-01", 4_067, (D("107.9082"), D("5595.47")), D("78.62"), D("128.05")),
    ("2023-10", 4_073, (D("107.9082"), D("5595.47")), D("78.62"), D("137.58")),
    ("2024-01", 4_110, (D("104.9286"), D("5615.15")), D("74.98"), D("137.89")),
    ("2024-04", 4_114, (D("104.9266"), D("5615.04")), D("76.22"), D("141.12")),
    ("2025-01", 4_183, (D("106.6257"), D("5853.22")), D("72.46"), D("146.31")),
    ("2026-01", 4_821, (D("102.5338"), D("5774.91")), D("72.51"), D("137.83")),
]


@pytest.mark.parametrize("period, rows, j8, p3_rate, k2_rate", ASC_QUARTERS)
def test_asc_quarter_values(mirror_db, period, rows, j8, p3_rate, k2_rate):
    aa = f"FROM asc_addendum_aa WHERE period = '{period}'"
    assert q(mirror_db, f"SELECT count(*) {aa}") == [(rows,)]
    assert q(mirror_db, f"SELECT payment_indicator, payment_weight, payment_rate {aa} AND hcpcs = '64555'") == [
        ("J8", *j8)]
    assert q(mirror_db, f"SELECT payment_indicator, payment_weight, payment_rate {aa} AND hcpcs = '11102'") == [
        ("P3", None, p3_rate)]  # priced from PFS non-facility PE RVUs: no weight
    assert q(mirror_db, f"SELECT payment_indicator, payment_weight, payment_rate {aa} AND hcpcs = '37252'") == [
        ("N1", None, None)]
    assert q(mirror_db, f"SELECT payment_indicator, payment_rate FROM asc_addendum_bb WHERE period = '{period}' "
                        f"AND hcpcs = '90371'") == [("K2", k2_rate)]
    # every release defines the payment indicators it uses (DD1 in the workbooks, curated for the others)
    assert q(mirror_db, f"SELECT count(*) FROM status_indicator WHERE setting = 'asc_pi' AND period = '{period}' "
                        f"AND code IN ('J8', 'P3', 'N1', 'K2')") == [(4,)]


def test_asc_device_offsets_and_a_file_whose_title_names_another_addendum(mirror_db):
    assert q(mirror_db, "SELECT marker, payment_indicator, apc, opps_payment_rate, device_offset_percent, "
                        "device_offset_amount FROM asc_device_offset WHERE period = '2022-01' AND hcpcs = '0100T'") == [
        (None, "J8", "1908", D("152500.50"), D("95.49"), D("145622.73"))]
    assert q(mirror_db, "SELECT period, count(*) FROM asc_device_offset GROUP BY period ORDER BY period") == [
        # 2023-01 repeats 2 rows exactly (kept once)
        ("2022-01", 4_010), ("2022-04", 4_011), ("2023-01", 4_062), ("2024-01", 4_110), ("2024-04", 4_114),
        ("2025-01", 4_183), ("2026-01", 4_821)]
    # 2023-10's FF.csv holds Addendum DD2 (its title says so): read as comment indicators, never as FF
    assert q(mirror_db, "SELECT code FROM status_indicator WHERE setting = 'asc_ci' AND period = '2023-10' "
                        "ORDER BY code") == [("CH",), ("NC",), ("NI",), ("NP",)]
    notes = q(mirror_db, "SELECT notes FROM meta.releases WHERE release_id = 'asc/2023-10/r1'")[0][0]
    assert "FF.csv: its name says Addendum FF but its title says Addendum DD2; read as DD2" in notes


def test_asc_quirks_of_the_per_addendum_files(mirror_db):
    # 2026 BB: a lower-case 'k5' indicator (upper-cased, noted); IRA-adjusted copayments; pass-through expiration
    assert q(mirror_db, "SELECT payment_indicator FROM asc_addendum_bb WHERE period = '2026-01' AND hcpcs = 'J0892'") \
        == [("K5",)]
    assert q(mirror_db, "SELECT count(*) FROM asc_addendum_bb WHERE period = '2026-01' "
                        "AND ira_adjusted_copayment IS NOT NULL") == [(76,)]
    # 2022-01 BB repeats 10 rows exactly: kept once each
    assert q(mirror_db, "SELECT count(*) FROM asc_addendum_bb WHERE period = '2022-01' AND hcpcs = 'J0223'") == [(1,)]
    # 2021-01 AA (tab-separated, cp1252) has the comment indicator column; its stray '#REF!' cells are not read
    assert q(mirror_db, "SELECT comment_indicator FROM asc_addendum_aa WHERE period = '2021-01' AND hcpcs = '0184T'") \
        == [("CH",)]
    notes = q(mirror_db, "SELECT notes FROM meta.releases WHERE release_id = 'asc/2021-01/r1'")[0][0]
    assert "AA.txt: column 9 has no header; its 30 filled cell(s) (first: row 4241, '#REF!') were not read" in notes


def test_asc_csv_txt_and_xlsx_forms_parse_to_identical_tables(tmp_path):
    # a per-addendum csv written again as CMS's tab-separated cp1252 .txt
    with open(ASC / "2024-04" / "AA.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    txt = tmp_path / "AA.txt"
    with open(txt, "w", encoding="cp1252", newline="") as f:
        csv.writer(f, delimiter="\t", lineterminator="\r\n").writerows(rows)
    _, from_csv, _ = parse_addendum_file(ASC / "2024-04" / "AA.csv", 2024)
    _, from_txt, _ = parse_addendum_file(txt, 2024)
    assert from_csv.frame.height == 4_114 and from_csv.frame.equals(from_txt.frame)
    # a workbook sheet exported as a per-addendum csv
    sheet = read_grid(ASC / "2020-01" / "asc_addenda.xlsx", r"(?i)\bBB$")
    path = write_csv(tmp_path / "BB.csv", [list(r) for r in sheet.drop("source_row").iter_rows()])
    from_xlsx = parse_workbook(ASC / "2020-01" / "asc_addenda.xlsx", 2020)["bb"].frame
    kind, from_sheet_csv, _ = parse_addendum_file(path, 2020)
    assert kind == "bb" and from_sheet_csv.frame.equals(from_xlsx)


def test_an_asc_file_with_an_unknown_column_is_refused(tmp_path):
    text = (ASC / "2025-01" / "EE.csv").read_text(encoding="cp1252")
    bad = tmp_path / "EE.csv"
    bad.write_text(text.replace("HCPCS Code,Short Descriptor", "HCPCS Code,Short Descriptor,Site of Service"),
                   encoding="cp1252")
    with pytest.raises(ParseError, match=r"EE.csv: unknown column 'SITE OF SERVICE' in the header at row 4; add it "
                                         r"to \[ee\] in transform/layouts/asc.toml"):
        parse_addendum_file(bad, 2025)


# ------------------------------------------------------------------------------------------- add-on code edits
def test_aoc_dates_of_the_real_file(mirror_db):
    assert q(mirror_db, "SELECT count(*) FROM addon_code_edit") == [(9_000,)]
    assert q(mirror_db, "SELECT edit_type, edit_effective_date::VARCHAR, edit_deletion_date::VARCHAR, "
                        "primary_deletion_date::VARCHAR FROM addon_code_edit WHERE addon_code = '37252' "
                        "AND primary_code = '37224'") == [(1, "2018-01-01", "2025-12-31", "2025-12-31")]
    assert q(mirror_db, "SELECT edit_type, special_instruction_notes FROM addon_code_edit WHERE addon_code = '0054T' "
                        "AND primary_code = 'CCCCC'") == [(2, "Contractor Defined Primary Codes")]
    # 37224 is a valid primary of 37252 until its edit ends on 2025-12-31
    assert addon_statuses(mirror_db, [("37252", "2025-06-01"), ("37224", "2025-06-01")])[0] == "allowed primary on claim"
    assert addon_statuses(mirror_db, [("37252", "2026-05-01"), ("37224", "2026-05-01")])[0] == "no allowed primary on claim"
    assert addon_statuses(mirror_db, [("37252", "2026-05-01"), ("37236", "2026-05-01")])[0] == "allowed primary on claim"


def test_aoc_csv_export_of_the_real_workbook_parses_to_the_same_table(tmp_path):
    from extract.catalog import load_dataset
    from extract.fetch import local_source

    grid = read_grid(AOC)
    path = write_csv(tmp_path / "AOC_V2026Q2-MCR.csv", [list(r) for r in grid.drop("source_row").iter_rows()])
    spec = load_dataset("aoc")
    release = spec.release("2026Q2")
    tables = [aoc_transform(spec, release, [local_source("aoc", "all", p)]).tables["addon_code_edit"]
              for p in (AOC, path)]
    assert tables[0].height == 9_000
    assert tables[0].drop("source_sha256").equals(tables[1].drop("source_sha256"))
