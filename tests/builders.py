"""Files made in code for the tests: a minimal xlsx writer, a CMS-style csv writer, and edits of real workbooks.

No xlsx library is a dependency: a workbook is a zip of minimal OOXML parts with inline strings. Real workbooks
(../shared/cms-mirror) are edited by rewriting their sheet XML, so a test can hand cmsref a copy of a real file with
one thing changed (a renamed or extra column, a moved header) and see it refused.
"""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def _col_letter(i: int) -> str:
    letters = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        letters = chr(65 + r) + letters
    return letters


def _sheet_xml(rows) -> str:
    out = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{_col_letter(c)}{r}"
            if value is None or value == "":
                continue
            if isinstance(value, (int, float)):
                cells.append(f'<c r="{ref}"><v>{value!r}</v></c>')
            else:
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>')
        out.append(f'<row r="{r}">{"".join(cells)}</row>')
    return (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_NS}">'
            f'<sheetData>{"".join(out)}</sheetData></worksheet>')


def write_xlsx(path, sheets: dict[str, list[list]]):
    """A workbook with one sheet per entry; str cells become inline strings, int/float cells numbers."""
    names = list(sheets)
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT}.worksheet+xml"/>'
        for i in range(1, len(names) + 1))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0" encoding="UTF-8"?>'
                   '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/>'
                   f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>{overrides}</Types>')
        z.writestr("_rels/.rels",
                   f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}">'
                   f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml",
                   f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_NS}" xmlns:r="{_REL}"><sheets>'
                   + "".join(f'<sheet name="{escape(n)}" sheetId="{i}" r:id="rId{i}"/>'
                             for i, n in enumerate(names, start=1))
                   + "</sheets></workbook>")
        z.writestr("xl/_rels/workbook.xml.rels",
                   f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}">'
                   + "".join(f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                             for i in range(1, len(names) + 1))
                   + "</Relationships>")
        for i, name in enumerate(names, start=1):
            z.writestr(f"xl/worksheets/sheet{i}.xml", _sheet_xml(sheets[name]))
    return path


def write_csv(path, rows, encoding="cp1252"):
    with open(path, "w", newline="", encoding=encoding) as f:
        csv.writer(f, lineterminator="\r\n").writerows([["" if v is None else v for v in row] for row in rows])
    return path




