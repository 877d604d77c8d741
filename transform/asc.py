"""ASC payment addenda workbook -> tables: asc_addendum_aa, asc_addendum_bb, asc_pi_definitions,
asc_comment_indicators, asc_excluded.

One workbook a quarter holds one sheet per addendum; the sheet layouts (which sheet, where its header is,
which header feeds which column) are data in transform/layouts/asc.toml, the same for every quarter.
Every row keeps `source_row`, its row in its sheet.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from transform.layout import Parsed, load_layouts, parse_file
from transform.tables import ReleaseTables, conform

LAYOUT_FAMILY = "asc"
TABLES = {  # table -> layout kind (one sheet each)
    "asc_addendum_aa": "aa",
    "asc_addendum_bb": "bb",
    "asc_pi_definitions": "dd1",
    "asc_comment_indicators": "dd2",
    "asc_excluded": "ee",
}


def parse_asc_sheets(path: Path, year: int) -> dict[str, Parsed]:
    """Every addendum of the workbook, with the engine's notes (e.g. weights rounded to their shown decimals)."""
    layouts = load_layouts(LAYOUT_FAMILY)
    return {table: parse_file(Path(path), layouts[kind], year) for table, kind in TABLES.items()}


def parse_asc_workbook(path: Path, year: int) -> dict[str, pl.DataFrame]:
    return {table: parsed.frame for table, parsed in parse_asc_sheets(path, year).items()}


def transform_release(spec, release, files):
    """The workbook's addenda as published tables; DD1 and DD2 become status_indicator rows (asc_pi, asc_ci)."""

    (src,) = files  # `required = ["workbook"]`: one workbook per release
    sheets = parse_asc_sheets(src.path, release.year)
    tables, notes = {}, []
    for table in ("asc_addendum_aa", "asc_addendum_bb", "asc_excluded"):
        tables[table] = conform(sheets[table].frame, table, src.sha256)
    definitions = [sheets[t].frame.with_columns(pl.lit(setting).alias("setting"))
                   for t, setting in (("asc_pi_definitions", "asc_pi"), ("asc_comment_indicators", "asc_ci"))]
    tables["status_indicator"] = conform(pl.concat(definitions), "status_indicator", src.sha256)
    for parsed in sheets.values():
        notes += parsed.notes
    return ReleaseTables(tables=tables, notes=notes)
