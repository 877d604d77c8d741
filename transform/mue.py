"""NCCI MUE tables -> the `mue` table (practitioner, outpatient hospital and DME supplier services).

The layout is data (transform/layouts/mue.toml). This module checks the effective date printed in each file
name against the catalog, and splits the adjudication indicator ("2 Date of Service Edit: Policy") into its
number and label.
"""

from __future__ import annotations

import re
from datetime import date

import polars as pl

from core.errors import ParseError
from extract.catalog import DatasetSpec, ReleaseSpec
from extract.fetch import SourceFile
from transform.layout import load_layouts, parse_file
from transform.tables import ReleaseTables
from transform.tables import conform

# MUE adjudication indicators (MAI) and their labels as CMS prints them
MAI_LABELS = {1: "Line Edit", 2: "Date of Service Edit: Policy", 3: "Date of Service Edit: Clinical"}


def effective_date_in_name(spec: DatasetSpec, member_name: str) -> date | None:
    m = re.search(spec.effective_date_in_name, member_name) if spec.effective_date_in_name else None
    if not m:
        return None
    month, day, year = (int(g) for g in m.groups())
    return date(year, month, day)


def transform_release(spec: DatasetSpec, release: ReleaseSpec, files: list[SourceFile]) -> ReleaseTables:
    if not files:
        raise ParseError(f"release {release.label}: no MUE table among its files")
    layout = load_layouts(spec.layout)["mue"]
    frames = []
    for src in files:
        stated = effective_date_in_name(spec, src.member_name)
        if stated is not None and stated != release.effective_from:
            raise ParseError(
                f"{src.member_name}: its name says effective {stated}, but the catalog's release {release.label} "
                f"is effective {release.effective_from}; is it the file of another quarter?"
            )
        frame = parse_file(src.path, layout, release.year).frame
        mai = frame["adjudication_indicator"].str.extract(r"^\s*(\d)\b", 1)
        bad = frame.filter(mai.is_null() | ~mai.cast(pl.Int64, strict=False).is_in(list(MAI_LABELS)))
        if bad.height:
            row = bad.row(0, named=True)
            raise ParseError(
                f"{src.member_name} row {row['source_row']}: adjudication indicator {row['adjudication_indicator']!r} "
                f"is not one of {sorted(MAI_LABELS)} ({bad.height} such rows)"
            )
        frame = frame.with_columns(
            pl.lit(src.kind).alias("service_type"),
            mai.cast(pl.Int64).alias("mai"),
            frame["adjudication_indicator"].str.replace(r"^\s*\d\s*", "").str.strip_chars().alias("mai_label"),
        )
        frames.append(conform(frame, "mue", src.sha256))
    return ReleaseTables(tables={"mue": pl.concat(frames)})
