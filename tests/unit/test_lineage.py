"""Lineage names CMS, not this machine: source_files.url is CMS's URL from the catalog and mirror_path the mirror
file relative to the mirror root; mirror files that are symbolic links out of the mirror are refused. And a
release's catalog entry is part of what "already published" compares."""

from __future__ import annotations

import zipfile
from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb
import pytest

from core.errors import DownloadError
from extract.catalog import DatasetSpec, FileSpec, ReleaseSpec, load_dataset
from extract.fetch import _from_mirror, local_source, reference_files
from tests.builders import built
from warehouse.publish import connect, ensure_schema, publish, published_unchanged

LANDING = "https://www.cms.gov/demo/rvu24b"
ZIP_URL = "https://www.cms.gov/files/zip/rvu24b.zip"

SPEC = DatasetSpec(name="demo", title="demo", layout="pfs", period_end="year", mirror_root="demo", prefer=("csv",),
                   required=("pprrvu",), members={"pprrvu": r"(?i)^PPRRVU.*\.csv$"}, variants={}, releases=())
RELEASE = ReleaseSpec(dataset="demo", period="2024B", effective_from=date(2024, 4, 1), effective_to=None,
                      cms_release_date=None, landing_page=LANDING, files=(FileSpec(ZIP_URL, "rvu24b.zip"),),
                      mirror_dir="R24B")


def folder(mirror: Path) -> Path:
    f = mirror / "demo" / "R24B"
    f.mkdir(parents=True, exist_ok=True)
    return f


def zip_with(path: Path, name: str = "PPRRVU24_APR.csv") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(name, "HCPCS,X\n37252,1\n")
    return path


def test_a_mirror_zip_is_recorded_with_the_catalog_url_and_its_name_in_the_mirror(tmp_path):
    mirror = tmp_path / "mirror"
    zip_with(folder(mirror) / "rvu24b.zip")
    [src] = _from_mirror(SPEC, RELEASE, mirror, tmp_path / "cache")
    assert (src.url, src.mirror_path, src.archive_name, src.member_name) == (
        ZIP_URL, "demo/R24B/rvu24b.zip", "rvu24b.zip", "PPRRVU24_APR.csv")


def test_an_uncatalogued_zip_name_gets_the_landing_page(tmp_path):
    mirror = tmp_path / "mirror"
    zip_with(folder(mirror) / "rvu24b-updated.zip")
    [src] = _from_mirror(SPEC, RELEASE, mirror, tmp_path / "cache")
    assert (src.url, src.mirror_path) == (LANDING, "demo/R24B/rvu24b-updated.zip")
    no_landing = replace(RELEASE, landing_page=None)
    assert _from_mirror(SPEC, no_landing, mirror, tmp_path / "cache")[0].url == ZIP_URL  # the release's one URL


def test_loose_members_get_the_landing_page_and_a_relative_mirror_path(tmp_path):
    mirror = tmp_path / "mirror"
    (folder(mirror) / "PPRRVU24_APR.csv").write_text("HCPCS\n")
    [src] = _from_mirror(SPEC, RELEASE, mirror, tmp_path / "cache")
    assert (src.url, src.mirror_path, src.archive_name) == (LANDING, "demo/R24B/PPRRVU24_APR.csv", None)