def edit_workbook(src: Path, dst: Path, edit) -> Path:
    """A copy of workbook `src` whose first sheet's XML and shared strings pass through `edit(name, text) -> text`."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename in ("xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"):
                data = edit(item.filename, data.decode("utf-8")).encode("utf-8")
            zout.writestr(item, data)
    return dst


def rename_header(src: Path, dst: Path, old: str, new: str) -> Path:
    """The shared string `old` (a header cell's text) becomes `new`."""
    def edit(name, text):
        if name.endswith("sharedStrings.xml"):
            assert f">{escape(old)}<" in text, old
            text = text.replace(f">{escape(old)}<", f">{escape(new)}<", 1)
        return text
    return edit_workbook(src, dst, edit)


def add_header_cell(src: Path, dst: Path, row: int, column: str, text: str) -> Path:
    """An extra header cell (inline string) at `column` of `row`, after the row's last cell."""
    def edit(name, xml):
        if name.endswith("sheet1.xml"):
            xml, n = re.subn(rf'(<row r="{row}"[^>]*>.*?)(</row>)',
                             lambda m: m.group(1) + f'<c r="{column}{row}" t="inlineStr"><is><t>{escape(text)}</t>'
                                                    f'</is></c>' + m.group(2), xml, count=1, flags=re.S)
            assert n == 1
        return xml
    return edit_workbook(src, dst, edit)


def shift_row_right(src: Path, dst: Path, row: int) -> Path:
    """Every cell of `row` moves one column to the right (a header that no longer sits over its data)."""
    def shift(m):
        ref = m.group(1)
        n = 0
        for ch in ref:
            n = n * 26 + ord(ch) - 64
        return f'r="{_col_letter(n)}{row}"'

    def edit(name, xml):
        if name.endswith("sheet1.xml"):
            xml, n = re.subn(rf'(<row r="{row}"[^>]*>)(.*?)(</row>)',
                             lambda m: m.group(1) + re.sub(rf'r="([A-Z]+){row}"', shift, m.group(2)) + m.group(3),
                             xml, count=1, flags=re.S)
            assert n == 1
        return xml
    return edit_workbook(src, dst, edit)


# ------------------------------------------------------------------------------------- OPPS Addendum B fixture
OPPS_TITLE = [["Addendum B.-Final OPPS Payment by HCPCS Code for CY 2025 (generated test file)"],
         ["CPT codes and descriptions only are copyright 2024 American Medical Association. All Rights Reserved."],
         []]
# A made-up note header in the shape described: the text changes every year and embeds the deductible.
OPPS_NOTE_2025 = "Note: Drugs and biologicals: copayment capped at the inpatient deductible of $1,676.00"
OPPS_NOTE_2020 = ("Note: Actual copayments would be lower due to the cap on copayments at the Inpatient Deductible "
             "of $1,408.00")
OPPS_HEADER = ["HCPCS Code", "Short Descriptor", "SI", "APC", "Relative Weight", "Payment Rate",
          "National Unadjusted Copayment", "Minimum Unadjusted Copayment", OPPS_NOTE_2025,
          "Drug and Device Pass-Through Expiration during Calendar Year", "* Indicates a Change"]
# Each data row twice: as the 508 csv prints it, and as the xlsx stores it (numbers as numbers, APCs as
# numbers that lost their leading zero, blanks as empty cells, the `.` placeholder as text).
OPPS_ROWS = [
    (["0001F", "Heart failure composite", "M", "", "", "", "", "", "", "", ""],
     ["0001F", "Heart failure composite", "M"]),
    (["33274", "Tcat insj/rpl perm ldls pm", "J1", "5194", "159.2513", "$14,331.98", ".", "$2,866.40", "", "", "*"],
     ["33274", "Tcat insj/rpl perm ldls pm", "J1", 5194, 159.2513, 14331.98, ".", 2866.4, None, None, "*"]),
    (["36415", "Routine venipuncture", "Q4", "", "", "", "", "", "", "", ""],
     ["36415", "Routine venipuncture", "Q4"]),
    (["C1734", "Orth/devic/drug bn/bn,tis/bn", "N", "", "", "", "", "", "", "", ""],
     ["C1734", "Orth/devic/drug bn/bn,tis/bn", "N"]),
    (["G0008", "Admin influenza virus vac", "S", "0412", "0.6187", "$55.68", ".", "$11.14", "", "", ""],
     ["G0008", "Admin influenza virus vac", "S", 412, 0.6187, 55.68, ".", 11.14]),
    (["C9046", "Cocaine hcl nasal", "G", "9046", "0.0012", "$0.11", ".", "$0.02", "", "12/31/2026", "*"],
     ["C9046", "Cocaine hcl nasal", "G", 9046, 0.0012, 0.11, ".", 0.02, None, "12/31/2026", "*"]),
    (["99285", "Emergency dept visit hi mdm", "J2", "5025", "7.7651", "$1,310.66", "$262.14", "$262.14", "*", "",
      ""],
     ["99285", "Emergency dept visit hi mdm", "J2", 5025, 7.7651, 1310.66, 262.14, 262.14, "*"]),
]


# ------------------------------------------------------------------------------------- AOC fixture
AOC_HEADER = ("AOC_Edit_Type,Add-On_Code,AOC_DelDT,Primary_Code,Primary_Code_DelDT,AOC_Edit_EffDT,AOC_Edit_DelDT,"
          "Special_Instruction_Notes")
AOC_ROWS = [
    "1,37252,,37220,,2018001,,",                  # Julian dates (YYYYDDD), blank = not deleted
    "1,37252,,37224,2025365,2018001,2025365,",    # edit (and primary) end with 2025-12-31
    "1,37252,,37246,,2018001,2026180,",           # edit ends with 2026-06-29
    "1,37253,,37252,,2018001,,",
    "2,99417,,CCCCC,,2021001,,Contractor Defined Primary Codes",  # type 2: contractor-defined primaries
    "3,G0500,,99152,,2018001,,",
]


# ------------------------------------------------------------------------------------- vendor guide PDFs
# reportlab is a test dependency (pyproject [test]): no silent skip
from reportlab.lib import colors  # noqa: E402
from reportlab.lib.pagesizes import letter  # noqa: E402
from reportlab.lib.styles import getSampleStyleSheet  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table, TableStyle  # noqa: E402

STYLE = getSampleStyleSheet()["BodyText"]
DESC_52 = ("Intravascular ultrasound (noncoronary vessel) during diagnostic evaluation and/or therapeutic "
           "intervention, including radiological supervision and interpretation; initial noncoronary vessel")
DESC_53 = "each additional noncoronary vessel"


def ruled_pdf(path: Path, *pages: list, encrypt: str | None = None) -> Path:
    """Flowables per page (platypus); tables are ruled with GRID unless they set their own style."""
    story = []
    for n, flowables in enumerate(pages):
        if n:
            story.append(PageBreak())
        story += flowables
    SimpleDocTemplate(str(path), pagesize=letter, encrypt=encrypt).build(story)
    return path


def grid(rows: list[list], spans: tuple = (), repeat: int = 0, widths=None) -> Table:
    cells = [[Paragraph(c, STYLE) if isinstance(c, str) and len(c) > 40 else c for c in row] for row in rows]
    t = Table(cells, repeatRows=repeat, colWidths=widths)
    t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                           ("FONTSIZE", (0, 0), (-1, -1), 8),
                           *[("SPAN", a, b) for a, b in spans]]))
    return t


