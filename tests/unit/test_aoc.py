"""Add-on code edits on a file generated in code, laid out like CMS's real AOC_V2026Q2-MCR.xlsx (a copyright row,
then AOC_Edit_Type, Add-On_Code, AOC_DelDT, Primary_Code, Primary_Code_DelDT, AOC_Edit_EffDT, AOC_Edit_DelDT,
Special_Instruction_Notes; Julian dates), built through the real pipeline into a warehouse."""

import duckdb
import pytest

from cmsref import pipeline

from core import settings
from core.errors import ParseError, ValidationError
from tests.builders import AOC_HEADER, AOC_ROWS
from tests.helpers import addon_statuses, snapshot
from transform.aoc import read_date

HEADER, ROWS = AOC_HEADER, AOC_ROWS  # tests/builders.py: laid out like AOC_V2026Q2-MCR.xlsx


def write_mirror(tmp_path, rows, period="2026Q2"):
    folder = tmp_path / "mirror" / "aoc" / period
    folder.mkdir(parents=True)
    lines = ['"Current Procedural Terminology (CPT) codes ... copyright 2025 American Medical Association.",,,,,,,',
             HEADER, *rows]
    (folder / f"AOC_V{period}-MCR.csv").write_text("\r\n".join(lines) + "\r\n", encoding="cp1252")
    return tmp_path / "mirror"


def test_dates_in_every_form_cms_used():
    assert read_date("2018001").isoformat() == "2018-01-01"
    assert read_date("20260630").isoformat() == "2026-06-30"
    assert read_date("06/30/2026").isoformat() == "2026-06-30"
    assert read_date("2025365").isoformat() == "2025-12-31" and read_date("2024366").isoformat() == "2024-12-31"
    assert read_date("*") is None and read_date("") is None
    with pytest.raises(ValueError):
        read_date("2018366")  # 2018 has 365 days: never read as 2019-01-01
    with pytest.raises(ValueError):
        read_date("2026-13-45")


@pytest.fixture
def db(home, tmp_path):
    assert pipeline.build(["aoc"], mirror=write_mirror(tmp_path, ROWS)).data_version == "2026.2"
    return settings.db_path()


def test_table_values(db):
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT addon_code, primary_code, edit_type, edit_effective_date::VARCHAR, "
                       "edit_deletion_date::VARCHAR, primary_deletion_date::VARCHAR, special_instruction_notes "
                       "FROM addon_code_edit ORDER BY ALL").fetchall()
    con.close()
    assert ("37252", "37224", 1, "2018-01-01", "2025-12-31", "2025-12-31", None) in rows
    assert ("37252", "37246", 1, "2018-01-01", "2026-06-29", None, None) in rows
    assert ("99417", "CCCCC", 2, "2021-01-01", None, None, "Contractor Defined Primary Codes") in rows


def test_addon_check(db):
    assert addon_statuses(db, [("37252", "2026-05-01"), ("37220", "2026-05-01")]) == ["allowed primary on claim",
                                                                           "not an add-on code"]
    assert addon_statuses(db, [("37252", "2026-05-01"), ("99213", "2026-05-01")])[0] == "no allowed primary on claim"
    assert addon_statuses(db, [("99417", "2026-05-01")]) == ["type 2: the contractor defines the primary codes"]
    assert addon_statuses(db, [("G0500", "2026-05-01")])[0].startswith("type 3")
    assert addon_statuses(db, [("37252", "2026-08-01"), ("37220", "2026-08-01")])[0].startswith("no data")  # Q3 not loaded
    # a deletion date is the last day the edit applies: 37246 counts on 2026-06-29, not on 2026-06-30
    assert addon_statuses(db, [("37252", "2026-06-29"), ("37246", "2026-06-29")])[0] == "allowed primary on claim"
    assert addon_statuses(db, [("37252", "2026-06-30"), ("37246", "2026-06-30")])[0] == "no allowed primary on claim"
    # a date before the first loaded release is judged by that release's history (the file is cumulative)
    assert addon_statuses(db, [("37252", "2025-06-01"), ("37224", "2025-06-01")])[0] == "allowed primary on claim"
    assert addon_statuses(db, [("37252", "2026-05-01"), ("37224", "2026-05-01")])[0] == "no allowed primary on claim"
    assert addon_statuses(db, [("99417", "2020-06-01")]) == ["not an add-on code"]  # its edit starts in 2021


