"""Catalog, lineage and release-date faults: a catalog window that is wrong and then corrected, a window the previous
cmsref published although it answers no date, a mirror whose files are symbolic links out of it, a PPRRVU whose
"RELEASED" date cannot be right, and no path of this machine in what is published.

The catalog is a copy of extract/catalog in tmp_path (extract.catalog.CATALOG_DIR), edited per case.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from extract import catalog
from extract.catalog import ReleaseSpec, load_dataset
from tests.helpers import MIRROR, query
from tests.fault import sources as S
from tests.fault.helpers import assert_one_new_version, assert_unchanged, versions

pytestmark = pytest.mark.integration

SRC = S.SOURCES["pfs"]  # pfs 2025B: the real RVU25D PPRRVU as PPRRVU2025_Apr.csv, served as a zip by the stand-in
BLOCK = '[[release]]\nperiod = "2025B"\neffective_from = 2025-04-01\n'


@pytest.fixture
def catalog_copy(tmp_path, monkeypatch):
    """A copy of the shipped catalog that load_dataset reads (its cache cleared before and after)."""
    folder = tmp_path / "catalog"
    shutil.copytree(catalog.CATALOG_DIR, folder)
    monkeypatch.setattr(catalog, "CATALOG_DIR", folder)
    load_dataset.cache_clear()
    yield folder
    load_dataset.cache_clear()


def set_2025b(folder: Path, extra: str) -> None:
    """Rewrite pfs 2025B's entry with `extra` lines after its effective_from ('' restores it)."""
    path = folder / "pfs.toml"
    text = re.sub(r'(\[\[release\]\]\nperiod = "2025B"\neffective_from = 2025-04-01\n)(effective_to = [^\n]*\n)?',
                  lambda m: m.group(1) + extra, path.read_text(encoding="utf-8"))
    assert BLOCK in text
    path.write_text(text, encoding="utf-8")
    load_dataset.cache_clear()


def serve(world) -> None:
    world.cms.add_release_zip(world.mirror, "pfs", SRC.period, SRC.zip_name,
                              {**S.companions("pfs"), SRC.member: SRC.good()})


def rvu_2025b_on(db, day: str) -> int:
    return query(db, f"SELECT count(*) FROM pfs_rvu_on('{day}') WHERE period = '2025B'")[0][0]


def test_a_catalog_window_that_answers_no_date_is_refused_by_every_command(world, cli, catalog_copy, capsys):
    from cmsref.cli import main

    serve(world)
    landing = load_dataset("pfs").release("2025B").landing_page
    set_2025b(catalog_copy, "effective_to = 2025-04-01\n")
    r = cli("--dataset", "pfs", "--period", "2025B")
    assert r.code == 1, r.text
    assert r.err.startswith("cmsref: error: catalog ") and r.err.count("\n") == 1, r.err
    assert "pfs.toml: release #15 (2025B): effective_to 2025-04-01 is not after effective_from 2025-04-01" in r.err
    assert world.cms.hits(landing) == 0  # refused before any download
    assert_unchanged(world)
    capsys.readouterr()
    assert main(["versions"]) == 1  # every command says the same one line, no traceback
    assert "release #15 (2025B): effective_to" in capsys.readouterr().err


def test_a_corrected_catalog_window_is_a_new_revision_that_answers_the_date(world, cli, catalog_copy):
    set_2025b(catalog_copy, "effective_to = 2025-04-02\n")  # wrong (one day), but a window
    serve(world)
    first = cli("--dataset", "pfs", "--period", "2025B")
    assert first.code == 0, first.text
    assert rvu_2025b_on(world.db, "2025-04-01") > 0 and rvu_2025b_on(world.db, "2025-06-01") == 0
    set_2025b(catalog_copy, "")  # corrected: the release applies until the next loaded one or the year's end
    fixed = cli("--dataset", "pfs", "--period", "2025B")
    assert fixed.code == 0, fixed.text
    assert "nothing new to publish" not in fixed.text and "pfs/2025B/r2" in fixed.text, fixed.text
    assert rvu_2025b_on(world.db, "2025-06-01") == rvu_2025b_on(world.db, "2025-04-01") > 0
    assert query(world.db, "SELECT release_id FROM releases WHERE in_latest AND period = '2025B'") == [("pfs/2025B/r2",)]
    assert len(versions(world.db)) == len(world.baseline.versions) + 2
    again = cli("--dataset", "pfs", "--period", "2025B")  # unchanged bytes and entry: nothing to do
    assert again.code == 0 and "nothing new to publish" in again.text, again.text


def test_a_window_the_previous_cmsref_published_broken_is_rebuilt_once_corrected(world, cli, catalog_copy,
                                                                                  monkeypatch):
    """The previous cmsref neither checked windows nor recorded catalog entries: it published 2025B with
    effective_to on its effective_from (a window that answers no date). With the entry corrected, this cmsref
    builds the same bytes again as r2, which answers."""
    with monkeypatch.context() as old:
        old.setattr(catalog, "catalog_problems", lambda raw, today=None: [])
        old.setattr(ReleaseSpec, "catalog_sha256", property(lambda self: None))
        set_2025b(catalog_copy, "effective_to = 2025-04-01\n")
        serve(world)
        broken = cli("--dataset", "pfs", "--period", "2025B")
        assert broken.code == 0, broken.text
    assert rvu_2025b_on(world.db, "2025-04-01") == 0 and rvu_2025b_on(world.db, "2025-06-01") == 0
    set_2025b(catalog_copy, "")
    fixed = cli("--dataset", "pfs", "--period", "2025B")
    assert fixed.code == 0 and "pfs/2025B/r2" in fixed.text, fixed.text
    assert rvu_2025b_on(world.db, "2025-06-01") > 0


