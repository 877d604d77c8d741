"""Applying a layout (transform/layouts/*.toml) to a CMS file read as a grid (transform/grids.py).

A file is first turned into a *grid* of text cells with the 1-based source row of each record (grids.py), then
the layout decides where the header is, which grid column feeds which table column, where the data starts
and ends, and how each value is cleaned and typed. Nothing here knows about a particular CMS year: layout
drift is described in the TOML files, so a new CMS year is a data change.

Every parsed row keeps `source_row`, so each published number can be traced to its file and row.

Layout keys (the PFS ones are described at the top of layouts/pfs.toml); added for OPPS and ASC:
  [kind.delimited] sheet   regex (re.search) naming the one xlsx sheet to read; without it, the first sheet
  [[kind.columns]] optional      the header may be absent: the column is then NULL in every row
                   after         the column right after the one named here (by position, for a column CMS
                                 leaves without a header); `header` then defaults to '' (blank header)
                   remove_chars  characters removed anywhere in the value ('$,' for money such as $1,234.56)
                   null_values   cell values that mean NULL ('.' is CMS's placeholder for "no amount")
                   upper         indicator codes are upper case: a lower-case one (CMS's 2026 BB has 'k5') is
                                 upper-cased and its rows are listed in the parse notes
                   round         decimals beyond `scale` are rounded half-up instead of refused; the rows
                                 are listed in the parse notes (workbooks that store full-precision floats
                                 but display `scale` decimals)
  [kind] ignore          regexes of header texts that are read past on purpose (not published); every other
                         non-blank header must be a column of the layout, or the file is refused with a message
                         naming the header and the layout entry to add (a new CMS column is never dropped silently)
  [kind] title           regex (re.search, case-insensitive, whitespace collapsed) on the title rows above the
                         header that says which kind of file this is (`ADDENDUM DD2\b`): a file is read with the
                         layout its title names, whatever its file name says (see `identify`)

A layout and its table (core/tables.py) agree column for column, or `load_layouts` refuses the layout:
  [[kind.columns]] published     false: the column is read for the transform (a check, a column derived from it:
                                 MUE's adjudication indicator, ANES's locality name) and is not a column of the
                                 table; every other column of the layout must be a column of the table
  [kind] filled_by_transform     columns of the table that transform/<family>.py fills in code (MUE's service_type,
                         mai, mai_label); every column of the table is a column of the layout or named here
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

import polars as pl

from core.errors import CatalogError, ParseError
from core.fields import FIELDS
from transform.grids import EOF_MARKER, FORMATS, file_format, open_workbook, pick_sheet, read_grid, read_lines

LAYOUT_DIR = Path(__file__).parent / "layouts"


@dataclass(frozen=True)
class Column:
    name: str
    header: str
    type: str  # code | text | decimal | int
    scale: int | None = None
    pad: int | None = None
    since: int | None = None
    fill_down: bool = False
    strip_chars: str = ""
    txt: tuple[int, int] | None = None
    txt_implied_decimals: int = 0
    header_value: str | None = None
    optional: bool = False
    after: str | None = None
    remove_chars: str = ""
    null_values: tuple[str, ...] = ()
    round: bool = False
    upper: bool = False
    published: bool = True  # False: read for the transform (a check, a derived column), not a column of the table

    def exists_in(self, year: int) -> bool:
        return self.since is None or year >= self.since


@dataclass(frozen=True)
class FormatDifference:
    """A known difference between CMS's copies of one file in different formats (`[[kind.format_differences]]`):
    where the copies disagree in `column`, the copy in `format` may hold, instead of the other copies' value, that
    value cut to `cut` characters (trailing blanks dropped), or the value paired with it in `pairs` (other copies'
    value, this format's value). Anything else that disagrees is refused (transform/formats.py)."""

    format: str
    column: str
    why: str
    seen_in: tuple[str, ...]
    cut: int | None = None
    pairs: tuple[tuple[str, str], ...] = ()

    def allows(self, other: str | None, mine: str | None) -> bool:
        if other is None or mine is None:
            return False
        if self.cut is not None and len(other) > self.cut and other[:self.cut].rstrip() == mine:
            return True
        return (other, mine) in self.pairs

    @property
    def rule(self) -> str:
        return f"cut to {self.cut} characters" if self.cut is not None else "with the other value paired in the layout"


@dataclass(frozen=True)
class FileLayout:
    kind: str
    table: str
    key: tuple[str, ...]
    data_key: str
    key_pattern: str
    columns: tuple[Column, ...]
    anchor: str | None = None
    anchor_column: int = 0
    header_rows: int = 1
    txt_years: tuple[int, int] | None = None
    preamble: dict[str, str] = field(default_factory=dict)
    drop_exact_duplicates: bool = False
    sheet: str | None = None
    ignore: tuple[str, ...] = ()
    title: str | None = None
    family: str = ""
    format_differences: tuple[FormatDifference, ...] = ()
    filled_by_transform: tuple[str, ...] = ()  # columns of the table that transform/<family>.py fills, not the file

    def columns_for(self, year: int) -> list[Column]:
        return [c for c in self.columns if c.exists_in(year)]


@dataclass
class Parsed:
    """A parsed file: the typed rows, plus values read from its preamble or header cells."""

    frame: pl.DataFrame
    values: dict[str, str]
    notes: list[str] = field(default_factory=list)


@cache
def load_layouts(family: str) -> dict[str, FileLayout]:
    """Load transform/layouts/<family>.toml into FileLayout objects, one per file kind."""
    path = LAYOUT_DIR / f"{family}.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"no layout file for source family {family!r} ({path})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"layout file {path} is not valid TOML: {exc}") from None
    from core.tables import TABLES  # the table registry: the one source of published types and keys

    layouts = {}
    for kind, spec in raw.items():
        registry = TABLES.get(spec.get("table"))
        if registry is None:
            raise CatalogError(f"layout {kind!r} in {path}: table {spec.get('table')!r} is not a published table "
                               f"(core/tables.py)")
        for c in spec.get("columns", []):
            published = registry.column(c.get("name"))
            if published is not None and published.scale is not None and "scale" in c:
                raise CatalogError(f"layout {kind!r} in {path}: column {c['name']!r} takes its decimals from "
                                   f"core/tables.py ({published.type}); remove its `scale`")
            if not isinstance(c.get("published", True), bool):
                raise CatalogError(f"layout {kind!r} in {path}: column {c.get('name')!r}: `published` is true or "
                                   f"false")
        for c in spec.get("columns", []):
            if isinstance(c, dict) and "pad" in c:
                raise CatalogError(f"layout {kind!r} in {path}: column {c.get('name')!r}: the width zeros are restored "
                                   f"to is its field's (`pad` in core/fields.py); remove its `pad`")
        filled = spec.get("filled_by_transform", [])
        if not isinstance(filled, list) or not all(isinstance(n, str) for n in filled):
            raise CatalogError(f"layout {kind!r} in {path}: `filled_by_transform` is a list of column names")
        try:
            columns = tuple(
                Column(
                    name=c["name"], header=c["header"] if "after" not in c else c.get("header", ""),
                    type=c["type"],
                    scale=c.get("scale", registry.column(c["name"]).scale if registry.column(c["name"]) else None),
                    pad=FIELDS[c["name"]].pad if c["name"] in FIELDS else None, since=c.get("since"),
                    fill_down=c.get("fill_down", False),
                    strip_chars=c.get("strip_chars", ""),
                    txt=tuple(c["txt"]) if "txt" in c else None,
                    txt_implied_decimals=c.get("txt_implied_decimals", 0),
                    header_value=c.get("header_value"),
                    optional=c.get("optional", False), after=c.get("after"),
                    remove_chars=c.get("remove_chars", ""), null_values=tuple(c.get("null_values", ())),
                    round=c.get("round", False), upper=c.get("upper", False),
                    published=c.get("published", True),
                )
                for c in spec["columns"]
            )
            delimited = spec.get("delimited", {})
            fixed = spec.get("fixed_width", {})
            layouts[kind] = FileLayout(
                kind=kind, table=spec["table"], key=tuple(c.name for c in columns if c.name in registry.key),
                data_key=spec["data_key"],
                key_pattern=_key_pattern(path, kind, spec, registry, columns), columns=columns,
                anchor=delimited.get("anchor"), anchor_column=delimited.get("anchor_column", 0),
                header_rows=delimited.get("header_rows", 1),
                txt_years=tuple(fixed["years"]) if "years" in fixed else None,
                preamble=spec.get("preamble", {}),
                drop_exact_duplicates=spec.get("drop_exact_duplicates", False),
                sheet=delimited.get("sheet"), ignore=tuple(spec.get("ignore", ())), title=spec.get("title"),
                family=family, format_differences=_format_differences(path, kind, spec, columns),
                filled_by_transform=tuple(spec.get("filled_by_transform", ())),
            )
        except (KeyError, TypeError) as exc:
            raise CatalogError(f"layout {kind!r} in {path} is incomplete: missing {exc}") from None
        bad = [c.name for c in columns if c.type not in ("code", "text", "decimal", "int")]
        if bad or any(c.type == "decimal" and c.scale is None for c in columns):
            raise CatalogError(f"layout {kind!r} in {path}: bad type or missing scale for {bad or 'a decimal'}")
        names = [c.name for c in columns]
        bad_after = [c.name for c in columns if c.after and (c.after not in names or c.after == c.name)]
        if bad_after:
            raise CatalogError(f"layout {kind!r} in {path}: `after` names no other column for {bad_after}")
        _check_table_columns(path, layouts[kind], registry)
    return layouts


