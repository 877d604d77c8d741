"""Reading CMS files into grids of text cells: the first step of every parse, before any layout applies.

A csv, a delimited or fixed-width txt, or an xlsx sheet becomes a polars frame of all-text columns c0..cN (or one
`line` column for fixed-width text) plus `source_row`, the 1-based record number every published row keeps.
Here live the encodings (cp1252, UTF-8, UTF-16; mixed or NUL bytes refused), the input limits (size and rows,
InputLimits, set per build by `input_limits`), the delimiter sniffing, sheet choice and the refusal of uncalculated
formulas.
Nothing here knows a layout: applying one to a grid is transform/layout.py.

Delimited text: a .csv, or a .txt of a layout without [kind.fixed_width], is read as delimited text; the delimiter
is a tab when the first lines hold tabs, else a comma (CMS posts the same addendum as comma csv or tab txt).
xlsx number cells are read as fastexcel renders them: the stored binary double to at most 9 decimals, which drops
floating-point noise (115.93600000000001 -> 115.936) and keeps every decimal CMS typed.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from core.errors import ParseError

ENCODING = "cp1252"  # every CMS CSV/TXT we know of is ASCII or cp1252 (the MUE CSV has a cp1252 (R))
EOF_MARKER = "\x1a"  # Ctrl-Z: DOS end-of-file byte that ends several CMS files or sits in a junk last row
FORMATS = ("csv", "txt", "xlsx")
UTF8_SEQUENCE = re.compile(rb"[\xC2-\xDF][\x80-\xBF]|[\xE0-\xEF][\x80-\xBF]{2}|[\xF0-\xF4][\x80-\xBF]{3}")


def decode_text(path: Path, data: bytes) -> str:
    """CMS text files are cp1252. A copy re-saved as UTF-8 (or UTF-16, with its BOM) is read as such rather than
    turned into mojibake; bytes that are neither, a file that mixes UTF-8 and cp1252 text, and a NUL byte are clear
    errors naming the file, the line and the offset."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8-sig")  # plain ASCII is valid UTF-8 too; a cp1252 file with a lone 0xAE is not
        except UnicodeDecodeError as utf8_error:
            mixed = UTF8_SEQUENCE.search(data)
            if mixed:  # cp1252 would turn these into mojibake ('Ã©'): the file was assembled from two encodings
                line = data.count(b"\n", 0, mixed.start()) + 1
                raise ParseError(
                    f"{path.name} line {line}: mixes UTF-8 text (bytes "
                    f"{mixed.group().hex(' ').upper()} at offset {mixed.start()}) with bytes that are not UTF-8 "
                    f"(0x{data[utf8_error.start]:02X} at offset {utf8_error.start}); save it in one encoding") from None
            try:
                text = data.decode(ENCODING)
            except UnicodeDecodeError as exc:
                raise ParseError(f"{path.name}: neither UTF-8 nor cp1252 text (byte 0x{data[exc.start]:02X} at offset "
                                 f"{exc.start}); CMS text files are cp1252") from None
    nul = text.find("\x00")
    if nul >= 0:
        raise ParseError(f"{path.name} line {text.count(chr(10), 0, nul) + 1}: a NUL byte (offset {nul}); the file is "
                         f"damaged or not text")
    return text


def file_format(path: Path) -> str:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ParseError(f"{path.name}: unsupported file type {path.suffix!r} (expected one of {FORMATS})")
    return fmt


def read_grid(path: Path, sheet: str | None = None) -> pl.DataFrame:
    """A csv or xlsx file as all-text columns c0..cN plus `source_row` (1-based record number).

    `sheet` (xlsx only) is a regex that must find exactly one sheet name; without it the first sheet is read.
    """
    fmt = file_format(path)
    if fmt in ("csv", "txt"):
        text = read_text(path)
        if not text.strip(EOF_MARKER + " \r\n\t,"):
            raise ParseError(f"{path.name}: the file is empty")
        # The csv module, not polars' reader: polars sizes a header-less file by its first row, and CMS files
        # start with short title rows (ragged rows would be cut). Quoted commas and newlines are handled.
        try:
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text)))
        except csv.Error as exc:
            raise ParseError(f"{path.name}: not a readable CSV file: {exc}") from None
        width = max(len(r) for r in rows)
        columns = list(zip(*(r + [None] * (width - len(r)) for r in rows)))
        grid = pl.DataFrame({f"c{i}": list(col) for i, col in enumerate(columns)},
                            schema={f"c{i}": pl.String for i in range(width)})
    elif fmt == "xlsx":
        reader = open_workbook(path)
        # CMS bundles hold one sheet per workbook (the first one is the data); addenda workbooks hold
        # several, chosen by name.
        index = 0 if sheet is None else pick_sheet(path, reader.sheet_names, sheet)
        try:
            grid = reader.load_sheet(index, header_row=None, dtypes="string").to_polars()
        except Exception as exc:
            name = reader.sheet_names[index]
            raise ParseError(f"{path.name}: not a readable XLSX workbook (sheet {name!r}): {exc}") from None
    grid = grid.rename({c: f"c{i}" for i, c in enumerate(grid.columns)})
    return grid.with_row_index("source_row", offset=1).with_columns(pl.col("source_row").cast(pl.Int64))