def test_a_legacy_release_whose_entry_did_not_change_is_not_rebuilt(world, cli):
    """Releases of the baseline stand in for a warehouse of the previous cmsref (no catalog_sha256): building the
    same period with the same catalog entry publishes nothing."""
    import duckdb

    con = duckdb.connect(str(world.db))
    try:  # what the previous cmsref stored: no catalog entry hash (a data version of the baseline's is not involved)
        con.execute("UPDATE meta.releases SET catalog_sha256 = NULL WHERE release_id = 'pfs/2024B/r1'")
    finally:
        con.close()
    r = cli("--dataset", "pfs", "--period", "2024B", "--mirror", str(MIRROR))
    assert r.code == 0 and "nothing new to publish" in r.text, r.text


def test_mirror_files_that_link_out_of_the_mirror_are_refused(world, cli, tmp_path):
    mirror = tmp_path / "linked-mirror"
    folder = mirror / "pfs_rvu" / "RVU25D"
    folder.mkdir(parents=True)
    for real in sorted((MIRROR / "pfs_rvu" / "RVU25D").glob("*.csv")):
        (folder / real.name).symlink_to(real)
    r = cli("--dataset", "pfs", "--period", "2025D", "--mirror", str(mirror))
    assert r.code == 1, r.text
    assert "pfs_rvu/RVU25D/25LOCCO.csv in the mirror is a symbolic link to a file outside the mirror" in r.err, r.err
    assert str(MIRROR) not in r.err
    assert_unchanged(world)


@pytest.mark.parametrize("stated, expect", [
    ("02/30/2025", "PPRRVU2025_Apr.csv: the release date 'RELEASED 02/30/2025' is not a date (mm/dd/yyyy)"),
    ("09/11/2031", "PPRRVU2025_Apr.csv: the release date 'RELEASED 09/11/2031' cannot be right: 2031-09-11 is after "
                   "today"),
])
def test_a_released_date_that_cannot_be_right_is_refused(world, cli, stated, expect):
    rows = SRC.grid()
    cells = [(i, j) for i, row in enumerate(rows[:12]) for j, c in enumerate(row) if c.startswith("RELEASED ")]
    assert len(cells) == 1, cells
    i, j = cells[0]
    rows[i][j] = f"RELEASED {stated}"
    world.cms.add_release_zip(world.mirror, "pfs", SRC.period, SRC.zip_name,
                              {**S.companions("pfs"), SRC.member: SRC.serialize(rows)})
    r = cli("--dataset", "pfs", "--period", "2025B")
    assert r.code == 1, r.text
    assert r.err.startswith("cmsref: error: ") and expect in r.err, r.err
    assert_unchanged(world)


# ------------------------------------------------------------------------------------------- lineage
MACHINE = ("/work/", "file://", "/tmp/", "/home/")


def test_no_path_of_this_machine_is_published(baseline, world, cli):
    """source_files and releases of a warehouse built from the mirror, the stand-in and generated files, and after a
    build online, name CMS's URLs and mirror-relative paths, never a path of this machine."""
    serve(world)
    assert cli("--dataset", "pfs", "--period", "2025B").code == 0
    for table in ("meta.source_files", "meta.releases"):
        rows = query(world.db, f"SELECT * FROM {table}")
        found = [(row[0], cell) for row in rows for cell in row if isinstance(cell, str)
                 and any(m in cell for m in MACHINE)]
        assert found == [], f"{table}: {found[:3]}"
    files = {r[0]: r[1:] for r in query(world.db, "SELECT member_name, url, mirror_path, archive_name "
                                                  "FROM meta.source_files WHERE release_id = 'pfs/2024B/r1'")}
    zip_url = next(f.url for f in load_dataset("pfs").release("2024B").files)
    assert files["PPRRVU24_APR.csv"] == (zip_url, "pfs_rvu/RVU24B/rvu24b-updated-03-18-2024.zip",
                                         "rvu24b-updated-03-18-2024.zip")
    assert files["pfs_status_codes.csv"] == ("transform/reference/pfs_status_codes.csv", None, None)
    [(url, mirror_path)] = query(world.db, "SELECT url, mirror_path FROM meta.source_files WHERE release_id = "
                                           "'pfs/2025B/r1' AND kind = 'pprrvu'")
    assert url.startswith("https://www.cms.gov/") and url.endswith(SRC.zip_name) and mirror_path is None, url


@pytest.mark.parametrize("args", [["--help"], ["build", "--help"], ["payment", "37252", "--date", "2024-06-01"]])
def test_a_period_listed_twice_is_one_line_even_for_help(args, catalog_copy, capsys):
    """The parser lists the catalogued datasets, so it reads every catalog: a broken one is one line, no traceback."""
    from cmsref.cli import main

    path = catalog_copy / "mue.toml"
    text = path.read_text(encoding="utf-8")
    first = text[text.index("[[release]]"):]
    path.write_text(text + "\n" + first, encoding="utf-8")  # every release again
    load_dataset.cache_clear()
    capsys.readouterr()
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("cmsref: error: catalog ") and "mue.toml" in err, err
