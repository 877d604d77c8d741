"""One good release per dataset, as the stand-in serves it (a zip linked from the release's landing page), and the
defects the fault suite makes in it.

pfs 2025B    PPRRVU2025_Apr.csv: the real RVU25D PPRRVU (../shared/cms-mirror), under the name of an April file
mue 2026Q3   the real 2026 Q2 practitioner MUE table under its July name
asc 2020-04  the real April 2020 ASC addenda workbook, re-written sheet by sheet (cells as text) so it can be edited
opps 2025-04 an Addendum B generated in code (no real one is mirrored), as tests/unit/test_opps_parse.py makes it
aoc 2026Q3   an add-on code edit file generated in code (no real one is mirrored), as tests/unit/test_aoc.py makes it

Each table is handled as a grid of text rows (the CSV's rows, or the ASC workbook's AA sheet), so every defect
is one small function of the grid.
"""

from __future__ import annotations

import copy
import csv
import io
import re
import zipfile
from dataclasses import dataclass
from functools import cache

from tests.helpers import MIRROR
from tests.builders import AOC_HEADER
from tests.builders import AOC_ROWS
from tests.builders import OPPS_HEADER
from tests.builders import OPPS_ROWS
from tests.builders import OPPS_TITLE
from tests.builders import write_xlsx

OPPS_IVUS = ["37252", "Intrvasc us noncoronary 1st", "N", "", "", "", "", "", "", "", ""]


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("cp1252"), newline="")))


def csv_bytes(rows: list[list[str]], encoding: str = "cp1252") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode(encoding)


@dataclass(frozen=True)
class Source:
    dataset: str
    period: str
    zip_name: str  # linked from the release's landing page; must match the catalog's link pattern
    member: str
    key_header: str  # header text of the key column (the anchor)
    text_header: str  # a descriptive text column (changed to make a duplicate key that is not an exact copy)
    number_header: str  # a numeric column (made negative: out of range)
    missing_header: str  # a required column (removed)
    missing_name: str  # its name in the layout
    code: str  # a code of the table (a row to duplicate / change)
    key_column: int = 0  # the column holding the codes (the AOC file starts with the edit type)

    # ---------------------------------------------------------------------------- the grid
    def grid(self) -> list[list[str]]:
        return copy.deepcopy(_grid(self.dataset))

    def header_index(self, rows) -> int:
        return next(i for i, r in enumerate(rows) if r and " ".join((r[0] or "").split()).upper() ==
                    " ".join(self.key_header.split()).upper())

    def column(self, rows, header: str) -> int:
        """Index of the column whose header (any of the rows above the data) contains `header`."""
        h = self.header_index(rows)
        for r in rows[max(0, h - 4): h + 1]:
            for j, cell in enumerate(r):
                if cell and " ".join(header.split()).upper() in " ".join(cell.split()).upper():
                    return j
        raise KeyError(header)

    def row_of(self, rows, code: str) -> int:
        h = self.header_index(rows)
        return next(i for i in range(h + 1, len(rows)) if len(rows[i]) > self.key_column
                    and rows[i][self.key_column] == code)

    def data_rows(self, rows=None) -> int:
        """Rows of the table in the grid: from below the header, those whose first cell is a code."""
        rows = rows if rows is not None else self.grid()
        h = self.header_index(rows)
        return sum(1 for r in rows[h + 1:] if len(r) > self.key_column
                   and re.fullmatch(r"[0-9A-Z]{5}", (r[self.key_column] or "").strip()))

    def serialize(self, rows, encoding: str = "cp1252") -> bytes:
        if self.dataset != "asc":
            return csv_bytes(rows, encoding)
        sheets = copy.deepcopy(_asc_sheets())
        sheets[next(n for n in sheets if n.endswith("AA"))] = rows
        buf = io.BytesIO()
        write_xlsx(buf, sheets)  # zipfile writes into a file object as well as a path
        return buf.getvalue()

    def good(self) -> bytes:
        return self.serialize(self.grid())


@cache
def _asc_sheets() -> dict[str, list[list[str]]]:
    import fastexcel

    reader = fastexcel.read_excel(MIRROR / "asc_addenda/2020-04/asc_addenda.xlsx")
    out = {}
    for i, name in enumerate(reader.sheet_names):
        frame = reader.load_sheet(i, header_row=None, dtypes="string").to_polars()
        out[name] = [["" if v is None else v for v in row] for row in frame.rows()]
    return out


@cache
def _grid(dataset: str) -> list[list[str]]:
    if dataset == "pfs":
        return csv_rows((MIRROR / "pfs_rvu/RVU25D/PPRRVU2025_Oct.csv").read_bytes())
    if dataset == "mue":
        return csv_rows((MIRROR / "mue/2026Q2/MCR_MUE_PractitionerServices_Eff_04-01-2026.csv").read_bytes())
    if dataset == "aoc":
        return aoc_grid(AOC_ROWS)
    if dataset == "opps":
        return opps_grid()
    if dataset == "asc":
        return next(rows for name, rows in _asc_sheets().items() if name.endswith("AA"))
    raise KeyError(dataset)


def companions(dataset: str) -> dict[str, bytes]:
    """The other members every release zip of the dataset has (a PFS bundle: GPCI, LOCCO, ANES, OPPSCAP)."""
    if dataset != "pfs":
        return {}
    folder = MIRROR / "pfs_rvu/RVU25D"
    return {name: (folder / name).read_bytes()
            for name in ("GPCI2025.csv", "25LOCCO.csv", "ANES2025.csv", "OPPSCAP_Oct.csv")}


