"""Small rules whose off-by-one or swapped variants would publish wrong values without any other test noticing:
version names, the release drift is compared with, the Prefect cache key, QP / non-QP files, status definitions."""

from __future__ import annotations

import csv
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from core.errors import ParseError
from warehouse.publish import version_base


@pytest.mark.parametrize("month, quarter", [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2), (6, 2), (7, 3), (8, 3), (9, 3),
                                            (10, 4), (11, 4), (12, 4)])
def test_a_version_is_named_after_the_quarter_of_its_newest_release(month, quarter):
    assert version_base(date(2025, month, 1)) == f"2025.{quarter}"
    assert version_base(date(2025, month, 28)) == f"2025.{quarter}"


def test_drift_is_compared_with_the_newest_earlier_release(tmp_path):
    from cmsref.pipeline import previous_rows
    from extract.catalog import load_dataset
    from warehouse.publish import BuiltRelease

    spec = load_dataset("pfs")

    def built(period, rows):
        r = spec.release(period)
        return BuiltRelease("pfs", period, r.effective_from, None, None, [], {"pfs_rvu": pl.DataFrame({"x": range(rows)})},
                            {})
    counts, period = previous_rows(tmp_path / "none.duckdb", [built("2024B", 100), built("2024C", 120)], spec,
                                   spec.release("2025D"))
    assert (period, counts["pfs_rvu"]) == ("2024C", 120)


def test_a_changed_layout_file_or_registry_changes_the_prefect_cache_key(tmp_path, monkeypatch):
    import flows.build as fb
    from extract.catalog import load_dataset

    spec = load_dataset("pfs")
    params = {"spec": spec, "release": spec.release("2024B"), "files": []}
    before = fb._transform_key(None, params)
    layouts = tmp_path / "transform" / "layouts"
    shutil.copytree(fb.LAYOUT_DIR, layouts)
    for module in fb.LAYOUT_DIR.parent.glob("*.py"):
        shutil.copy(module, layouts.parent)
    monkeypatch.setattr(fb, "LAYOUT_DIR", layouts)
    assert fb._transform_key(None, params) == before  # same bytes, same key
    (layouts / "pfs.toml").write_text((layouts / "pfs.toml").read_text().replace("CONV FACTOR", "CONV  FACTOR"))
    assert fb._transform_key(None, params) != before


def _pprrvu(path: Path, cf: str, work_37252: str = "1.80") -> Path:
    rows = [["HCPCS", "MOD", "DESCRIPTION", "STATUS CODE", "WORK RVU", "NON-FAC PE RVU", "FACILITY PE RVU", "MP RVU",
             "NON-FACILITY TOTAL", "FACILITY TOTAL", "GLOB DAYS", "CONV FACTOR", "PRIC IND"],
            ["37252", "", "Intrvasc us noncoronary 1st", "A", work_37252, "25.70", "0.44", "0.35", "27.85", "2.59",
             "ZZZ", cf, "0"]]
    with open(path, "w", newline="", encoding="cp1252") as f:
        csv.writer(f).writerows(rows)
    return path


def test_qp_and_non_qp_files_feed_pfs_rvu_from_non_qp_and_must_agree(tmp_path, monkeypatch):
    from extract.catalog import load_dataset
    from extract.fetch import local_source
    from transform import pfs
    from transform.layout import FileLayout, load_layouts

    # a reduced PPRRVU layout (the columns this test writes) in place of the real one
    real = load_layouts("pfs")["pprrvu"]
    keep = {"hcpcs", "modifier", "description", "status_code", "work_rvu", "non_facility_pe_rvu", "facility_pe_rvu",
            "mp_rvu", "non_facility_total_rvu", "facility_total_rvu", "global_days", "conversion_factor",
            "pricing_indicator"}
    reduced = FileLayout(**{**real.__dict__, "columns": tuple(c for c in real.columns if c.name in keep),
                            "header_rows": 1, "preamble": {}, "ignore": ()})
    monkeypatch.setattr(pfs, "load_layouts", lambda family: {"pprrvu": reduced})
    spec, release = load_dataset("pfs"), load_dataset("pfs").release("2026A")
    files = [local_source("pprrvu", "qp", _pprrvu(tmp_path / "PPRRVU2026_Jan_QPP.csv", "33.5675")),
             local_source("pprrvu", "non_qp", _pprrvu(tmp_path / "PPRRVU2026_Jan_nonQPP.csv", "33.4009"))]
    out = pfs.transform_release(spec, release, files).tables
    assert out["pfs_rvu"]["conversion_factor"].to_list() == [Decimal("33.4009")]
    assert sorted(out["conversion_factor"].select("variant", "conversion_factor").rows()) == [
        ("non_qp", Decimal("33.4009")), ("qp", Decimal("33.5675"))]
    files[0] = local_source("pprrvu", "qp", _pprrvu(tmp_path / "PPRRVU2026_Jan_QPP.csv", "33.5675", work_37252="1.81"))
    with pytest.raises(ParseError, match="should differ only in the conversion factor"):
        pfs.transform_release(spec, release, files)


def test_pfs_status_definitions_say_what_each_code_means():
    path = Path(__file__).resolve().parents[2] / "transform/reference/pfs_status_codes.csv"
    with open(path, newline="") as f:
        defs = {r["code"]: r["definition"].lower() for r in csv.DictReader(f)}
    for code, word in {"A": "active", "B": "bundled", "C": "carrier", "D": "deleted", "E": "excluded",
                       "I": "not valid", "N": "non-covered", "R": "restricted", "T": "injection",
                       "X": "statutory"}.items():
        assert defs[code].startswith(word) or word in defs[code].split(":")[0], (code, defs[code])
