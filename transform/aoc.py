"""NCCI add-on code edit file -> the `addon_code_edit` table.

The layout is data (transform/layouts/aoc.toml); this module normalises the edit type (1/2/3 or I/II/III)
and reads the dates: Julian yyyyddd in the real file (2025365 = 2025-12-31), and the other forms CMS has printed.
A date that is none of these is refused with its file, row, column and value.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from core.errors import ParseError
from extract.catalog import DatasetSpec, ReleaseSpec
from extract.fetch import SourceFile
from transform.layout import load_layouts, parse_file
from transform.tables import ReleaseTables
from transform.tables import conform

EDIT_TYPES = {"1": 1, "2": 2, "3": 3, "I": 1, "II": 2, "III": 3}
NO_DATE = {"", "*", "0", "0000000", "00000000", "99999999", "9999999"}  # printed where there is no date
DATE_COLUMNS = {"edit_effective": "edit_effective_date", "edit_deletion": "edit_deletion_date",
                "addon_deletion": "addon_deletion_date", "primary_deletion": "primary_deletion_date"}


def read_date(text: str | None) -> date | None:
    """YYYYDDD (Julian), YYYYMMDD, MM/DD/YYYY or ISO (an xlsx date cell read as text); None for no date."""
    value = (text or "").strip()
    if value in NO_DATE:
        return None
    for fmt in ("%Y%j", "%Y%m%d", "%m/%d/%Y", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S"):
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if fmt != "%Y%j":
            return parsed.date()
        if len(value) == 7 and parsed.year == int(value[:4]):  # strptime reads day 366 of 2018 as 2019-01-01
            return parsed.date()
    raise ValueError(value)


def transform_release(spec: DatasetSpec, release: ReleaseSpec, files: list[SourceFile]) -> ReleaseTables:
    (src,) = files  # `required = ["aoc"]`: exactly one file per release
    frame = parse_file(src.path, load_layouts(spec.layout)["aoc"], release.year).frame
    types = frame["edit_type"].str.strip_chars().str.to_uppercase().str.replace(r"^TYPE\s*", "")
    bad = frame.filter(~types.is_in(list(EDIT_TYPES)) | types.is_null())
    if bad.height:
        row = bad.row(0, named=True)
        raise ParseError(f"{src.member_name} row {row['source_row']}: edit type {row['edit_type']!r} is not one of "
                         f"1, 2, 3 (I, II, III)")
    dates = {}
    for raw, name in DATE_COLUMNS.items():
        values = []
        for value, row in zip(frame[raw].to_list(), frame["source_row"].to_list()):
            try:
                values.append(read_date(value))
            except ValueError:
                raise ParseError(f"{src.member_name} row {row}, column {raw}: {value!r} is not a date") from None
        dates[name] = pl.Series(name, values, dtype=pl.Date)
    frame = frame.with_columns(types.replace_strict(EDIT_TYPES, return_dtype=pl.Int64).alias("edit_type"),
                               *dates.values())
    return ReleaseTables(tables={"addon_code_edit": conform(frame, "addon_code_edit", src.sha256)})
