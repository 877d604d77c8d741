"""Add-on code edits on a file generated in code (no real AOC file can be reached offline; the fixture
follows CMS's published description), built through the real pipeline into a warehouse."""

import duckdb
import pytest

from cmsref import config, pipeline
from cmsref.errors import ParseError, ValidationError
from tests.conftest import snapshot
from transform.aoc import read_date

HEADER = ("Add-On Code,Add-On Code Effective Date,Add-On Code Deletion Date,Primary Code,"
          "Primary Code Effective Date,Primary Code Deletion Date,AOC Edit Type")
ROWS = [
    "37252,2018001,*,37220,2018001,*,1",       # Julian dates (YYYYDDD), '*' = not deleted
    "37252,2018001,*,37224,20180101,,1",       # YYYYMMDD and a blank
    "37252,2018001,*,37246,01/01/2018,06/30/2026,1",
    "37253,20180101,,37252,20180101,,1",
    "99417,20210101,,,,,II",                   # type 2 lists no primary code
    "G0500,2018001,*,99152,2018001,*,III",
]


def write_mirror(tmp_path, rows, period="2026Q2"):
    folder = tmp_path / "mirror" / "aoc" / period
    folder.mkdir(parents=True)
    lines = ["Medicare NCCI Add-on Code Edits,,,,,,", "CPT codes copyright American Medical Association,,,,,,",
             HEADER, *rows]
    (folder / f"AOC_V{period}.csv").write_text("\r\n".join(lines) + "\r\n", encoding="cp1252")
    return tmp_path / "mirror"


def test_dates_in_every_form_cms_used():
    assert read_date("2018001").isoformat() == "2018-01-01"
    assert read_date("20260630").isoformat() == "2026-06-30"
    assert read_date("06/30/2026").isoformat() == "2026-06-30"
    assert read_date("*") is None and read_date("") is None
    with pytest.raises(ValueError):
        read_date("2026-13-45")


@pytest.fixture
def db(home, tmp_path):
    assert pipeline.build(["aoc"], mirror=write_mirror(tmp_path, ROWS)).data_version == "2026.2"
    return config.db_path()


def check(db, lines):
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("CREATE TEMP TABLE claim AS SELECT * FROM (VALUES " +
                    ", ".join(f"('{c}', DATE '{d}')" for c, d in lines) + ") t(hcpcs, date_of_service)")
        return [r[-1] for r in con.execute("SELECT * FROM addon_check('claim')").fetchall()]
    finally:
        con.close()


def test_table_values(db):
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT addon_code, primary_code, edit_type, primary_deletion_date::VARCHAR "
                       "FROM addon_code_edit ORDER BY ALL").fetchall()
    con.close()
    assert ("37252", "37246", 1, "2026-06-30") in rows
    assert ("99417", "", 2, None) in rows and ("G0500", "99152", 3, None) in rows


def test_addon_check(db):
    assert check(db, [("37252", "2026-05-01"), ("37224", "2026-05-01")]) == ["allowed primary on claim",
                                                                           "not an add-on code"]
    assert check(db, [("37252", "2026-05-01"), ("99213", "2026-05-01")])[0] == "no allowed primary on claim"
    assert check(db, [("99417", "2026-05-01")]) == ["type 2: the contractor defines the primary codes"]
    assert check(db, [("G0500", "2026-05-01")])[0].startswith("type 3")
    assert check(db, [("37252", "2026-08-01"), ("37224", "2026-08-01")])[0].startswith("no data")  # Q3 not loaded
    # 37246's edit was deleted on 2026-06-30: on that day it no longer counts as a primary
    assert check(db, [("37252", "2026-06-30"), ("37246", "2026-06-30")])[0] == "no allowed primary on claim"


@pytest.mark.parametrize("rows, error, text", [
    (ROWS + ["37253,20180101,,37253,20180101,,1"], ValidationError, "primary_is_addon"),
    (ROWS + ["37299,20180101,,37220,20180101,,4"], ParseError, "edit type '4'"),
    (ROWS + ["37299,2018-02-30,,37220,20180101,,1"], ParseError, "column addon_effective: '2018-02-30' is not a date"),
    (ROWS + [ROWS[0]], ValidationError, "expect_compound_columns_to_be_unique"),
])
def test_bad_files_fail_and_change_nothing(db, tmp_path, rows, error, text):
    before = snapshot(db)
    with pytest.raises(error, match=text):
        pipeline.build(["aoc"], mirror=write_mirror(tmp_path / "bad", rows, "2026Q3"))
    assert snapshot(db) == before
