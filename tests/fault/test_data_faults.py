"""Parse- and validation-level faults for every dataset, served by the cms.gov stand-in.

For each dataset one good release (tests/fault/sources.py) is served as a zip linked from its landing page, with
one defect made in code. Each case asserts the exit status and the message, that the landing page and the zip
were each requested once (a bad file is not a transient fault: nothing is retried), and that the warehouse is
exactly as before -- or, for the two defects that must not fail (an extra unknown column, a header one row
lower), that the release is published with the extra column ignored / every row read.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from extract.catalog import load_dataset
from tests.helpers import query
from tests.fault import sources as S
from tests.fault.helpers import assert_one_new_version, assert_unchanged

pytestmark = pytest.mark.integration

DATASETS = ["pfs", "mue", "aoc", "asc", "opps"]
TABLE = {"pfs": "pfs_rvu", "mue": "mue", "aoc": "addon_code_edit", "asc": "asc_addendum_aa", "opps": "opps_addendum_b"}
SHEET = {"asc": " (sheet 'CY 2020 Apr ASC AA')"}


def serve(world, src: S.Source, member_bytes: bytes | None = None, members: dict | None = None) -> tuple[str, str]:
    """Serve the release's zip; return (landing page URL, zip URL)."""
    members = members if members is not None else {**S.companions(src.dataset), src.member: member_bytes}
    url = world.cms.add_release_zip(world.mirror, src.dataset, src.period, src.zip_name, members)
    return load_dataset(src.dataset).release(src.period).landing_page, url


def run(world, cli, src: S.Source, member_bytes=None, members=None):
    landing, url = serve(world, src, member_bytes, members)
    r = cli("--dataset", src.dataset, "--period", src.period)
    assert world.cms.hits(landing) == 1 and world.cms.hits(url) == 1, world.cms.all_hits()  # nothing retried
    return r


def refused(world, r, *expect: str) -> None:
    assert r.code == 1, r.text
    assert r.err.startswith("cmsref: error: "), r.err
    for text in expect:
        assert text in r.err, r.err
    assert_unchanged(world)


def new_rows(db, table: str, release_id: str) -> tuple[int, int]:
    """(rows of the release in the table, rows holding the extra column's value anywhere)."""
    return query(db, f"SELECT count(*), count(*) FILTER (WHERE CAST(t AS VARCHAR) LIKE '%unknown-extra%') "
                     f"FROM store.{table} t WHERE release_id = ?", [release_id])[0]


def source_row(db, table: str, release_id: str, key_col: str, code: str) -> int:
    return query(db, f"SELECT min(source_row) FROM store.{table} WHERE release_id = ? AND {key_col} = ?",
                 [release_id, code])[0][0]


def release_id(src):
    return f"{src.dataset}/{src.period}/r1"


# ------------------------------------------------------------------------------------------- parse level
@pytest.mark.parametrize("dataset", DATASETS)
def test_missing_required_column(world, cli, dataset):
    src = S.SOURCES[dataset]
    rows = S.drop_column(src, src.grid())
    r = run(world, cli, src, src.serialize(rows))
    refused(world, r, f"{src.member}: missing column '{src.missing_name}'", SHEET.get(dataset, ""))


@pytest.mark.parametrize("dataset", DATASETS)
def test_empty_file(world, cli, dataset):
    src = S.SOURCES[dataset]
    r = run(world, cli, src, b"")
    expect = "not a readable XLSX workbook" if dataset == "asc" else "the file is empty"
    refused(world, r, f"{src.member}: {expect}")


@pytest.mark.parametrize("dataset", [d for d in DATASETS if d != "asc"])
def test_a_utf8_copy_is_read_as_utf8_not_mojibake(world, cli, dataset):
    """CMS text files are cp1252; a copy someone re-saved as UTF-8 (here with an 'Á', bytes C3 81) is read as
    UTF-8 and published, rather than crashing or storing 'Ã\x81'."""
    src = S.SOURCES[dataset]
    r = run(world, cli, src, src.serialize(S.utf8_text(src, src.grid()), encoding="utf-8"))
    assert r.code == 0, r.text
    assert_one_new_version(world, release_id(src))