def _check_table_columns(path: Path, layout: FileLayout, registry) -> None:
    """Every column of the layout is a column of its table or declared `published = false`, and every column of the
    table is filled by the layout or named in `filled_by_transform`: a column is never dropped or NULL silently."""
    where = f"layout {layout.kind!r} in {path}"
    entry = f"[[{layout.kind}.columns]]"
    for c in layout.columns:
        if c.published and registry.column(c.name) is None:
            raise CatalogError(f"{where}: column {c.name!r} is not a column of table {layout.table!r} "
                               f"(core/tables.py); add `published = false` to its {entry} entry if the transform "
                               f"only reads it, or add it to the table")
        if not c.published and registry.column(c.name) is not None:
            raise CatalogError(f"{where}: column {c.name!r} is a column of table {layout.table!r}; remove "
                               f"`published = false` from its {entry} entry")
    read = {c.name for c in layout.columns}
    for name in layout.filled_by_transform:
        if registry.column(name) is None:
            raise CatalogError(f"{where}: `filled_by_transform` names {name!r}, not a column of table "
                               f"{layout.table!r} (core/tables.py); remove it from `filled_by_transform`")
        if name in read:
            raise CatalogError(f"{where}: column {name!r} is both a {entry} entry and in `filled_by_transform`; "
                               f"keep one")
    for col in registry.columns:
        if col.name not in read and col.name not in layout.filled_by_transform:
            raise CatalogError(f"{where}: column {col.name!r} of table {layout.table!r} is filled by neither the "
                               f"layout nor the transform; add a {entry} entry for it, or name it in "
                               f"`filled_by_transform` under [{layout.kind}] if transform/{layout.family}.py fills it")