@dataclass(frozen=True)
class InputLimits:
    """Caps on one source file, so a hostile or broken file ends in a clear error while memory stays bounded. The
    defaults; a build passes its own (CMSREF_MAX_FILE_MB, CMSREF_MAX_ROWS, read by core/settings.py)."""

    max_bytes: int = 256 << 20  # bytes of one file to parse: CMS's largest, PPRRVU, is 3.3 MB
    max_rows: int = 1_000_000  # lines or rows of one file: the largest CMS file we read has about 20,000


_LIMITS: ContextVar[InputLimits] = ContextVar("input_limits", default=InputLimits())


@contextmanager
def input_limits(limits: InputLimits) -> Iterator[InputLimits]:
    """Parse within `limits` inside the block (the build's transform step passes its settings' limits here, so the
    parsers of every dataset apply them without each passing them on)."""
    token = _LIMITS.set(limits)
    try:
        yield limits
    finally:
        _LIMITS.reset(token)


def read_text(path: Path) -> str:
    """A text file's content, within the input limits in force (input_limits): a file too large, or with more
    lines than any CMS file has (100 MB of blank lines appended, say), is refused before it is parsed."""
    limits = _LIMITS.get()
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise ParseError(f"{path.name}: {size:,} bytes, more than the {limits.max_bytes:,} a source file may have "
                         f"(CMSREF_MAX_FILE_MB)")
    data = path.read_bytes()
    lines = data.count(b"\n")
    if lines > limits.max_rows:
        raise ParseError(f"{path.name}: {lines:,} lines, more than the {limits.max_rows:,} a source file may have "
                         f"(CMSREF_MAX_ROWS)")
    return decode_text(path, data)


def sniff_delimiter(text: str) -> str:
    """Tab when the first lines hold a tab (CMS's tab-separated .txt exports), else comma."""
    head = "\n".join(text.splitlines()[:20])
    return "\t" if "\t" in head else ","


def open_workbook(path: Path):
    import zipfile

    import fastexcel

    limit = _LIMITS.get().max_bytes
    try:
        with zipfile.ZipFile(path) as zf:
            sheets = sum(i.file_size for i in zf.infolist() if i.filename.startswith("xl/worksheets/"))
    except (zipfile.BadZipFile, OSError) as exc:
        raise ParseError(f"{path.name}: not a readable XLSX workbook: {exc}") from None
    if sheets > limit:
        raise ParseError(f"{path.name}: its sheets unpack to {sheets:,} bytes, more than the {limit:,} a source file "
                         f"may have (CMSREF_MAX_FILE_MB)")
    _refuse_uncalculated_formulas(path)
    try:
        return fastexcel.read_excel(path)
    except Exception as exc:  # fastexcel raises its own error types for every kind of bad workbook
        raise ParseError(f"{path.name}: not a readable XLSX workbook: {exc}") from None


UNCALCULATED = re.compile(rb'<c r="([A-Z]+[0-9]+)"[^>]*>(?:<f[^>]*/>|<f[^>]*>[^<]*</f>)(?:<v\s*/>|<v></v>)?</c>')


def _refuse_uncalculated_formulas(path: Path) -> None:
    """A formula saved without its value (a workbook written by a tool that does not calculate) reads as an empty
    cell: a number would silently become NULL. Such a cell is refused, naming it."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                data = zf.read(info)
                if b"<f" not in data:
                    continue
                m = UNCALCULATED.search(data)
                if m:
                    raise ParseError(f"{path.name} cell {m.group(1).decode()} ({info.filename.rsplit('/', 1)[-1]}): a "
                                     f"formula without a stored value; open and save the workbook in a spreadsheet "
                                     f"program so it holds the value, or use CMS's csv copy")


def pick_sheet(path: Path, names: list[str], pattern: str) -> int:
    hits = [i for i, name in enumerate(names) if re.search(pattern, name)]
    if len(hits) != 1:
        raise ParseError(f"{path.name}: {len(hits) or 'no'} sheets named like {pattern!r} (sheets: {names})")
    return hits[0]


def read_lines(path: Path) -> pl.DataFrame:
    """A fixed-width text file as one `line` column plus `source_row` (1-based line number)."""
    text = read_text(path)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if text.endswith("\n"):
        lines = lines[:-1]
    lines = [line.replace(EOF_MARKER, "") for line in lines]
    if not any(line.strip() for line in lines):
        raise ParseError(f"{path.name}: the file is empty")
    return pl.DataFrame({"source_row": range(1, len(lines) + 1), "line": lines},
                        schema={"source_row": pl.Int64, "line": pl.String})
