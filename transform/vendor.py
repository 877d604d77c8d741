"""A vendor coding guide (PDF) -> vendor_guide_row (its figures) and vendor_guide_check (each figure compared with
the warehouse's CMS data of the guide's year, as published when the guide is built).

Extraction is transform/vendor_guide.py; the comparison with the warehouse is expectations/reconcile.py, which the
pipeline hands in as `check` (a transform reads files; it does not open the warehouse itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

import polars as pl

from extract.catalog import DatasetSpec, ReleaseSpec
from extract.fetch import SourceFile
from transform.tables import ReleaseTables
from transform.tables import conform
from transform.vendor_guide import extract_guide


def transform_release(spec: DatasetSpec, release: ReleaseSpec, files: list[SourceFile], check: Callable) -> ReleaseTables:
    """`check(extract, year, guide_sha256)` returns the guide's checks against the published CMS data."""
    (src,) = files
    extract = extract_guide(src.path, year=release.year)
    rows = [{"guide": src.member_name, "guide_year": extract.year, "guide_conversion_factor": extract.conversion_factor,
             "page": f.page, "hcpcs": f.hcpcs, "add_on": f.add_on, "field": f.field, "value": f.value, "raw": f.raw,
             "source_row": f.page} for f in extract.figures]
    figures = pl.DataFrame(rows, schema_overrides={"guide_conversion_factor": pl.String}).unique(
        subset=["hcpcs", "field", "page", "value"], keep="first", maintain_order=True)
    checks = check(extract, release.year, src.sha256)
    check_rows = [{**{k: v for k, v in asdict(c).items() if k != "guide_sha256"}, "source_row": c.page} for c in checks]
    checks_frame = pl.DataFrame(check_rows, infer_schema_length=None).unique(
        subset=["hcpcs", "field", "page", "guide_value"], keep="first", maintain_order=True)
    return ReleaseTables(tables={"vendor_guide_row": conform(figures, "vendor_guide_row", src.sha256),
                                 "vendor_guide_check": conform(checks_frame, "vendor_guide_check", src.sha256)})
