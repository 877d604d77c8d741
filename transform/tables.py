"""Shape a parsed frame into its published table: the schema's columns in order, plus lineage."""

from __future__ import annotations

import polars as pl

from warehouse.schema import TABLES


def conform(frame: pl.DataFrame, table: str, source_sha256: str) -> pl.DataFrame:
    """The table's columns in schema order (a column a year's file lacks, e.g. PRIC IND before 2026, is NULL),
    then source_row, and the source file's SHA-256 on every row."""
    columns = TABLES[table].columns
    missing = [pl.lit(None, dtype=pl.String).alias(c.name) for c in columns if c.name not in frame.columns]
    return frame.with_columns(*missing, pl.lit(source_sha256).alias("source_sha256")).select(
        *[c.name for c in columns], "source_row", "source_sha256")
