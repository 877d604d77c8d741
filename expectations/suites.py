"""Run the expectation suite of every table of a release; the registry of suites by table."""

from __future__ import annotations

from datetime import date

import polars as pl

from expectations import (addon_code_edit, asc_addendum_aa, asc_addendum_bb, asc_device_offset, asc_excluded, conversion_factor, mue,
                          opps_addendum_a, opps_addendum_b, pfs_anesthesia_cf, pfs_gpci, pfs_locality, pfs_opps_cap, pfs_rvu,
                          status_indicator, vendor_guide_check, vendor_guide_row, zip_locality)
from expectations import consistency, cross_file
from expectations.common import SuiteContext
from expectations.runner import SuiteResult, run_suite
from core.tables import LINEAGE, TABLES

SUITES = {
    "pfs_rvu": pfs_rvu.suite,
    "pfs_gpci": pfs_gpci.suite,
    "pfs_locality": pfs_locality.suite,
    "pfs_anesthesia_cf": pfs_anesthesia_cf.suite,
    "pfs_opps_cap": pfs_opps_cap.suite,
    "conversion_factor": conversion_factor.suite,
    "mue": mue.suite,
    "addon_code_edit": addon_code_edit.suite,
    "opps_addendum_a": opps_addendum_a.suite,
    "opps_addendum_b": opps_addendum_b.suite,
    "asc_addendum_aa": asc_addendum_aa.suite,
    "asc_addendum_bb": asc_addendum_bb.suite,
    "asc_excluded": asc_excluded.suite,
    "asc_device_offset": asc_device_offset.suite,
    "status_indicator": status_indicator.suite,
    "vendor_guide_row": vendor_guide_row.suite,
    "vendor_guide_check": vendor_guide_check.suite,
    "zip_locality": zip_locality.suite,
}
LINEAGE_COLUMNS = tuple(c.name for c in LINEAGE)  # source_sha256, source_row: not validated as values


def validate_tables(tables: dict[str, pl.DataFrame], *, dataset: str, period: str, effective_from: date,
                    previous_rows: dict[str, int] | None = None, previous_period: str | None = None,
                    previous_data: dict | None = None) -> list[SuiteResult]:
    """Validate every table; return all results (the caller decides to stop on failures)."""
    results = []
    definitions = {}
    if "status_indicator" in tables:
        for setting, codes in tables["status_indicator"].group_by("setting").agg(pl.col("code")).rows():
            definitions[setting] = sorted(codes)
    for name, frame in sorted(tables.items()):
        if name not in SUITES:
            raise KeyError(f"no expectation suite for table {name!r}: every published table needs one")
        data = frame.drop([c for c in LINEAGE_COLUMNS if c in frame.columns])
        if name == "conversion_factor":
            data = conversion_factor.with_curated(data.drop("source_field"), effective_from)
        if name == "addon_code_edit":
            data = addon_code_edit.with_derived(data)
        if name == "vendor_guide_row":
            data = vendor_guide_row.with_derived(data)
        if name == "pfs_rvu":
            data = pfs_rvu.with_derived(data)
        if name in ("asc_addendum_aa", "asc_addendum_bb"):
            data = asc_addendum_aa.with_derived(data, effective_from)
        if name == "opps_addendum_b":
            data = opps_addendum_b.with_derived(data, effective_from)
        partition = TABLES[name].partition
        parts = ([(name, data)] if partition is None else
                 [(f"{name}[{value}]", part) for (value,), part in data.partition_by(partition, as_dict=True).items()])
        for label, part in sorted(parts, key=lambda p: p[0]):
            ctx = SuiteContext(dataset, period, effective_from.year, (previous_rows or {}).get(label), previous_period,
                               definitions)
            checks, warnings = SUITES[name](part, ctx)
            results.append(run_suite(part, label, checks, release=f"{dataset}:{period}", warnings=warnings))
    for label, frame, checks in (consistency.release_checks(tables, previous_data)
                                 + cross_file.release_checks(tables)
                                 + zip_locality.release_checks(tables, previous_data)):
        results.append(run_suite(frame, label, checks, release=f"{dataset}:{period}"))
    return results
