"""CMS's ZIP code to carrier locality file (ZIP5) -> the `zip_locality` table.

The layout is data (transform/layouts/zip.toml). This module writes CMS's rural indicator as words (blank urban, R
rural, B super rural) and its plus four flag (0/1) as `needs_plus_four`, refusing any other value with its file and
row; it refuses a file whose name states another quarter than the release's (ZIP5_JUL2025.txt for 2025-10: the
landing page holds only CMS's current file). The ZIP9 file (ZIP+4 ranges of the ZIP codes that span localities) is
recorded as a source when the release has it, and not read yet: such ZIP codes get no amount (warehouse/lookup.py).
"""

from __future__ import annotations

import re

import polars as pl

from core.errors import ParseError
from extract.catalog import DatasetSpec, ReleaseSpec
from extract.fetch import SourceFile
from transform.layout import load_layouts, parse_file
from transform.tables import ReleaseTables, conform

RURAL = {None: "urban", "R": "rural", "B": "super_rural"}  # ZIP5lyout.txt: Blank=urban, R=rural, B=super rural
PLUS_FOUR = {"0": False, "1": True}  # ZIP5lyout.txt: 0 = no +4 extension, 1 = +4 extension
MONTHS = {"JAN": 1, "APR": 4, "JUL": 7, "OCT": 10}
NAMED_QUARTER = re.compile(r"(?i)ZIP[59]_(JAN|APR|JUL|OCT)(\d{4})")


def quarter_in_name(member_name: str) -> tuple[int, int] | None:
    """(year, first month) of the quarter a file's name states (ZIP5_OCT2025.txt -> (2025, 10)), else None."""
    m = NAMED_QUARTER.search(member_name)
    return (int(m.group(2)), MONTHS[m.group(1).upper()]) if m else None


def _coded(frame: pl.DataFrame, column: str, codes: dict, file_name: str) -> pl.Series:
    """The column's CMS codes as the published values; a code ZIP5lyout.txt does not list names its row."""
    values = frame[column].to_list()
    bad = [i for i, v in enumerate(values) if v not in codes]
    if bad:
        known = ", ".join("blank" if c is None else repr(c) for c in codes)
        raise ParseError(f"{file_name} row {frame['source_row'][bad[0]]}, column {column}: {values[bad[0]]!r} is not "
                         f"one of {known} ({len(bad)} such row{'s' if len(bad) > 1 else ''}; see ZIP5lyout.txt)")
    return pl.Series(column, [codes[v] for v in values])


def transform_release(spec: DatasetSpec, release: ReleaseSpec, files: list[SourceFile]) -> ReleaseTables:
    zip5 = [f for f in files if f.kind == "zip5"]
    if len(zip5) != 1:
        raise ParseError(f"release {release.label}: {len(zip5) or 'no'} ZIP5 files among its sources; expected one")
    notes = []
    for src in files:
        named = quarter_in_name(src.member_name)
        if named is not None and named != (release.effective_from.year, release.effective_from.month):
            raise ParseError(f"{src.member_name}: its name states the quarter of {named[0]}-{named[1]:02d}, but the "
                             f"catalog's release {release.label} is effective {release.effective_from}; is it the "
                             f"file of another quarter (cms.gov keeps only the current one)?")
        if src.kind == "zip9":
            notes.append(f"{src.member_name} (ZIP+4 ranges of the ZIP codes that span localities) is recorded, not "
                         f"read: those ZIP codes get no amount")
    src = zip5[0]
    frame = parse_file(src.path, load_layouts(spec.layout)["zip5"], release.year).frame
    frame = frame.with_columns(_coded(frame, "rural_indicator", RURAL, src.member_name),
                               _coded(frame, "needs_plus_four", PLUS_FOUR, src.member_name))
    return ReleaseTables(tables={"zip_locality": conform(frame, "zip_locality", src.sha256)}, notes=notes)