@pytest.mark.parametrize("rows, error, text", [
    (ROWS + ["1,37253,,37253,,2018001,,"], ValidationError, "primary_is_addon"),
    (ROWS + ["4,37299,,37220,,2018001,,"], ParseError, "edit type '4'"),
    (ROWS + ["1,37299,,37220,,2018366,,"], ParseError, r"row 9, column edit_effective: '2018366' is not a date"),
    (ROWS + ["1,37299,,37220,,2019001,2018365,"], ValidationError, "ends_before_start"),
    (ROWS + [ROWS[0]], ValidationError, "expect_compound_columns_to_be_unique"),
])
def test_bad_files_fail_and_change_nothing(db, tmp_path, rows, error, text):
    before = snapshot(db)
    with pytest.raises(error, match=text):
        pipeline.build(["aoc"], mirror=write_mirror(tmp_path / "bad", rows, "2026Q3"))
    assert snapshot(db) == before


def test_addon_edits_on_honours_every_date_and_judges_early_dates_by_the_first_release(db, tmp_path):
    """The one rule the API, the code page and addon_check share: the edits that apply on a date of service. An
    add-on code deleted (AOC_DelDT) or a primary deleted (Primary_Code_DelDT) stops the edit even while the edit's
    own deletion date is open."""
    rows = ROWS + ["1,37299,2026222,37220,,2018001,,",   # the add-on code itself ends 2026-08-10
                   "1,37299,,37228,2026212,2018001,,"]   # its primary 37228 ends 2026-07-31
    pipeline.build(["aoc"], mirror=write_mirror(tmp_path / "dated", rows, "2026Q3"))
    con = duckdb.connect(str(db), read_only=True)

    def primaries(code, day):
        return [r[0] for r in con.execute("SELECT primary_code FROM addon_edits_on(CAST(? AS DATE)) "
                                          "WHERE addon_code = ? ORDER BY 1", [day, code]).fetchall()]
    try:
        assert primaries("37299", "2026-07-31") == ["37220", "37228"]
        assert primaries("37299", "2026-08-01") == ["37220"]  # the primary's last day was 2026-07-31
        assert primaries("37299", "2026-08-10") == ["37220"] and primaries("37299", "2026-08-11") == []
        assert primaries("37299", "2026-05-01") == []  # judged by 2026Q2, which has no 37299
        assert primaries("37252", "2025-06-01") == ["37220", "37224", "37246"]  # before 2026Q2: its history
        assert primaries("37252", "2026-07-01") == ["37220"]
        assert con.execute("SELECT count(*) FROM addon_release_on(DATE '2030-01-01')").fetchone() == (0,)
    finally:
        con.close()
    assert addon_statuses(db, [("37299", "2026-08-11"), ("37220", "2026-08-11")]) == ["not an add-on code",
                                                                                     "not an add-on code"]
    assert addon_statuses(db, [("37299", "2026-08-10"), ("37220", "2026-08-10")])[0] == "allowed primary on claim"
    assert addon_statuses(db, [("37299", "2026-08-01"), ("37228", "2026-08-01")])[0] == "no allowed primary on claim"


def test_a_primary_counts_on_the_same_date_and_the_same_claim_only(db):
    # CMS's add-on edits are date-of-service edits: the primary must be billed the same day
    assert addon_statuses(db, [("37252", "2026-05-01"), ("37220", "2026-05-20")])[0] == "no allowed primary on claim"
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("CREATE TEMP TABLE claims AS SELECT * FROM (VALUES ('a', '37252', DATE '2026-05-01'), "
                    "('b', '37220', DATE '2026-05-01'), ('b', '37252', DATE '2026-05-01')) "
                    "t(claim_id, hcpcs, date_of_service)")
        assert [r[-1] for r in con.execute("SELECT * FROM addon_check('claims') ORDER BY line_no").fetchall()] == [
            "no allowed primary on claim", "not an add-on code", "allowed primary on claim"]
    finally:
        con.close()