@pytest.mark.parametrize("dataset", [d for d in DATASETS if d != "asc"])
def test_bytes_that_are_neither_utf8_nor_cp1252_are_refused(world, cli, dataset):
    src = S.SOURCES[dataset]
    data = src.serialize(src.grid()).replace(src.code.encode(), src.code.encode() + b"\x81", 1)  # 0x81: no cp1252
    r = run(world, cli, src, data)
    refused(world, r, f"{src.member}: neither UTF-8 nor cp1252 text (byte 0x81")


def test_a_workbook_with_the_wrong_encoding_is_refused(world, cli):
    """The ASC workbook's sheet XML says UTF-8 but holds a cp1252 byte: a clear error naming the file."""
    src = S.SOURCES["asc"]
    r = run(world, cli, src, S.asc_invalid_utf8(src))
    refused(world, r, src.member)
    assert "not a readable XLSX" in r.err


# ------------------------------------------------------------------------------------------- validation level
DUPLICATE = {"pfs": "expect_compound_columns_to_be_unique", "mue": "expect_compound_columns_to_be_unique",
             "aoc": "expect_compound_columns_to_be_unique", "asc": "expect_column_values_to_be_unique",
             "opps": "expect_column_values_to_be_unique"}


@pytest.mark.parametrize("dataset", DATASETS)
def test_duplicate_keys(world, cli, dataset):
    src = S.SOURCES[dataset]
    r = run(world, cli, src, src.serialize(S.duplicate_key(src, src.grid())))
    refused(world, r, "validation failed", TABLE[dataset], DUPLICATE[dataset], src.code)


OUT_OF_RANGE = {
    "pfs": ["validation failed", "pfs_rvu", "expect_column_values_to_be_between", "work_rvu", "-1.8"],
    "mue": ["validation failed", "mue", "expect_column_values_to_be_between", "mue_value", "-5"],
    "aoc": ["AOC_V2026Q3.csv row", "edit type '4' is not one of 1, 2, 3"],
    "asc": ["validation failed", "asc_addendum_aa", "expect_column_values_to_be_between", "payment_rate", "-5"],
    "opps": ["validation failed", "opps_addendum_b", "expect_column_values_to_be_between", "payment_rate", "-5"],
}


@pytest.mark.parametrize("dataset", DATASETS)
def test_out_of_range_value(world, cli, dataset):
    src = S.SOURCES[dataset]
    r = run(world, cli, src, src.serialize(S.out_of_range(src, src.grid())))
    refused(world, r, *OUT_OF_RANGE[dataset])


# ------------------------------------------------------------------------------------------- archive level
@pytest.mark.parametrize("dataset", DATASETS)
def test_zip_bomb(world, cli, dataset):
    src = S.SOURCES[dataset]
    r = run(world, cli, src, S.bomb_member())
    refused(world, r, src.zip_name, f"member '{src.member}' looks like a zip bomb", "limit 200")
    assert not list((world.home / "cache" / "extracted").rglob(src.member))


@pytest.mark.parametrize("dataset", DATASETS)
def test_member_path_escaping_the_extract_folder(world, cli, dataset):
    src = S.SOURCES[dataset]
    evil = f"../../escape/{src.member}"
    r = run(world, cli, src, members={src.member: src.good(), evil: b"HCPCS\r\n"})
    refused(world, r, src.zip_name, f"member {evil!r} contains a '..' component; refusing to extract anything")
    assert not list(world.home.parent.rglob("escape"))


# ------------------------------------------------------------------------------------------- must NOT fail
@pytest.mark.parametrize("dataset", DATASETS)
def test_extra_unknown_column_is_refused(world, cli, dataset):
    src = S.SOURCES[dataset]
    rows = S.add_column(src, src.grid())
    r = run(world, cli, src, src.serialize(rows))
    refused(world, r, f"{src.member}: unknown column 'NEW CMS COLUMN 2099' in the header at row",
            f"transform/layouts/{LAYOUT_FAMILY[dataset]}.toml")


