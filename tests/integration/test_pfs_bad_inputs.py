"""Bad inputs end in a clear error and a non-zero exit, and leave the warehouse exactly as it was.

Each case starts from a warehouse holding the real RVU24B, then builds 2024C from a temporary mirror whose
files are the real ones with one defect made in code.
"""

import csv
import io
import zipfile

import pytest

from cmsref.cli import main
from tests.helpers import home_with_copy, PFS, snapshot

pytestmark = pytest.mark.integration
REAL_24C = PFS / "RVU24C/PPRRVU24_JUL.csv"


@pytest.fixture
def world(pfs_2024b, tmp_path, monkeypatch):
    """A fresh copy of the session's 2024B warehouse and an empty mirror folder for RVU24C."""
    db = home_with_copy(pfs_2024b.db, tmp_path, monkeypatch)
    folder = tmp_path / "mirror" / "pfs_rvu" / "RVU24C"
    folder.mkdir(parents=True)
    return db, folder


def build_24c(folder, capsys):
    code = main(["build", "--no-prefect", "--mirror", str(folder.parents[1]), "--period", "2024C"])
    return code, capsys.readouterr().err


def rows_of_real_24c():
    return list(csv.reader(io.StringIO(REAL_24C.read_bytes().decode("cp1252"))))


def write_rows(path, rows):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode("cp1252"))


def real_zip_bytes():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(REAL_24C, "PPRRVU24_JUL.csv")
    return buf.getvalue()


def assert_refused(world, capsys, expect: list[str]):
    db, folder = world
    before = snapshot(db)
    code, err = build_24c(folder, capsys)
    assert code != 0
    for text in expect:
        assert text in err, err
    assert snapshot(db) == before


def test_truncated_zip(world, capsys):
    data = real_zip_bytes()
    (world[1] / "rvu24c.zip").write_bytes(data[: len(data) // 2])
    assert_refused(world, capsys, ["rvu24c.zip", "truncated or corrupt"])


def test_html_page_instead_of_zip(world, capsys):
    (world[1] / "rvu24c.zip").write_text(
        "<!DOCTYPE html><html><head><title>License Agreement</title></head><body>Accept</body></html>")
    assert_refused(world, capsys, ["rvu24c.zip", "HTML page"])


def test_pprrvu_without_work_rvu_column(world, capsys):
    rows = [r[:5] + r[6:] for r in rows_of_real_24c()]
    write_rows(world[1] / "PPRRVU24_JUL.csv", rows)
    assert_refused(world, capsys, ["PPRRVU24_JUL.csv", "missing column 'work_rvu'"])


def test_duplicated_hcpcs_and_modifier(world, capsys):
    rows = rows_of_real_24c()
    i = next(i for i, r in enumerate(rows) if r and r[0] == "37252")
    rows.insert(i + 1, list(rows[i]))
    write_rows(world[1] / "PPRRVU24_JUL.csv", rows)
    assert_refused(world, capsys, ["pfs_rvu", "expect_compound_columns_to_be_unique", "37252"])


def test_negative_rvu(world, capsys):
    rows = rows_of_real_24c()
    i = next(i for i, r in enumerate(rows) if r and r[0] == "37252")
    rows[i][5] = "-1.80"
    write_rows(world[1] / "PPRRVU24_JUL.csv", rows)
    assert_refused(world, capsys, ["pfs_rvu", "expect_column_values_to_be_between", "work_rvu", "-1.8"])


def test_member_path_escaping_the_extract_folder(world, capsys):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.write(REAL_24C, "PPRRVU24_JUL.csv")
        z.writestr("../../escape/PPRRVU24_JUL.csv", "HCPCS,MOD\n")
    (world[1] / "rvu24c.zip").write_bytes(buf.getvalue())
    assert_refused(world, capsys, ["rvu24c.zip", "../../escape/PPRRVU24_JUL.csv"])
    assert not (world[0].parent.parent / "escape").exists()


def test_pinned_zip_with_other_bytes(world, capsys):
    (world[1] / "rvu24c-updated-09-09-2024.zip").write_bytes(real_zip_bytes())  # catalog pins this name
    assert_refused(world, capsys, ["does not match the catalog pin"])
