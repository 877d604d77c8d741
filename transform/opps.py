"""OPPS Addendum B (xlsx or Section 508 csv) -> one row per HCPCS code.

The layout (header found by name, money cleaning, the yearly note header) is data in
transform/layouts/opps.toml; both formats parse to the same table. Every row keeps `source_row`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from transform.layout import load_layouts, parse_file

LAYOUT_FAMILY = "opps"


def parse_addendum_b(path: Path, year: int) -> pl.DataFrame:
    return parse_file(Path(path), load_layouts(LAYOUT_FAMILY)["addendum_b"], year).frame