def aoc_grid(rows) -> list[list[str]]:
    lines = ["CPT codes copyright American Medical Association,,,,,,,", AOC_HEADER, *rows]
    return csv_rows("\r\n".join(lines).encode("cp1252"))


def opps_grid() -> list[list[str]]:
    return [list(r) for r in OPPS_TITLE] + [list(OPPS_HEADER)] + [list(r[0]) for r in OPPS_ROWS] + [list(OPPS_IVUS)]


SOURCES = {
    "pfs": Source("pfs", "2025B", "rvu25b.zip", "PPRRVU2025_Apr.csv", key_header="HCPCS",
                  text_header="DESCRIPTION", number_header="RVU", missing_header="RVU",
                  missing_name="work_rvu", code="37252"),
    "mue": Source("mue", "2026Q3", "medicare-ncci-2026-q3-practitioner-services-mue-table.zip",
                  "MCR_MUE_PractitionerServices_Eff_07-01-2026.csv", key_header="HCPCS/ CPT Code",
                  text_header="MUE Rationale", number_header="MUE Values", missing_header="MUE Rationale",
                  missing_name="rationale", code="37253"),
    "aoc": Source("aoc", "2026Q3", "medicare-ncci-aoc-2026-q3.zip", "AOC_V2026Q3.csv", key_header="AOC_Edit_Type",
                  text_header="Primary_Code_DelDT", number_header="AOC_Edit_Type",
                  missing_header="AOC_Edit_EffDT", missing_name="edit_effective", code="37253", key_column=1),
    "opps": Source("opps", "2025-04", "april-2025-opps-addendum-b.zip", "april_2025_addendum_b.csv",
                   key_header="HCPCS Code", text_header="Short Descriptor", number_header="Payment Rate",
                   missing_header="SI", missing_name="status_indicator", code="33274"),
    "asc": Source("asc", "2020-04", "april-2020-asc-addenda.zip", "asc_addenda.xlsx", key_header="HCPCS Code",
                  text_header="Short Descriptor", number_header="Payment Rate",
                  missing_header="Payment Indicator", missing_name="payment_indicator", code="10005"),
}


# ------------------------------------------------------------------------------------------------ defects
def drop_column(src: Source, rows):
    """Remove the column the layout requires as `src.missing_name`."""
    h = src.header_index(rows)
    if src.dataset == "pfs":
        j = _pfs_work_rvu(src, rows)
    elif src.missing_header == "SI":  # OPPS: a two-letter header that other headers contain
        j = rows[h].index("SI")
    else:
        j = src.column(rows, src.missing_header)
    return [r[:j] + r[j + 1:] for r in rows]


def _pfs_work_rvu(src, rows) -> int:
    """PPRRVU splits its header over 5 rows: WORK RVU is the first column whose last header row says RVU."""
    h = src.header_index(rows)
    return next(j for j, cell in enumerate(rows[h]) if cell.strip().upper() == "RVU")


def add_column(src: Source, rows, header: str = "New CMS Column 2099", value: str = "unknown-extra"):
    h = src.header_index(rows)
    width = max(len(r) for r in rows)
    out = []
    for i, r in enumerate(rows):
        r = r + [""] * (width - len(r))
        out.append(r + ([header] if i == h else [value] if i > h and r[0] else [""]))
    return out


def move_header_down(src: Source, rows):
    """One more row above the table (a note CMS added at the top): header and data move down a row."""
    return [["Note: this file was re-posted (a row inserted by the fault suite)"]] + rows


def duplicate_key(src: Source, rows):
    i = src.row_of(rows, src.code)
    dup = list(rows[i])
    j = src.column(rows, src.text_header)
    dup[j] = (dup[j] or "") + " (repeated)" if src.dataset != "aoc" else "2030365"
    return rows[: i + 1] + [dup] + rows[i + 1:]


def out_of_range(src: Source, rows):
    i = src.row_of(rows, src.code)
    if src.dataset == "pfs":
        j = _pfs_work_rvu(src, rows)
        rows[i][j] = "-1.80"
    elif src.dataset == "aoc":
        rows[i][src.column(rows, src.number_header)] = "4"  # edit types are 1, 2, 3
    elif src.dataset == "mue":
        rows[i][src.column(rows, src.number_header)] = "-5"
    else:
        rows[i][src.column(rows, src.number_header)] = "-5.00"
    return rows


def utf8_text(src: Source, rows):
    """A UTF-8 file (cmsref reads CMS CSVs as cp1252) whose text has an 'Á' (UTF-8 bytes C3 81)."""
    i = src.row_of(rows, src.code)
    j = src.column(rows, src.text_header) if src.dataset != "aoc" else 0
    if src.dataset == "aoc":
        rows[0][0] = "CPT codes copyright – ÁMA"  # copyright row
    else:
        rows[i][j] = (rows[i][j] or "") + " Á"
    return rows


def asc_invalid_utf8(src: Source) -> bytes:
    """The AA sheet's XML says UTF-8 but holds a cp1252 byte (0xC1, 'Á'): a workbook written with the wrong encoding."""
    rows = src.grid()
    i = src.row_of(rows, src.code)
    rows[i][src.column(rows, src.text_header)] += " MARKER"
    data = src.serialize(rows)
    zin = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            part = zin.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                part = part.replace(b" MARKER", b" \xc1")
            zout.writestr(info.filename, part)
    return out.getvalue()


def bomb_member() -> bytes:
    """8 MB of one byte: deflates about 1000:1 (the archive refuses members over 200:1 from 1 MB on)."""
    return b"0" * (8 << 20)

