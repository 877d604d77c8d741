"""Run the expectation suite of every table of a release; the registry of suites by table."""

from __future__ import annotations

from datetime import date

import polars as pl

from expectations import (conversion_factor, pfs_anesthesia_cf, pfs_gpci, pfs_locality, pfs_opps_cap, pfs_rvu)
from expectations.common import SuiteContext
from expectations.runner import SuiteResult, run_suite

SUITES = {
    "pfs_rvu": pfs_rvu.suite,
    "pfs_gpci": pfs_gpci.suite,
    "pfs_locality": pfs_locality.suite,
    "pfs_anesthesia_cf": pfs_anesthesia_cf.suite,
    "pfs_opps_cap": pfs_opps_cap.suite,
    "conversion_factor": conversion_factor.suite,
}
LINEAGE = ("source_sha256", "source_row")


def validate_tables(tables: dict[str, pl.DataFrame], *, dataset: str, period: str, effective_from: date,
                    previous_rows: dict[str, int] | None = None, previous_period: str | None = None
                    ) -> list[SuiteResult]:
    """Validate every table; return all results (the caller decides to stop on failures)."""
    results = []
    for name, frame in sorted(tables.items()):
        if name not in SUITES:
            raise KeyError(f"no expectation suite for table {name!r}: every published table needs one")
        ctx = SuiteContext(dataset, period, effective_from.year, (previous_rows or {}).get(name), previous_period)
        data = frame.drop([c for c in LINEAGE if c in frame.columns])
        if name == "conversion_factor":
            data = conversion_factor.with_curated(data.drop("source_field"), effective_from)
        checks, warnings = SUITES[name](data, ctx)
        results.append(run_suite(data, name, checks, release=f"{dataset}:{period}", warnings=warnings))
    return results