def _key_pattern(path: Path, kind: str, spec: dict, registry, columns) -> str:
    """The pattern every data row's `data_key` matches: the pattern of its field in core/fields.py (or of the field
    `key_field` names, where the file's key is narrower), with the shorter digits of a column whose field has a
    `pad`."""
    where = f"layout {kind!r} in {path}"
    if "key_pattern" in spec:
        raise CatalogError(f"{where}: the key pattern comes from the field of `data_key` in core/fields.py; remove "
                           f"`key_pattern` (name a narrower field with `key_field`)")
    column = registry.column(spec.get("data_key"))
    name = spec.get("key_field", column.field if column else None)
    if FIELDS.get(name) is None or FIELDS[name].pattern is None:
        raise CatalogError(f"{where}: `data_key` {spec.get('data_key')!r} (field {name!r}) has no pattern in "
                           f"core/fields.py to find the data rows with; name a field that has one with `key_field`")
    pad = next((c.pad for c in columns if c.name == spec["data_key"]), None)
    return FIELDS[name].source_pattern(pad)


def _format_differences(path: Path, kind: str, spec: dict, columns) -> tuple[FormatDifference, ...]:
    """The `[[kind.format_differences]]` of a layout: each names a format, a column of the layout, why (citing the
    CMS files it was seen in) and one rule, `cut` (an integer) or `pairs` (a list of [other, this format] values)."""
    out = []
    names = {c.name for c in columns}
    for i, d in enumerate(spec.get("format_differences", []), start=1):
        where = f"layout {kind!r} in {path}, format_differences entry {i}"
        unknown = set(d) - {"format", "column", "why", "seen_in", "cut", "pairs"}
        if unknown:
            raise CatalogError(f"{where}: unknown keys {sorted(unknown)}")
        if d.get("format") not in FORMATS or d.get("column") not in names:
            raise CatalogError(f"{where}: `format` must be one of {FORMATS} and `column` a column of the layout "
                               f"(got {d.get('format')!r}, {d.get('column')!r})")
        if not d.get("why") or not d.get("seen_in"):
            raise CatalogError(f"{where}: say `why` CMS's copies differ and `seen_in` which files show it")
        cut, pairs = d.get("cut"), d.get("pairs", [])
        if (cut is None) == (not pairs) or (cut is not None and (not isinstance(cut, int) or cut < 1)) \
                or any(not isinstance(p, list) or len(p) != 2 for p in pairs):
            raise CatalogError(f"{where}: give exactly one rule: `cut` = a number of characters, or `pairs` = "
                               f"[[value in the other copies, value in this format], ...]")
        out.append(FormatDifference(format=d["format"], column=d["column"], why=d["why"],
                                    seen_in=tuple(d["seen_in"]), cut=cut,
                                    pairs=tuple((str(a), str(b)) for a, b in pairs)))
    return tuple(out)


