"""The per-table suites fail on what they are meant to catch (small frames built in code)."""

from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from cmsref.errors import ValidationError
from expectations.suites import validate_tables
from warehouse.schema import TABLES


def cf_frame(value: str, kind="physician", variant="all"):
    return pl.DataFrame({"kind": [kind], "variant": [variant], "conversion_factor": [Decimal(value)],
                         "source_field": ["CONV FACTOR column"], "source_sha256": ["x"], "source_row": [11]})


def gpci_frame(n=109, mp="0.575"):
    return pl.DataFrame({
        "mac": [f"{10000 + i:05d}" for i in range(n)], "state": ["AL"] * n, "locality": ["00"] * n,
        "locality_name": ["ALABAMA"] * n, "work_gpci": [Decimal("1.000")] * n, "pe_gpci": [Decimal("0.869")] * n,
        "mp_gpci": [Decimal(mp)] * n, "source_sha256": ["x"] * n, "source_row": list(range(4, 4 + n)),
    }).select(*[c.name for c in TABLES["pfs_gpci"].columns], "source_sha256", "source_row")


def check(tables, eff=date(2024, 4, 1), previous=None):
    return {r.table: r for r in validate_tables(tables, dataset="pfs", period="2024B", effective_from=eff,
                                                previous_rows=previous, previous_period="2024A")}


def test_conversion_factor_matches_the_curated_table():
    assert check({"conversion_factor": cf_frame("33.2875")})["conversion_factor"].success
    # 32.7442 applied until 2024-03-08 only: for an April release it is a mismatch
    bad = check({"conversion_factor": cf_frame("32.7442")})["conversion_factor"]
    assert not bad.success
    with pytest.raises(ValidationError, match="expect_column_pair_values_to_be_equal"):
        bad.raise_for_failures()


def test_a_cf_with_no_curated_entry_is_a_warning_not_a_failure():
    r = check({"conversion_factor": cf_frame("40.0000")}, eff=date(2019, 1, 1))["conversion_factor"]
    assert r.success and r.warnings()


def test_gpci_out_of_range_and_row_count_drift():
    assert check({"pfs_gpci": gpci_frame()})["pfs_gpci"].success
    r = check({"pfs_gpci": gpci_frame(mp="7.000")})["pfs_gpci"]
    assert [o.column for o in r.failures()] == ["mp_gpci"]
    r = check({"pfs_gpci": gpci_frame(n=109)}, previous={"pfs_gpci": 80})["pfs_gpci"]  # 36% more than last time
    assert [o.expectation for o in r.failures()] == ["expect_table_row_count_to_be_between"]


def test_every_published_table_has_a_suite():
    from expectations.suites import SUITES

    assert set(SUITES) == set(TABLES)
