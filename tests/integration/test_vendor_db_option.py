"""`--db X` is the warehouse a vendor guide is reconciled against and published into, whatever the default warehouse
(CMSREF_HOME) holds: the guides are checked against X's CMS data, and the default warehouse is not touched."""

import json
import shutil

import pytest

from cmsref.cli import main
from tests.builders import AOC_HEADER, AOC_ROWS
from tests.helpers import MIRROR, SHARED, query, snapshot

pytestmark = pytest.mark.integration
GUIDE_2022 = SHARED / "vendor-guides" / "ivus-documenting-coding-billing-2022.pdf"


@pytest.fixture
def two_warehouses(mirror_db, tmp_path, monkeypatch):
    """(X: a copy of the whole-mirror build, with PFS 2022A; the default warehouse: add-on code edits only)."""
    from cmsref import pipeline

    home = tmp_path / "data"
    monkeypatch.setenv("CMSREF_HOME", str(home))
    for var in ("CMSREF_DB", "CMSREF_MIRROR"):
        monkeypatch.delenv(var, raising=False)
    folder = tmp_path / "aoc-mirror" / "aoc" / "2026Q2"
    folder.mkdir(parents=True)
    (folder / "AOC_V2026Q2-MCR.csv").write_text("\r\n".join([",,,,,,,", AOC_HEADER, *AOC_ROWS]) + "\r\n",
                                                 encoding="cp1252")
    assert pipeline.build(["aoc"], mirror=tmp_path / "aoc-mirror").data_version  # the default warehouse
    x = tmp_path / "x" / "cmsref.duckdb"
    x.parent.mkdir()
    shutil.copyfile(mirror_db, x)
    return x, home / "cmsref.duckdb"


def _payments(db):
    return query(db, "SELECT hcpcs, guide_value, status, cms_release FROM vendor_guide_check "
                     "WHERE field = 'payment_non_facility' ORDER BY hcpcs")


def test_vendor_import_db_x_reconciles_against_x_not_the_default_warehouse(two_warehouses, capsys):
    x, default = two_warehouses
    before = snapshot(default)
    assert main(["vendor", "import", str(GUIDE_2022), "--db", str(x)]) == 0
    assert "vendor/ivus-documenting-coding-billing-2022/r1" in capsys.readouterr().out
    assert _payments(x) == [("37252", "1026.07", "match", "pfs/2022A/r1"), ("37253", "175.45", "match", "pfs/2022A/r1")]
    assert snapshot(default) == before


def test_build_db_x_dataset_vendor_reconciles_against_x_not_the_default_warehouse(two_warehouses, capsys):
    x, default = two_warehouses
    before = snapshot(default)
    assert main(["build", "--no-prefect", "--dataset", "vendor", "--mirror", str(MIRROR), "--db", str(x)]) == 0
    capsys.readouterr()
    rows = _payments(x)
    assert ("37252", "1026.07", "match", "pfs/2022A/r1") in rows
    assert {s for _, _, s, _ in rows} == {"match"}
    assert snapshot(default) == before
    assert main(["query", "--db", str(default), "--format", "json",
                 "SELECT count(*) AS n FROM releases WHERE dataset = 'vendor'"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 0}]