def _norm(text: str | None) -> str:
    return " ".join((text or "").replace(EOF_MARKER, " ").split()).upper()



def identify(path: Path, layouts: dict[str, FileLayout], rows: int = 5) -> str | None:
    """The kind of file whose `title` the first rows of a csv/txt state (`Addendum DD2 -- ...`), or None when no
    layout's title is found there. More than one is an error: the titles in the layout file overlap."""
    grid = read_grid(path).head(rows)
    text = _norm(" ".join(v for row in grid.drop("source_row").iter_rows() for v in row if v))
    hits = [kind for kind, layout in layouts.items() if layout.title and re.search(layout.title, text, re.I)]
    if len(hits) > 1:
        raise CatalogError(f"{path.name}: its title matches the title rule of several layouts: {hits}")
    return hits[0] if hits else None


# --------------------------------------------------------------------------------------- parse
def parse_file(path: Path, layout: FileLayout, year: int) -> Parsed:
    """Parse one CMS file with its layout; raise ParseError naming the file, row or column on any surprise."""
    fmt = file_format(path)
    if fmt != "xlsx" or layout.sheet is None:
        return _parse(path, layout, year, fmt)
    # One workbook holds several tables: every message and note names the sheet it is about.
    names = open_workbook(path).sheet_names
    where = f" (sheet {names[pick_sheet(path, names, layout.sheet)]!r})"
    try:
        parsed = _parse(path, layout, year, fmt)
    except ParseError as exc:
        raise ParseError(str(exc) if where.strip() in str(exc) else f"{exc}{where}") from None
    parsed.notes = [note + where for note in parsed.notes]
    return parsed


def _parse(path: Path, layout: FileLayout, year: int, fmt: str) -> Parsed:
    columns = layout.columns_for(year)
    if fmt == "txt" and layout.txt_years is not None:
        raw, values = _map_fixed_width(path, layout, columns, year)
    else:
        raw, values, grid_notes = _map_delimited(path, layout, columns)
    raw = _data_region(path, raw, layout)
    if raw.height == 0:
        raise ParseError(f"{path.name}: no data rows found (no {layout.data_key} matching {layout.key_pattern})")
    frame, notes = _clean_and_type(path, raw, layout, columns, fmt)
    if fmt != "txt" or layout.txt_years is None:
        notes = grid_notes + notes
    if layout.drop_exact_duplicates:
        value_cols = [c.name for c in columns]
        unique = frame.unique(subset=value_cols, keep="first", maintain_order=True)
        if unique.height < frame.height:
            dropped = frame.join(unique.select("source_row"), on="source_row", how="anti")["source_row"].to_list()
            notes.append(f"{path.name}: rows {dropped} repeat an earlier row exactly and were kept once")
        frame = unique
    return Parsed(frame=frame, values=values, notes=notes)