def text_pdf(path: Path, *pages: list[tuple[float, float, str]], size: float = 9) -> Path:
    """Unruled text: (x, y from the top, text) per string, in points, one list per page."""
    c = canvas.Canvas(str(path), pagesize=letter)
    height = letter[1]
    for items in pages:
        c.setFont("Helvetica", size)
        for x, y, s in items:
            c.drawString(x, height - y, s)
        c.showPage()
    c.save()
    return path


def row_text(y: float, *cells: tuple[float, str]) -> list[tuple[float, float, str]]:
    return [(x, y, s) for x, s in cells]


def two_row_header_table(nonfac_52: str = "$927*") -> Table:
    return grid([
        ["Service Provided", "", "", "", "Physician Fee Schedule\u00b9", ""],
        ["CPT\u00ae\nCode", "CPT\u00ae Description", "Work\nRVUs", "Total\nRVUs", "Facility", "Non\nFacility"],
        ["+37252", DESC_52, "1.80", "2.59", "$86", nonfac_52],
        ["+37253", DESC_53, "1.44", "2.06", "$69", "$170"],
    ], spans=[((0, 0), (3, 0)), ((4, 0), (5, 0))], widths=[50, 200, 45, 45, 60, 60])


# ------------------------------------------------------------------------------------- a tiny PFS release
# one code (37252: work 1.80 by default, PE 0.44 / 25.70, MP 0.35, CF 33.2875), published straight through
# warehouse.publish: for tests of publishing and serving that need versions, not CMS's files
def rvu_frame(sha: str, work: str, status: str = "A"):
    import polars as pl

    from core.tables import TABLES

    cols = {c.name: [None] for c in TABLES["pfs_rvu"].columns}
    cols.update(hcpcs=["37252"], modifier=[""], status_code=[status], work_rvu=[work], facility_pe_rvu=["0.44"],
                non_facility_pe_rvu=["25.70"], mp_rvu=["0.35"], conversion_factor=["33.2875"])
    frame = pl.DataFrame(cols, schema={c: pl.String for c in cols})
    return frame.with_columns(source_sha256=pl.lit(sha), source_row=pl.lit(11, dtype=pl.Int64))