def test_a_relative_mirror_argument_gives_the_same_names(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    (folder(mirror) / "PPRRVU24_APR.csv").write_text("HCPCS\n")
    monkeypatch.chdir(tmp_path / "mirror" / "demo")
    [src] = _from_mirror(SPEC, RELEASE, Path("..") / ".." / "mirror", tmp_path / "cache")
    assert src.mirror_path == "demo/R24B/PPRRVU24_APR.csv"


def test_a_loose_symlink_out_of_the_mirror_is_refused_naming_it_in_the_mirror(tmp_path):
    mirror = tmp_path / "mirror"
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("HCPCS\n")
    (folder(mirror) / "PPRRVU24_APR.csv").symlink_to(outside)
    with pytest.raises(DownloadError) as err:
        _from_mirror(SPEC, RELEASE, mirror, tmp_path / "cache")
    assert "demo/R24B/PPRRVU24_APR.csv in the mirror is a symbolic link to a file outside the mirror" in str(err.value)
    assert str(tmp_path) not in str(err.value)


def test_a_zip_symlink_out_of_the_mirror_is_refused(tmp_path):
    mirror = tmp_path / "mirror"
    (folder(mirror) / "rvu24b.zip").symlink_to(zip_with(tmp_path / "other.zip"))
    with pytest.raises(DownloadError, match="demo/R24B/rvu24b.zip in the mirror is a symbolic link"):
        _from_mirror(SPEC, RELEASE, mirror, tmp_path / "cache")


def test_a_symlink_within_the_mirror_is_read(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "shared").mkdir(parents=True)
    (mirror / "shared" / "PPRRVU24_APR.csv").write_text("HCPCS\n")
    (folder(mirror) / "PPRRVU24_APR.csv").symlink_to(mirror / "shared" / "PPRRVU24_APR.csv")
    [src] = _from_mirror(SPEC, RELEASE, mirror, tmp_path / "cache")
    assert src.mirror_path == "demo/R24B/PPRRVU24_APR.csv"


def test_curated_files_are_named_by_their_path_in_the_project():
    [ref] = reference_files(load_dataset("pfs"))
    assert (ref.url, ref.mirror_path, ref.member_name) == (
        "transform/reference/pfs_status_codes.csv", None, "pfs_status_codes.csv")


def test_a_local_file_of_unknown_origin_names_no_path(tmp_path):
    p = tmp_path / "guide.pdf"
    p.write_bytes(b"%PDF")
    src = local_source("guide", "all", p)
    assert (src.url, src.mirror_path, src.member_name) == ("", None, "guide.pdf")


# ------------------------------------------------------------------------------------------- catalog entry
def with_entry(b, sha: str | None):
    b.catalog_sha256 = sha
    return b


def test_a_changed_catalog_entry_is_a_new_revision_even_with_the_same_bytes(tmp_path):
    db = tmp_path / "w.duckdb"
    assert publish(db, [with_entry(built("2024B", date(2024, 4, 1), "b"), "entry-1")]).new_releases == ["pfs/2024B/r1"]
    again = publish(db, [with_entry(built("2024B", date(2024, 4, 1), "b"), "entry-1")])
    assert again.data_version is None and again.reused_releases == ["pfs/2024B/r1"]
    fixed = publish(db, [with_entry(built("2024B", date(2024, 4, 1), "b", stated_to=date(2024, 6, 1)), "entry-2")])
    assert fixed.new_releases == ["pfs/2024B/r2"]
    con = duckdb.connect(str(db), read_only=True)
    try:
        notes, sha = con.execute("SELECT notes, catalog_sha256 FROM meta.releases WHERE release_id = 'pfs/2024B/r2'"
                                 ).fetchone()
    finally:
        con.close()
    assert sha == "entry-2" and "built again because the release's catalog entry changed" in notes
    back = publish(db, [with_entry(built("2024B", date(2024, 4, 1), "b"), "entry-1")])  # the entry reverted: r1 again
    assert back.new_releases == [] and back.reused_releases == ["pfs/2024B/r1"] and back.data_version


def test_published_unchanged_compares_the_catalog_entry(tmp_path):
    db = tmp_path / "w.duckdb"
    b = built("2024B", date(2024, 4, 1), "b")
    release = ReleaseSpec("pfs", "2024B", date(2024, 4, 1), None, None, None, (), "RVU24B")
    publish(db, [with_entry(b, release.catalog_sha256)])
    assert published_unchanged(db, "pfs", "2024B", b.sources, release) == "pfs/2024B/r1"
    moved = replace(release, effective_to=date(2024, 7, 1))
    assert published_unchanged(db, "pfs", "2024B", b.sources, moved) is None
    assert published_unchanged(db, "pfs", "2024B", b.sources) == "pfs/2024B/r1"  # no entry given: bytes only


def old_warehouse(db: Path) -> None:
    """What a cmsref before catalog_sha256 and mirror_path wrote: neither column."""
    con = connect(db)
    try:
        con.execute("DROP VIEW IF EXISTS main.source_files")
        con.execute("ALTER TABLE meta.releases DROP COLUMN catalog_sha256")
        con.execute("ALTER TABLE meta.source_files DROP COLUMN mirror_path")
    finally:
        con.close()


def test_a_warehouse_of_the_previous_cmsref_is_not_rebuilt_for_nothing(tmp_path):
    db = tmp_path / "w.duckdb"
    release = ReleaseSpec("pfs", "2024B", date(2024, 4, 1), None, None, None, (), "RVU24B")
    b = built("2024B", date(2024, 4, 1), "b")
    publish(db, [b])
    old_warehouse(db)
    assert published_unchanged(db, "pfs", "2024B", b.sources, release) == "pfs/2024B/r1"  # same window: unchanged
    again = publish(db, [with_entry(built("2024B", date(2024, 4, 1), "b"), release.catalog_sha256)])
    assert again.data_version is None and again.reused_releases == ["pfs/2024B/r1"]
    con = connect(db)
    try:
        ensure_schema(con)  # the migration added both columns, NULL for the old rows
        assert con.execute("SELECT catalog_sha256 FROM meta.releases").fetchall() == [(None,)]
        assert con.execute("SELECT count(*) FROM meta.source_files WHERE mirror_path IS NULL").fetchone()[0] == 1
    finally:
        con.close()


def test_a_corrected_window_of_a_release_of_the_previous_cmsref_is_rebuilt(tmp_path):
    """The previous cmsref published 2024B with a window that answers no date (effective_to on its effective_from);
    the corrected catalog entry makes a new revision, though the files are the same."""
    db = tmp_path / "w.duckdb"
    b = built("2024B", date(2024, 4, 1), "b", stated_to=date(2024, 4, 1))
    publish(db, [b])
    old_warehouse(db)
    fixed = ReleaseSpec("pfs", "2024B", date(2024, 4, 1), None, None, None, (), "RVU24B")
    assert published_unchanged(db, "pfs", "2024B", b.sources, fixed) is None
    r = publish(db, [with_entry(built("2024B", date(2024, 4, 1), "b"), fixed.catalog_sha256)])
    assert r.new_releases == ["pfs/2024B/r2"]
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM pfs_rvu_on('2024-06-01')").fetchone()[0] > 0
    finally:
        con.close()
    # a release date the catalog now gives where the release stored none is a change too
    dated = replace(fixed, cms_release_date=date(2024, 3, 15))
    assert published_unchanged(db, "pfs", "2024B", b.sources, dated) is None
