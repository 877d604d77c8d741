"""Incomplete or inconsistent releases are refused before anything is published (real RVU24B files, edited)."""

from __future__ import annotations

import shutil

import pytest

from cmsref import pipeline

from core import settings
from core.errors import DownloadError, ValidationError
from tests.helpers import PFS, query, snapshot

pytestmark = pytest.mark.integration
BUNDLE = ["PPRRVU24_APR.csv", "GPCI2024.csv", "24LOCCO.csv", "ANES2024.csv", "OPPSCAP_APR.csv"]


def bundle(tmp_path, leave_out=(), edit=None):
    folder = tmp_path / "mirror" / "pfs_rvu" / "RVU24B"
    folder.mkdir(parents=True)
    for name in BUNDLE:
        if name not in leave_out:
            shutil.copy(PFS / "RVU24B" / name, folder)
    if edit:
        name, change = edit
        path = folder / name
        path.write_bytes(change(path.read_bytes()))
    return tmp_path / "mirror"


def test_the_complete_bundle_builds(home, tmp_path):
    assert pipeline.build(["pfs"], ["2024B"], mirror=bundle(tmp_path)).data_version == "2024.2"


def test_a_bundle_without_its_gpci_file_is_refused(home, tmp_path):
    with pytest.raises(DownloadError, match=r"release pfs:2024B: no GPCI file among its sources .*every pfs release "
                                            r"has one .*mirror_lacks"):
        pipeline.build(["pfs"], ["2024B"], mirror=bundle(tmp_path, leave_out=["GPCI2024.csv"]))
    assert not settings.db_path().exists()


def test_a_partial_mirror_copy_the_catalog_lists_is_built_and_noted(home, tmp_path):
    folder = tmp_path / "mirror" / "pfs_rvu" / "RVU24C"
    folder.mkdir(parents=True)
    shutil.copy(PFS / "RVU24C/PPRRVU24_JUL.csv", folder)
    assert pipeline.build(["pfs"], ["2024C"], mirror=tmp_path / "mirror").data_version == "2024.3"
    notes = query(settings.db_path(), "SELECT notes FROM meta.releases")[0][0]
    assert "built from a partial copy in the mirror: no gpci, locco, anes, oppscap file" in notes


def test_a_locality_missing_from_the_anes_file_is_refused_and_nothing_changes(home, tmp_path):
    pipeline.build(["pfs"], ["2024B"], mirror=bundle(tmp_path / "good"))
    before = snapshot(settings.db_path())
    drop_one = ("ANES2024.csv", lambda data: b"\n".join(line for line in data.split(b"\n")
                                                        if not line.startswith(b"10112,00,")))
    mirror = bundle(tmp_path / "bad", edit=drop_one)
    with pytest.raises(ValidationError, match=r"pfs localities \(GPCI, LOCCO, ANES\).*10112:00 missing from ANES"):
        pipeline.build(["pfs"], ["2024B"], mirror=mirror, db=tmp_path / "other.duckdb")
    assert snapshot(settings.db_path()) == before


def test_a_locality_dropped_from_every_file_is_caught_against_the_previous_release(home, tmp_path):
    pipeline.build(["pfs"], ["2024B"], mirror=bundle(tmp_path / "b"))
    before = snapshot(settings.db_path())
    folder = tmp_path / "c" / "pfs_rvu" / "RVU24C"
    folder.mkdir(parents=True)
    shutil.copy(PFS / "RVU24C/PPRRVU24_JUL.csv", folder)
    for name in ("GPCI2024.csv", "24LOCCO.csv", "ANES2024.csv", "OPPSCAP_APR.csv"):  # Alabama (10112:00) left out
        lines = (PFS / "RVU24B" / name).read_bytes().split(b"\n")
        (folder / name).write_bytes(b"\n".join(l for l in lines if not (l.startswith(b"10112,") and
                                                                         (b",00," in l or b",0," in l))))
    with pytest.raises(ValidationError, match=r"pfs localities vs 2024B.*10112:00 dropped since 2024B"):
        pipeline.build(["pfs"], ["2024C"], mirror=tmp_path / "c")
    assert snapshot(settings.db_path()) == before