def built(period: str, eff, sha: str, work="1.80", stated_to=None, status="A", factors=None):
    """factors: {variant: conversion factor}, e.g. {"qp": "33.4009", "non_qp": "33.0607"} (default: all 33.2875)."""
    from datetime import datetime, timezone
    from decimal import Decimal

    import polars as pl

    from extract.fetch import SourceFile
    from warehouse.publish import BuiltRelease

    src = SourceFile("pprrvu", "all", Path(f"/x/{sha}.csv"), f"file:///x/{sha}.csv", None, f"PPRRVU{period}.csv",
                     10, sha, None, datetime(2026, 1, 1, tzinfo=timezone.utc))
    factors = factors or {"all": "33.2875"}
    cf = pl.DataFrame({"kind": ["physician"] * len(factors), "variant": list(factors),
                       "conversion_factor": [Decimal(v) for v in factors.values()],
                       "source_field": ["CONV FACTOR column"] * len(factors), "source_sha256": [sha] * len(factors),
                       "source_row": [11] * len(factors)})
    return BuiltRelease("pfs", period, eff, stated_to, None, [src],
                        {"pfs_rvu": rvu_frame(sha, work, status), "conversion_factor": cf}, {"success": True})


# ------------------------------------------------------------------ PFS bundle members in csv, txt and xlsx
GPCI_HEADER = ["Medicare Administrative Contractor (MAC)", "State", "Locality Number", "Locality Name",
               "{year} PW GPCI (with 1.0 Floor)", "{year} PE GPCI", "{year} MP GPCI"]
GPCI_TXT = [(1, 5), (17, 18), (25, 26), (30, 116), (117, 126), (127, 138), (139, 150)]  # transform/layouts/pfs.toml
LOCCO_HEADER = ["Medicare Adminstrative Contractor", "Locality Number", "State ", "Fee Schedule Area ", "Counties"]
LOCCO_TXT = [(1, 12), (13, 22), (23, 45), (46, 143), (144, 400)]


def _fixed_width(rows, positions) -> list[str]:
    lines = []
    for row in rows:
        line = ""
        for value, (start, end) in zip(row, positions):
            line = line.ljust(start - 1) + str(value or "")[: end - start + 1]
        lines.append(line)
    return lines


def write_copies(folder: Path, stem: str, title: str, header: list[str], rows: list[list], positions,
                 formats=("csv", "txt", "xlsx"), edit: dict | None = None) -> dict[str, Path]:
    """One bundle member in each of `formats`, as CMS ships it: csv and xlsx with a title row, a blank row and the
    header; a fixed-width txt with the data lines only. `edit` = {format: {(data row index, column index): value}}
    changes cells of one copy only."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for fmt in formats:
        data = [list(r) for r in rows]
        for (i, j), value in (edit or {}).get(fmt, {}).items():
            data[i][j] = value
        path = folder / f"{stem}.{fmt}"
        if fmt == "csv":
            write_csv(path, [[title], [], header, *data])
        elif fmt == "xlsx":
            write_xlsx(path, {"Sheet1": [[title], [], header, *data]})
        else:
            path.write_bytes(("\r\n".join(_fixed_width(data, positions)) + "\r\n").encode("cp1252"))
        out[fmt] = path
    return out


def write_gpci_copies(folder: Path, year: int = 2025, rows=None, **kw) -> dict[str, Path]:
    rows = rows or [["10112", "AL", "00", "ALABAMA", "1.000", "0.869", "0.575"],
                    ["02102", "AK", "01", "ALASKA*", "1.500", "1.081", "0.592"],
                    ["01182", "CA", "18", "LOS ANGELES-LONG BEACH-ANAHEIM (LOS ANGELES CNTY)", "1.047", "1.194",
                     "0.619"]]
    return write_copies(folder, f"GPCI{year}", f"ADDENDUM E. FINAL CY {year} GPCIs BY STATE AND MEDICARE LOCALITY",
                        [h.format(year=year) for h in GPCI_HEADER], rows, GPCI_TXT, **kw)
