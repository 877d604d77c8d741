"""Shape a parsed frame into its published table: the schema's columns in order, plus lineage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import polars as pl

from core.errors import ParseError

from core.tables import TABLES


@dataclass
class ReleaseTables:
    """What a dataset's transform returns: its tables, and what the files told us along the way."""

    tables: dict[str, pl.DataFrame]
    cms_release_date: date | None = None
    notes: list[str] = field(default_factory=list)


def conform(frame: pl.DataFrame, table: str, source_sha256: str | None) -> pl.DataFrame:
    """The table's columns in registry order and types (core.tables; a column a year's file lacks, e.g. PRIC IND
    before 2026, is NULL), then source_row, and the source file's SHA-256 on every row. A value that does not fit
    its column's type is refused with its row, never published as NULL or cut."""
    columns = TABLES[table].columns
    missing = [pl.lit(None, dtype=c.polars_type).alias(c.name) for c in columns if c.name not in frame.columns]
    if source_sha256 is not None:
        missing.append(pl.lit(source_sha256).alias("source_sha256"))
    frame = frame.with_columns(*missing)
    typed = []
    for c in columns:
        if frame.schema[c.name] == c.polars_type:
            typed.append(pl.col(c.name))
            continue
        cast = frame.select(pl.col(c.name).cast(c.polars_type, strict=False))[c.name]
        lost = frame.filter(cast.is_null() & frame[c.name].is_not_null())
        if lost.height:
            row = lost.row(0, named=True)
            raise ParseError(f"{table}: row {row.get('source_row')}, column {c.name}: {row[c.name]!r} does not fit "
                             f"{c.type} ({lost.height} such row{'s' if lost.height > 1 else ''})")
        typed.append(pl.col(c.name).cast(c.polars_type, strict=False))
    return frame.select(*typed, "source_row", "source_sha256")


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