def _map_fixed_width(path, layout, columns, year):
    if layout.txt_years is None or not (layout.txt_years[0] <= year <= layout.txt_years[1]):
        raise ParseError(
            f"{path.name}: no fixed-width layout for {layout.kind.upper()} {year} "
            f"(known for {layout.txt_years}); use the CSV or XLSX copy, or add the positions to the layout file"
        )
    missing = [c.name for c in columns if c.txt is None and not c.optional]
    if missing:
        raise CatalogError(f"layout {layout.kind}: no fixed-width position for {missing}")
    lines = read_lines(path)
    raw = lines.select(
        "source_row",
        *[pl.col("line").str.slice(c.txt[0] - 1, c.txt[1] - c.txt[0] + 1).alias(c.name) if c.txt
          else pl.lit(None, dtype=pl.String).alias(c.name) for c in columns],
    )
    return raw, {}


def _map_delimited(path, layout, columns):
    grid = read_grid(path, layout.sheet)
    cells = [c for c in grid.columns if c != "source_row"]
    anchor_col = f"c{layout.anchor_column}"
    if anchor_col not in grid.columns:
        raise ParseError(f"{path.name}: has only {len(cells)} columns; header not found")
    anchor_re = re.compile(layout.anchor, re.IGNORECASE)
    anchor_values = grid[anchor_col].to_list()
    anchor_idx = next((i for i, v in enumerate(anchor_values) if anchor_re.fullmatch(_norm(v))), None)
    if anchor_idx is None:
        raise ParseError(
            f"{path.name}: header row not found: no row has {layout.anchor!r} in column {layout.anchor_column + 1}"
        )
    first = max(0, anchor_idx - layout.header_rows + 1)
    key_re = re.compile(layout.key_pattern)
    above = next((i for i, v in enumerate(anchor_values[:first]) if v and key_re.search(v.strip())), None)
    if above is not None:
        raise ParseError(
            f"{path.name} row {above + 1}: {anchor_values[above].strip()!r} looks like data but stands above the "
            f"header found at row {anchor_idx + 1}; has the header moved?"
        )
    header_block = grid.slice(first, anchor_idx - first + 1)
    headers = {
        c: _norm(" ".join(v for v in header_block[c].to_list() if v and v.strip())) for c in cells
    }
    mapping, values = {}, {}
    for col in columns:
        if col.after:
            continue
        rx = re.compile(col.header, re.IGNORECASE)
        hits = [c for c in cells if rx.fullmatch(headers[c])]
        if not hits and col.optional:
            continue
        if not hits:
            found = [h for h in headers.values() if h]
            raise ParseError(
                f"{path.name}: missing column {col.name!r} (header matching {col.header!r}) in the header at "
                f"row {anchor_idx + 1}; found headers: {found}"
            )
        if len(hits) > 1:
            raise ParseError(f"{path.name}: column {col.name!r} is ambiguous: headers {[headers[h] for h in hits]}")
        mapping[col.name] = hits[0]
        if col.header_value:
            m = re.search(col.header_value, headers[hits[0]], re.IGNORECASE)
            if m:
                values[col.name + "_header_value"] = m.group(1)
    for col in columns:
        if not col.after:
            continue
        # A column found by position: the grid column right after `after`'s, whose header must match
        # (blank by default: CMS leaves such marker columns without a name).
        nxt = cells.index(mapping[col.after]) + 1 if col.after in mapping else None
        cell = cells[nxt] if nxt is not None and nxt < len(cells) else None
        ok = cell is not None and cell not in mapping.values() and re.fullmatch(col.header, headers[cell], re.I)
        if ok:
            mapping[col.name] = cell
        elif not col.optional:
            found = "no column" if cell is None else f"header {headers[cell]!r}"
            raise ParseError(
                f"{path.name}: missing column {col.name!r} (the column right after {col.after!r}, header "
                f"matching {col.header!r}) in the header at row {anchor_idx + 1}; found {found}"
            )
    notes = _unmapped_columns(path, layout, grid.slice(anchor_idx + 1), cells, headers, mapping, anchor_idx + 1)
    for name, pattern in layout.preamble.items():
        preamble = grid.slice(0, first)
        for row in preamble.select(cells).iter_rows():
            m = next((re.search(pattern, v) for v in row if v and re.search(pattern, v)), None)
            if m:
                values[name] = m.group(1)
                break
    raw = grid.slice(anchor_idx + 1).select(
        "source_row",
        *[pl.col(mapping[c.name]).alias(c.name) if c.name in mapping else pl.lit(None, dtype=pl.String).alias(c.name)
          for c in columns],
    )
    return raw, values, notes


