"""Shape a parsed frame into its published table: the schema's columns in order, plus lineage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import polars as pl

from warehouse.schema import TABLES


@dataclass
class ReleaseTables:
    """What a dataset's transform returns: its tables, and what the files told us along the way."""

    tables: dict[str, pl.DataFrame]
    cms_release_date: date | None = None
    notes: list[str] = field(default_factory=list)


def conform(frame: pl.DataFrame, table: str, source_sha256: str) -> pl.DataFrame:
    """The table's columns in schema order (a column a year's file lacks, e.g. PRIC IND before 2026, is NULL),
    then source_row, and the source file's SHA-256 on every row."""
    columns = TABLES[table].columns
    missing = [pl.lit(None, dtype=pl.String).alias(c.name) for c in columns if c.name not in frame.columns]
    return frame.with_columns(*missing, pl.lit(source_sha256).alias("source_sha256")).select(
        *[c.name for c in columns], "source_row", "source_sha256")


REFERENCE_KINDS = {"status_definitions"}  # kinds of the project's curated files (extract.fetch.reference_files)


def split_reference(files: list) -> tuple[list, dict]:
    """(the CMS files, {kind: curated reference file})."""
    return ([f for f in files if f.kind not in REFERENCE_KINDS],
            {f.kind: f for f in files if f.kind in REFERENCE_KINDS})


def curated_definitions(src, setting: str) -> pl.DataFrame:
    """A curated definitions file (code, definition, citation) as status_indicator rows of one setting."""
    frame = pl.read_csv(src.path, infer_schema=False).with_row_index("source_row", offset=2)
    frame = frame.with_columns(pl.col("source_row").cast(pl.Int64), pl.lit(setting).alias("setting"))
    return conform(frame, "status_indicator", src.sha256)