LAYOUT_FAMILY = {"pfs": "pfs", "mue": "mue", "aoc": "aoc", "asc": "asc", "opps": "opps"}


KEY = {"pfs": "hcpcs", "mue": "hcpcs", "aoc": "addon_code", "asc": "hcpcs", "opps": "hcpcs"}


@pytest.mark.parametrize("dataset", DATASETS)
def test_header_moved_down_a_row_still_parses(world, cli, dataset):
    src = S.SOURCES[dataset]
    grid = src.grid()
    rows = S.move_header_down(src, grid)
    r = run(world, cli, src, src.serialize(rows))
    assert r.code == 0, r.text
    assert f"new releases: {release_id(src)}" in r.out
    assert_one_new_version(world, release_id(src))
    count, _ = new_rows(world.db, TABLE[dataset], release_id(src))
    assert count == src.data_rows(grid)
    # lineage follows the move: the code's source row is one further down than in the file as CMS wrote it
    assert source_row(world.db, TABLE[dataset], release_id(src), KEY[dataset], src.code) == src.row_of(grid, src.code) + 2


# ------------------------------------------------------------------------ copies in other formats disagree
def _rvu24b_loose(world, member: str, edit) -> Path:
    """A mirror holding a copy of the real RVU24B bundle members (csv, txt, xlsx; no zip), with `member` changed by
    `edit(src, dst)` in that one format only."""
    from tests.helpers import MIRROR

    folder = world.mirror / "pfs_rvu/RVU24B"
    folder.mkdir(parents=True)
    for src in sorted((MIRROR / "pfs_rvu/RVU24B").iterdir()):
        if src.suffix in (".csv", ".txt", ".xlsx"):
            if src.name == member:
                edit(src, folder / src.name)
            else:
                shutil.copyfile(src, folder / src.name)
    return world.mirror


def _txt_work_rvu(src, dst):  # 37252's work RVU 1.80 -> 1.81 on line 10138, in place (fixed width)
    lines = src.read_bytes().split(b"\r\n")
    assert lines[10137].startswith(b"37252 ") and lines[10137][59:65] == b"  1.80"
    lines[10137] = lines[10137][:59] + b"  1.81" + lines[10137][65:]
    dst.write_bytes(b"\r\n".join(lines))


def _xlsx_work_rvu(src, dst):  # the same cell in the workbook (row 10141, column F)
    from tests.builders import edit_workbook

    def edit(name, text):
        if name.endswith("sheet1.xml"):
            assert text.count('<c r="F10141" s="6"><v>1.8</v></c>') == 1
            text = text.replace('<c r="F10141" s="6"><v>1.8</v></c>', '<c r="F10141" s="6"><v>1.81</v></c>')
        return text
    edit_workbook(src, dst, edit)


@pytest.mark.parametrize("member, edit, row", [("PPRRVU24_APR.txt", _txt_work_rvu, 10138),
                                               ("PPRRVU24_APR.xlsx", _xlsx_work_rvu, 10141)])
def test_a_value_changed_in_one_format_only_is_refused(world, cli, member, edit, row):
    """The baseline publishes RVU24B from the mirror; the same bundle with one cell changed in its txt (or xlsx) copy
    only is not 'unchanged' (the copies are sources of the release) and is refused; the warehouse stays as it was."""
    mirror = _rvu24b_loose(world, member, edit)
    r = cli("--dataset", "pfs", "--period", "2024B", "--mirror", str(mirror))
    refused(world, r, f"{member} row {row}, column work_rvu: '1.81', but PPRRVU24_APR.csv row 10141 has '1.80' "
                      f"(hcpcs '37252', modifier ''); CMS's copies of one table must agree cell for cell")
    assert len(r.err.strip().splitlines()) == 1


def test_the_unchanged_copies_of_a_bundle_are_still_unchanged(world, cli):
    """Control: the same loose copies, none changed, are the published release (nothing to do)."""
    mirror = _rvu24b_loose(world, "", None)
    r = cli("--dataset", "pfs", "--period", "2024B", "--mirror", str(mirror))
    assert r.code == 0 and "unchanged" in r.text, r.text
    assert_unchanged(world)