def _unmapped_columns(path, layout, body, cells, headers, mapping, header_row) -> list[str]:
    """Refuse a header the layout does not know (a column CMS added or renamed must never be dropped silently);
    note the cells of columns without a header (CMS leaves stray cells such as '#REF!' beside the table)."""
    used = set(mapping.values())
    unknown = [headers[c] for c in cells if c not in used and headers[c]
               and not any(re.fullmatch(rx, headers[c], re.IGNORECASE) for rx in layout.ignore)]
    if unknown:
        where = f"[{layout.kind}] in transform/layouts/{layout.family}.toml" if layout.family else f"[{layout.kind}]"
        raise ParseError(
            f"{path.name}: unknown column {unknown[0]!r} in the header at row {header_row}"
            f"{f' (and {len(unknown) - 1} more: {unknown[1:]})' if len(unknown) > 1 else ''}; add it to {where} "
            f"as a [[{layout.kind}.columns]] entry (or to `ignore` if it is not to be published)"
        )
    notes = []
    for c in cells:
        if c in used or headers[c]:
            continue
        filled = body.filter(pl.col(c).is_not_null() & (pl.col(c).str.strip_chars() != ""))
        if filled.height:
            first_row, value = filled.row(0, named=True)["source_row"], filled[c][0]
            notes.append(f"{path.name}: column {cells.index(c) + 1} has no header; its {filled.height} filled "
                         f"cell(s) (first: row {first_row}, {value!r}) were not read")
    return notes


def _data_region(path, raw, layout):
    """Keep the run of rows whose key matches key_pattern, skipping blank rows; refuse data after the footer."""
    names = [c for c in raw.columns if c != "source_row"]
    stripped = raw.with_columns(
        [pl.col(c).str.replace_all(EOF_MARKER, "", literal=True).str.strip_chars() for c in names]
    )
    blank = pl.all_horizontal([pl.col(c).is_null() | (pl.col(c) == "") for c in names])
    key_ok = pl.col(layout.data_key).fill_null("").str.contains(layout.key_pattern)
    flags = stripped.select(blank.alias("blank"), key_ok.alias("key_ok"), "source_row")
    blank_l, key_l, rows = flags["blank"].to_list(), flags["key_ok"].to_list(), flags["source_row"].to_list()
    start = next((i for i, ok in enumerate(key_l) if ok), None)
    if start is None:
        return stripped.clear()
    end = len(key_l)
    for i in range(start, len(key_l)):
        if not blank_l[i] and not key_l[i]:
            end = i
            break
    late = next((i for i in range(end, len(key_l)) if key_l[i]), None)
    if late is not None:
        raise ParseError(
            f"{path.name} row {rows[late]}: looks like data but comes after the data ended at row {rows[end]} "
            f"({layout.data_key} {stripped[layout.data_key][end]!r} does not match {layout.key_pattern})"
        )
    region = stripped.slice(start, end - start)
    return region.filter(~pl.all_horizontal([pl.col(c).is_null() | (pl.col(c) == "") for c in names]))


