"""Data versions: same sources publish nothing; changed bytes publish a new revision; old versions still answer."""

import shutil
from decimal import Decimal

import duckdb
import pytest

from cmsref import pipeline

from core import settings
from tests.helpers import PFS, snapshot
from warehouse.views import create_pinned_views

pytestmark = pytest.mark.integration


def ask(db, version, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        if version:
            create_pinned_views(con, version)
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_changed_source_bytes_publish_a_new_revision_and_old_version_answers_as_before(home, tmp_path):
    mirror = tmp_path / "mirror"
    folder = mirror / "pfs_rvu" / "RVU24C"
    folder.mkdir(parents=True)
    shutil.copy(PFS / "RVU24C/PPRRVU24_JUL.csv", folder)

    first = pipeline.build(["pfs"], mirror=mirror)
    assert first.data_version == "2024.3"
    sql = "SELECT release_id, work_rvu FROM pfs_rvu WHERE hcpcs = '37252' AND modifier = ''"
    assert ask(settings.db_path(), None, sql) == [("pfs/2024C/r1", Decimal("1.80"))]

    db = settings.db_path()
    before = snapshot(db)
    assert pipeline.build(["pfs"], mirror=mirror).data_version is None  # same bytes: nothing new
    assert snapshot(db) == before

    # CMS re-posts a corrected file: one value changes
    path = folder / "PPRRVU24_JUL.csv"
    path.write_bytes(path.read_bytes().replace(b"37252,,Intrvasc us noncoronary 1st,A,,1.80",
                                               b"37252,,Intrvasc us noncoronary 1st,A,,1.81"))
    second = pipeline.build(["pfs"], mirror=mirror)
    assert second.data_version == "2024.3.1" and second.new_releases == ["pfs/2024C/r2"]
    assert ask(db, None, sql) == [("pfs/2024C/r2", Decimal("1.81"))]
    assert ask(db, "2024.3", sql) == [("pfs/2024C/r1", Decimal("1.80"))]  # the pinned version is unchanged
    assert ask(db, "2024.3.1", sql) == ask(db, None, sql)
