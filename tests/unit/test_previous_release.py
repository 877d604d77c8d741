"""The checks against the previous release (row-count drift, localities, work RVUs) are skipped only when there is no
previous release, and the release notes say which were not made; a warehouse that cannot be read stops the build in
one line."""

from datetime import date

import duckdb
import pytest

from cmsref import pipeline
from core import settings
from core.errors import PublishError
from extract.catalog import load_dataset
from transform.tables import ReleaseTables

PFS = load_dataset("pfs")
MUE = load_dataset("mue")


def _unreadable(path, with_store: bool = False):
    """A warehouse whose `releases` view names a table that is gone: every read of it is a CatalogException."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE gone (x INTEGER)")
    con.execute("CREATE VIEW releases AS SELECT * FROM gone")
    con.execute("DROP TABLE gone")
    if with_store:
        con.execute("CREATE SCHEMA store")
        con.execute("CREATE TABLE store.pfs_rvu (release_id VARCHAR)")
        con.execute("CREATE TABLE store.pfs_gpci (release_id VARCHAR)")
    con.close()
    return path


def test_a_warehouse_whose_releases_cannot_be_read_stops_the_build_in_one_line(tmp_path):
    db = _unreadable(tmp_path / "w.duckdb")
    with pytest.raises(PublishError) as exc:
        pipeline.previous_rows(db, [], PFS, PFS.release("2024B"))
    assert str(exc.value) == (f"pfs:2024B: cannot read the row counts of earlier releases from {db} (CatalogException: "
                              f"Catalog Error: Table with name gone does not exist!); nothing was published")


@pytest.mark.parametrize("read", [pipeline.previous_localities, pipeline.previous_work_rvus])
def test_an_earlier_table_that_cannot_be_read_stops_the_build_in_one_line(tmp_path, read):
    db = _unreadable(tmp_path / "w.duckdb", with_store=True)
    with pytest.raises(PublishError, match=r"cannot read the earlier pfs_(gpci|rvu) from .*CatalogException") as exc:
        read(db, [], PFS, PFS.release("2024B"))
    assert "\n" not in str(exc.value)


def test_a_gpci_file_in_effect_that_cannot_be_read_stops_a_zip_build_in_one_line(tmp_path):
    """The ZIP localities' check against the GPCI file in effect is not skipped with a warning either."""
    zip_spec = load_dataset("zip")
    db = _unreadable(tmp_path / "w.duckdb", with_store=True)
    with pytest.raises(PublishError, match=r"cannot read the GPCI file in effect from .*Exception") as exc:
        pipeline.gpci_in_effect(db, [], zip_spec, zip_spec.release("2025-10"))
    assert "\n" not in str(exc.value)
    assert pipeline.gpci_in_effect(tmp_path / "none.duckdb", [], zip_spec, zip_spec.release("2025-10")) == (None, None)


def test_no_warehouse_or_an_empty_one_is_no_previous_release(tmp_path):
    duckdb.connect(str(tmp_path / "empty.duckdb")).close()
    for db in (tmp_path / "none.duckdb", tmp_path / "empty.duckdb"):
        assert pipeline.previous_rows(db, [], PFS, PFS.release("2024B")) == (None, None)
        assert pipeline.previous_localities(db, [], PFS, PFS.release("2024B")) == (None, None, None)
        assert pipeline.previous_work_rvus(db, [], PFS, PFS.release("2024B")) == (None, None)


def test_the_notes_name_the_checks_not_made_for_want_of_a_previous_release():
    none = {"localities": (None, None, None), "work_rvu": (None, None)}
    assert pipeline.checks_not_made(PFS, None, none) == [
        "no earlier pfs release loaded: row-count drift, locality, work-RVU checks not made"]
    assert pipeline.checks_not_made(MUE, None, none) == [
        "no earlier mue release loaded: row-count drift check not made"]
    some = {"localities": ({("01112", "05")}, "2024A", None), "work_rvu": (None, None)}
    assert pipeline.checks_not_made(PFS, {"pfs_rvu": 1}, some) == [
        "no earlier pfs release with a pfs_rvu table loaded: work-RVU check not made"]
    full = {"localities": ({("01112", "05")}, "2024A", None), "work_rvu": ("frame", "2024A")}
    assert pipeline.checks_not_made(PFS, {"pfs_rvu": 1}, full) == []


def test_the_first_release_of_a_build_carries_the_note_and_the_next_does_not(tmp_path):
    """Through the build loop: the first PFS release has nothing to compare with (said in its notes); the second
    compares with the first, built in the same run."""
    import polars as pl

    from warehouse.publish import BuiltRelease

    cfg = settings.resolve(environ={"CMSREF_HOME": str(tmp_path)})
    notes = {}

    def validate(spec, release, files, tables, prev, prev_period, reports, previous_data):
        notes[release.period] = list(tables.notes)
        frames = {"pfs_rvu": pl.DataFrame({"hcpcs": ["37252"], "modifier": [""], "work_rvu": [1.8]}),
                  "pfs_gpci": pl.DataFrame({"mac": ["01112"], "locality": ["05"]})}
        return BuiltRelease(dataset=spec.name, period=release.period, effective_from=release.effective_from,
                            stated_effective_to=None, cms_release_date=date(2024, 1, 1), sources=[], tables=frames,
                            validation={}, notes=tables.notes)
    steps = pipeline.Steps(extract=lambda *a: [], transform=lambda *a: ReleaseTables({}), validate=validate,
                           publish=lambda *a: pipeline.PublishResult(None, [], [], "done"))
    pipeline.run(None, None, cfg, steps, chosen=[(PFS, PFS.release("2024B")), (PFS, PFS.release("2024C"))])
    assert notes == {"2024B": ["no earlier pfs release loaded: row-count drift, locality, work-RVU checks not made"],
                     "2024C": []}
