"""ASC payment addenda -> tables: asc_addendum_aa, asc_addendum_bb, asc_excluded, asc_device_offset, and the
payment / comment indicator definitions (DD1, DD2) as status_indicator rows.

CMS posts a quarter either as one workbook (one sheet per addendum) or as one file per addendum (.csv or .txt).
The layouts (which sheet, which title, where the header is, which header feeds which column) are data in
transform/layouts/asc.toml, the same for every quarter. A per-addendum file is read with the layout its title
names (`Addendum FF -- ...`), whatever its file name says. Every row keeps `source_row`, its row in its sheet/file.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from core.errors import ParseError
from transform.layout import Parsed, identify, load_layouts, parse_file
from transform.tables import ReleaseTables, conform, curated_definitions, split_reference

LAYOUT_FAMILY = "asc"  # the layout file of this source family (the catalog's `layout`; helpers default to it)
ADDENDA = ("aa", "bb", "dd1", "dd2", "ee", "ff")  # layout kinds, one per addendum
PUBLISHED = {"aa": "asc_addendum_aa", "bb": "asc_addendum_bb", "ee": "asc_excluded", "ff": "asc_device_offset"}
DEFINITIONS = {"dd1": "asc_pi", "dd2": "asc_ci"}  # addendum -> status_indicator setting
WORKBOOK_SHEETS = ("aa", "bb", "dd1", "dd2", "ee")  # the sheets every workbook has (FF is read when present)


def parse_workbook(path: Path, year: int, family: str = LAYOUT_FAMILY) -> dict[str, Parsed]:
    """Every addendum sheet of a quarter's workbook, by layout kind."""
    layouts = load_layouts(family)
    return {kind: parse_file(Path(path), layouts[kind], year) for kind in WORKBOOK_SHEETS}


def parse_addendum_file(path: Path, year: int, named_kind: str | None = None, family: str = LAYOUT_FAMILY
                        ) -> tuple[str, Parsed, list[str]]:
    """One per-addendum csv/txt: (the addendum its title names, the parsed file, notes)."""
    layouts = load_layouts(family)
    kind = identify(Path(path), {k: layouts[k] for k in ADDENDA})
    notes = []
    if kind is None:
        raise ParseError(f"{Path(path).name}: no 'Addendum AA/BB/DD1/DD2/EE/FF' title in its first rows; add the "
                         f"title to the matching `title` rule in transform/layouts/asc.toml")
    if named_kind and named_kind != kind:
        notes.append(f"{Path(path).name}: its name says Addendum {named_kind.upper()} but its title says Addendum "
                     f"{kind.upper()}; read as {kind.upper()}")
    return kind, parse_file(Path(path), layouts[kind], year), notes


def transform_release(spec, release, files):
    """The quarter's addenda as published tables; DD1/DD2 become status_indicator rows (asc_pi, asc_ci). A release
    without DD1 (CMS's per-addendum files leave it out) takes the curated payment indicator definitions."""
    files, reference = split_reference(files)
    per_file = [f for f in files if f.kind in ADDENDA]
    workbooks = [f for f in files if f.kind == "workbook"]
    parsed: dict[str, tuple] = {}  # addendum -> (source, Parsed)
    notes: list[str] = []
    if per_file:
        for src in per_file:
            kind, p, file_notes = parse_addendum_file(src.path, release.year, src.kind, spec.layout)
            notes += file_notes
            if kind in parsed:
                raise ParseError(f"release {release.label}: {parsed[kind][0].member_name} and {src.member_name} both "
                                 f"hold Addendum {kind.upper()}")
            parsed[kind] = (src, p)
        notes += [f"{w.member_name}: not read; the release's per-addendum files were" for w in workbooks]
    elif workbooks:
        (src,) = workbooks
        parsed = {kind: (src, p) for kind, p in parse_workbook(src.path, release.year, spec.layout).items()}
    for kind in ("aa", "bb", "ee"):
        if kind not in parsed:
            raise ParseError(f"release {release.label}: no Addendum {kind.upper()} among its files "
                             f"({', '.join(f.member_name for f in files) or 'none'})")
    tables = {PUBLISHED[k]: conform(p.frame, PUBLISHED[k], src.sha256) for k, (src, p) in parsed.items()
              if k in PUBLISHED}
    definitions = [conform(p.frame.with_columns(pl.lit(DEFINITIONS[k]).alias("setting")), "status_indicator",
                           src.sha256) for k, (src, p) in parsed.items() if k in DEFINITIONS]
    if "dd1" not in parsed and "status_definitions" in reference:
        definitions.append(curated_definitions(reference["status_definitions"], "asc_pi"))
    tables["status_indicator"] = pl.concat(definitions)
    for _, p in parsed.values():
        notes += p.notes
    notes += zero_weight_notes(tables)
    return ReleaseTables(tables=tables, notes=notes)


def zero_weight_notes(tables: dict[str, pl.DataFrame]) -> list[str]:
    """A release note per addendum whose rows state a payment weight of 0 and a rate: CMS's own exception to rate =
    weight x ASC CF (2024-01 BB: 17 H2 codes; other quarters leave their weight blank). Those rows are not checked
    against the CF (expectations/rates.py); the note lists them."""
    notes = []
    for table in ("asc_addendum_aa", "asc_addendum_bb"):
        if table not in tables:
            continue
        rows = tables[table].filter((pl.col("payment_weight") == 0) & pl.col("payment_rate").is_not_null())
        if rows.height:
            shown = ", ".join(f"{h} {r}" for h, r in rows.select("hcpcs", "payment_rate").head(20).rows())
            notes.append(f"{table}: {rows.height} row{'s' if rows.height > 1 else ''} state a payment weight of 0 "
                         f"and a payment rate (CMS's own; not weight x the ASC conversion factor, so not checked "
                         f"against it): {shown}{', ...' if rows.height > 20 else ''}")
    return notes
