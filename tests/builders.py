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