def _clean_and_type(path, raw, layout, columns, fmt):
    exprs = []
    for col in columns:
        e = pl.col(col.name)
        if col.remove_chars:
            e = e.str.replace_all(f"[{re.escape(col.remove_chars)}]", "")
        if col.strip_chars:
            e = e.str.strip_chars(col.strip_chars).str.strip_chars()
        if col.null_values:
            e = pl.when(e.is_in(list(col.null_values))).then(None).otherwise(e)
        e = pl.when(e == "").then(None).otherwise(e)
        if col.fill_down:
            e = e.forward_fill()
        if col.pad:
            e = pl.when(e.str.contains(r"^\d+$")).then(e.str.zfill(col.pad)).otherwise(e)
        exprs.append(e.alias(col.name))
    frame = raw.with_columns(exprs)
    typed, notes = [], []
    for col in columns:
        if col.type == "decimal":
            src = pl.col(col.name)
            if fmt == "txt" and col.txt_implied_decimals:
                src = _insert_point(src, col.txt_implied_decimals)
            frame = frame.with_columns(src.alias(col.name))
            _check_numbers(path, frame, col)
            src = pl.col(col.name)
            if col.round:
                long = frame.filter(_decimals(src) > col.scale)["source_row"].to_list()
                if long:
                    notes.append(f"{path.name}: column {col.name} rounded to {col.scale} decimals in rows {long}")
                    src = src.map_elements(lambda v, s=col.scale: _round_half_up(v, s), return_dtype=pl.String)
            typed.append(src.cast(pl.Decimal(18, col.scale), strict=False).alias(col.name))
        elif col.type == "int":
            _check_numbers(path, frame, col)
            typed.append(pl.col(col.name).cast(pl.Int64, strict=False).alias(col.name))
        elif col.upper:
            lower = frame.filter(pl.col(col.name) != pl.col(col.name).str.to_uppercase())
            if lower.height:
                notes.append(f"{path.name}: column {col.name} upper-cased in rows {lower['source_row'].to_list()} "
                             f"({sorted(set(lower[col.name].to_list()))})")
            typed.append(pl.col(col.name).str.to_uppercase().alias(col.name))
        elif col.name in layout.key:
            typed.append(pl.col(col.name).fill_null("").alias(col.name))  # keys are never NULL: '' = none
        else:
            typed.append(pl.col(col.name))
    out = frame.select("source_row", *typed)
    for col in columns:  # a number that passed the checks above but does not fit its type is refused, never NULL
        if col.type in ("decimal", "int"):
            lost = frame.select("source_row", pl.col(col.name).alias("raw")).filter(
                out[col.name].is_null() & pl.col("raw").is_not_null())
            if lost.height:
                row, raw = lost.row(0)
                raise ParseError(f"{path.name} row {row}, column {col.name}: {raw!r} does not fit a number of "
                                 f"{18 - (col.scale or 0)} digits before the point")
    return out.select(*[c.name for c in columns], "source_row"), notes


def _decimals(expr: pl.Expr) -> pl.Expr:
    """Significant decimals of a number written as text (trailing zeros do not count)."""
    return expr.str.extract(r"\.(\d*?)0*$").str.len_chars().fill_null(0)


def _round_half_up(value: str, scale: int) -> str:
    return str(Decimal(value).quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP))


def _insert_point(expr: pl.Expr, decimals: int) -> pl.Expr:
    digits = expr.str.zfill(decimals + 1)
    return pl.when(expr.is_null()).then(None).otherwise(
        digits.str.slice(0, digits.str.len_chars() - decimals) + "." + digits.str.slice(-decimals)
    )


def _check_numbers(path, frame, col):
    """A value that is not a number, or has more decimals than the layout allows, names its row."""
    pattern = r"^-?(\d+\.?\d*|\.\d+)$" if col.type == "decimal" else r"^-?\d+$"
    bad = frame.filter(pl.col(col.name).is_not_null() & ~pl.col(col.name).str.contains(pattern))
    if bad.height:
        row = bad.row(0, named=True)
        raise ParseError(
            f"{path.name} row {row['source_row']}, column {col.name}: {row[col.name]!r} is not a number "
            f"({bad.height} such row{'s' if bad.height > 1 else ''})"
        )
    if col.type == "decimal" and not col.round:
        lossy = frame.filter(_decimals(pl.col(col.name)) > col.scale)
        if lossy.height:
            row = lossy.row(0, named=True)
            raise ParseError(
                f"{path.name} row {row['source_row']}, column {col.name}: {row[col.name]!r} has more than "
                f"{col.scale} decimals"
            )
