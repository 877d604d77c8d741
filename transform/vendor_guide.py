"""Vendor coding guides (PDF) -> the figures they state per HCPCS/CPT code.

Device makers restate CMS codes, RVUs, payment amounts and indicators in coding guides. This module reads
such a PDF with pdfplumber and returns every figure it states, with the page it is on and the text as
printed; checking the figures against CMS data is done elsewhere. Nothing here knows a particular guide:

* Ruled tables (pdfplumber's `lines` strategy): merged cells are expanded over every row and column they
  cover, the header rows above the first row that holds a code are combined per column.
* Unruled tables (words and their positions): a line that starts with a code is a row; its cells are the runs
  of words separated by a column gap; cells of all rows are clustered into columns by horizontal overlap;
  lines between rows are wrapped cell text; a cell starting in lower case continues the cell above (text
  spanning rows); the lines just above the first row are the header. A line whose text crosses the columns
  (a sentence, a description list) ends the table.
* A table without a header whose columns match the previous page's table continues that table.
* Column headers map to fields through HEADER_FIELDS (data, below); cells are read per field.
* Prose: MUE limits and "cannot be reported with" statements, the year and the conversion factor.

The extractor is faithful: it reports what the guide prints, right or wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field as dc_field
from pathlib import Path

import pdfplumber
from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
from pdfplumber.utils.exceptions import PdfminerException

from core.errors import ParseError

# --- data ------------------------------------------------------------------------------------------------

# A column's combined header text (lower-case, marks removed, '-' and '/' as spaces) -> field; the first
# matching regex (re.search) wins, None means "not a figure column". More specific patterns come first.
HEADER_FIELDS: tuple[tuple[str, str | None], ...] = (
    (r"inpatient|\bdrg\b", None),
    (r"^(?!.*(payment|rate|amount|\$)).*\bapc\b", None),  # the APC group number, not a payment
    (r"\bwork\b.*\brvus?\b|\bw ?rvus?\b", "work_rvu"),
    (r"(?=.*\btotal\b)(?=.*\brvus?\b)(?=.*(\bnon ?facility\b|\boffice\b))", "total_rvu_non_facility"),
    # Facility / In-Facility / Hospital total RVUs, and an unqualified "Total RVUs" (guides print the facility
    # total next to both payments; the non-facility total is always labelled)
    (r"\btotal\b.*\brvus?\b|\brvus?\b.*\btotal\b", "total_rvu_facility"),
    (r"\bmues?\b|unlikely edit|\bunits? limit", "mue"),
    (r"(?=.*(\basc\b|ambulatory surgical))(?=.*(indicator|\bpi\b|status))|payment indicator|\bpi\b",
     "asc_payment_indicator"),
    (r"(?=.*(\bopps\b|outpatient|\bhopd\b))(?=.*(indicator|\bsi\b|status))|status indicator|\bsi\b",
     "opps_status_indicator"),
    (r"\basc\b|ambulatory surgical", "asc_payment"),
    (r"\bopps\b|hospital outpatient|\bhopd\b|\boutpatient\b|\bapc\b", "opps_payment"),
    (r"\bnon ?facility\b|\boffice\b|\bnon hospital\b", "payment_non_facility"),
    (r"\bfacility\b|\bhospital\b", "payment_facility"),
)

# A payment column whose cell states a status instead of an amount feeds the matching indicator field
# ("ASC Payment: Status N1: Packaged ...").
INDICATOR_OF_PAYMENT = {"asc_payment": "asc_payment_indicator", "opps_payment": "opps_status_indicator"}
INDICATOR_FIELDS = frozenset({"asc_payment_indicator", "opps_status_indicator"})

# Footnote and trademark marks glued to codes, numbers and headers ("Payment*²", "$927*", "CPT®").
MARKS = "*†‡§¶#^®™©¹²³⁴⁵⁶⁷⁸⁹⁰ᵃᵇᶜ"
_MARKS_RE = re.compile(f"[{re.escape(MARKS)}]")

CODE = r"(?:\d{4}[0-9FTU]|[A-V]\d{4})"  # CPT (incl. Category II/III, PLA) or HCPCS Level II
CODE_TOKEN_RE = re.compile(rf"^(\+?)({CODE})$")  # one word, marks removed
PROSE_CODE_RE = re.compile(rf"(?<![\w,.$\-])(?:(\+)\s?)?({CODE})(?![\w\-]|[.,]\d)")
AMOUNT_RE = re.compile(r"^\$?\s?((?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)$")
INDICATOR_RE = re.compile(
    r"^(?:(?i:status|payment)?\s*(?i:indicator|status|si|pi)\s*[:=\-]?\s*)?([A-Z][0-9]?)(?![A-Za-z0-9])")

YEAR_PATTERNS = (
    r"\bCY\s?(20\d\d)\b",
    r"\bcalendar year\s+(20\d\d)\b",
    r"\b(20\d\d)\s+(?:national\s+)?(?:medicare\s+)?(?:physician fee schedule|pfs\b|coding (?:and|&) reimbursement)",
)
CF_PATTERNS = (  # the physician conversion factor, not the anesthesia one
    r"(?<!anesthesia )conversion factor\s*(?:\(cf\))?\s*(?:of|is|was|:|=)?\s*\$?\s?(\d{2}\.\d{2,4})",
    r"(?<!anesthesia )\bCF\s*(?:of|is|:|=)?\s*\$?\s?(\d{2}\.\d{2,4})",
)

_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20}
_WORDS = "|".join(_NUMBER_WORDS)
# a limit as printed: "one (1)", "5", "five"
_NUM = rf"(?:(?:{_WORDS})\s*\(\s*(?P<np>\d{{1,3}})\s*\)|(?<![$\d.,])(?P<nd>\d{{1,3}})(?!\d|[.,]\d|%)|(?P<nw>{_WORDS}))"
_PCODE = rf"(?:(?P<plus>\+)\s?)?(?P<code>{CODE})"
# Only sentences that mention MUEs are read for limits.
MUE_SENTENCE_RE = re.compile(r"\bmues?\b|unlikely edit|maximum of \S+ units?", re.I)
MUE_PATTERNS = tuple(re.compile(p, re.I) for p in (
    # "1 for 37252", "a quantity of one (1) for 37252", "5 units for 37253", "MUE of 1 applies to 37252"
    _NUM + rf"\s*(?:units?\s*)?(?:of service\s*)?(?:per day\s*)?(?:for|appl(?:y|ies) to)\s+(?:(?:cpt|hcpcs)\s+)?(?:codes?\s+)?{_PCODE}",
    # "37252 has an MUE of 1", "37253: maximum of 5 units"
    rf"{_PCODE}\b[^.;]{{0,60}}?\b(?:mues?|limit(?:ed)?|maximum|max)\b[^.;\d]{{0,30}}?" + _NUM,
    # "the MUE for 37252 is 1"
    rf"\b(?:mues?|limit)\s+(?:for|of)\s+(?:(?:cpt|hcpcs)\s+)?(?:codes?\s+)?{_PCODE}\s*(?:is|=|:)\s*" + _NUM,
))
NOT_WITH_RE = re.compile(
    r"\b(?:cannot|can not|may not|must not|should not|is not|are not)\s+(?:be\s+)?(?:separately\s+)?"
    r"(?:reported|billed|coded)\s+(?:together\s+)?(?:with|in conjunction with|in addition to)\b"
    r"|\bnot\s+(?:separately\s+)?reportable\s+with\b", re.I)
BULLET_RE = re.compile(r"\(cid:\d+\)|[•▪●◦■‣➢►]")

RULED_SETTINGS = {"vertical_strategy": "lines", "horizontal_strategy": "lines"}
COLUMN_GAP = 0.6        # words further apart than this many text heights are in different cells
HEADER_LINE_GAP = 1.5   # header lines at most this many text heights apart
ROW_GAP = 2.5           # rows of an unruled table at most this many text heights apart
MAX_HEADER_LINES = 4


# --- API -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GuideFigure:
    page: int            # 1-based page number
    hcpcs: str           # 5-char code, '+' add-on marker and footnote marks removed
    field: str           # work_rvu, total_rvu_facility, ..., mue, not_reported_with
    value: str           # normalised: numbers as plain decimals ("927", "1026.07"), indicators as given ("N1")
    raw: str             # the text as printed, e.g. "$1,026.07*"
    add_on: bool         # the guide prints the code with a '+' add-on marker


@dataclass
class GuideExtract:
    path: Path
    year: int | None
    conversion_factor: str | None
    figures: list[GuideFigure]


def extract_guide(path: Path, year: int | None = None) -> GuideExtract:
    """Every figure a vendor guide PDF states per code. ParseError if the file is not a readable PDF or has
    no table of codes."""
    path = Path(path)
    _check_is_pdf(path)
    try:
        with pdfplumber.open(path) as pdf:
            pages = [_read_page(page) for page in pdf.pages]
    except Exception as exc:  # noqa: BLE001 - pdfminer raises many kinds on a damaged file; only pdfplumber runs here
        cause = exc.args[0] if isinstance(exc, PdfminerException) and exc.args else exc
        if isinstance(cause, (PDFPasswordIncorrect, PDFEncryptionError)):
            raise ParseError(f"{path} is encrypted (it needs a password to be read)") from exc
        raise ParseError(f"{path} is not a readable PDF (corrupt or truncated): {cause!r}") from exc

    text = "\n".join(p.text for p in pages)
    year = year if year is not None else _find_year(text)
    conversion_factor = _first_match(CF_PATTERNS, text)

    table_figures = _table_figures(pages, year)
    if not table_figures:
        raise ParseError(f"no table of HCPCS/CPT codes found in {path} (looked for a column of codes next to "
                         "columns of RVUs, payments or status indicators)")
    table_codes = list(dict.fromkeys(f.hcpcs for f in table_figures))
    prose = _prose_figures(pages, table_codes)

    add_on_codes = {f.hcpcs for f in table_figures + prose if f.add_on}
    figures = []
    for f in table_figures + prose:
        f = GuideFigure(f.page, f.hcpcs, f.field, f.value, f.raw, f.hcpcs in add_on_codes)
        if f not in figures:
            figures.append(f)
    return GuideExtract(path=path, year=year, conversion_factor=conversion_factor, figures=figures)


# --- file checks -----------------------------------------------------------------------------------------

def _check_is_pdf(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            head = fh.read(1024)
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 2048))
            tail = fh.read()
    except OSError as exc:
        raise ParseError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if b"%PDF-" not in head:
        raise ParseError(f"{path} is not a PDF (it does not start with %PDF-)")
    if b"%%EOF" not in tail:
        raise ParseError(f"{path} is not a readable PDF: truncated (no %%EOF at the end)")


# --- pages, words, lines ---------------------------------------------------------------------------------

@dataclass
class _Page:
    number: int
    text: str
    ruled: list  # pdfplumber Table objects with their extracted text: [(table, rows_text)]
    words: list[dict]
    prose: list[str] = dc_field(default_factory=list)  # the lines outside the tables read (set by _table_figures)


@dataclass
class _Cell:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float


@dataclass
class _Line:
    top: float
    bottom: float
    words: list[dict]

    @property
    def height(self) -> float:
        return max(w["bottom"] - w["top"] for w in self.words)


def _read_page(page) -> _Page:
    ruled = [(t, t.extract()) for t in page.find_tables(RULED_SETTINGS)]
    return _Page(page.page_number, page.extract_text() or "", ruled, page.extract_words())


def _clean(text: str | None) -> str:
    """Cell text as printed, on one line."""
    return " ".join((text or "").split())


def _strip_marks(text: str) -> str:
    return _MARKS_RE.sub("", text).strip()


def _code_of(text: str) -> tuple[str, bool] | None:
    """(code, add_on) when the text starts with a code ('+37252', '+ 37252*', '37252 Intravascular ...')."""
    words = _strip_marks(text).split()
    if words and words[0] == "+" and len(words) > 1:
        words = ["+" + words[1]]
    m = CODE_TOKEN_RE.match(_strip_marks(words[0])) if words else None
    return (m.group(2), m.group(1) == "+") if m else None


def _lines(words: list[dict]) -> list[_Line]:
    lines: list[_Line] = []
    for w in sorted(words, key=lambda w: (w["top"], w["x0"])):
        middle = (w["top"] + w["bottom"]) / 2
        if lines and lines[-1].top <= middle <= lines[-1].bottom:
            lines[-1].words.append(w)
            lines[-1].bottom = max(lines[-1].bottom, w["bottom"])
        else:
            lines.append(_Line(w["top"], w["bottom"], [w]))
    for line in lines:
        line.words.sort(key=lambda w: w["x0"])
    return lines


def _cells(words: list[dict], height: float) -> list[_Cell]:
    """Runs of words separated by less than a column gap."""
    cells: list[list[dict]] = []
    for w in words:
        if cells and w["x0"] - cells[-1][-1]["x1"] <= COLUMN_GAP * height:
            cells[-1].append(w)
        else:
            cells.append([w])
    return [_Cell(" ".join(w["text"] for w in ws), ws[0]["x0"], max(w["x1"] for w in ws),
                  min(w["top"] for w in ws), max(w["bottom"] for w in ws)) for ws in cells]


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return min(a1, b1) - max(a0, b0)


# --- header mapping and cell values ----------------------------------------------------------------------

_HEADER_RES = tuple((re.compile(p), f) for p, f in HEADER_FIELDS)


def _header_field(header: str, year: int | None) -> str | None:
    text = re.sub(r"[\-/_]", " ", _strip_marks(header).lower())
    text = " ".join(text.split())
    years = {int(y) for y in re.findall(r"\b(20\d\d)\b", text)}
    if year is not None and years and year not in years:
        return None  # a prior-year comparison column
    for pattern, field in _HEADER_RES:
        if pattern.search(text):
            return field
    return None


def _cell_figure(field: str, raw: str) -> tuple[str, str] | None:
    """(field, value) the cell states for a column of `field`, or None."""
    text = _strip_marks(raw)
    if field not in INDICATOR_FIELDS:
        first = text.split()[0] if text.split() else ""
        m = AMOUNT_RE.match(text) or AMOUNT_RE.match(first.rstrip(".,;:"))
        if m:
            return field, m.group(1).replace(",", "")
        field = INDICATOR_OF_PAYMENT.get(field, "")
        if not field:
            return None
    m = INDICATOR_RE.match(text)
    return (field, m.group(1)) if m else None


# --- tables ----------------------------------------------------------------------------------------------

@dataclass
class _Row:
    code: str
    add_on: bool
    cells: dict[int, str]  # column index -> text as printed


@dataclass
class _Head:
    """What a later page needs to continue a table without a repeated header."""
    kind: str                      # ruled | unruled
    page: int
    fields: list[str | None]       # per column
    spans: list[tuple[float, float]]  # per column (unruled)


def _table_figures(pages: list[_Page], year: int | None) -> list[GuideFigure]:
    figures: list[GuideFigure] = []
    last: _Head | None = None
    for page in pages:
        used_boxes = []
        first_on_page = True
        for table, rows_text in page.ruled:
            read = _read_ruled(table, rows_text, page.number, year,
                               last if first_on_page and last and last.kind == "ruled" else None)
            if read is None:
                continue
            head, rows = read
            first_on_page = False
            figures += _row_figures(page.number, head.fields, rows)
            used_boxes.append(table.bbox)
            last = head
        lines = _lines([w for w in page.words if not any(_inside(w, box) for box in used_boxes)])
        in_tables: set[int] = set()
        for head, rows, used in _read_unruled(lines, page.number, year,
                                               last if first_on_page and last and last.kind == "unruled" else None):
            figures += _row_figures(page.number, head.fields, rows)
            in_tables.update(used)
            last = head
        page.prose = [" ".join(w["text"] for w in line.words) for n, line in enumerate(lines) if n not in in_tables]
    return figures


def _inside(word: dict, box: tuple[float, float, float, float]) -> bool:
    x, y = (word["x0"] + word["x1"]) / 2, (word["top"] + word["bottom"]) / 2
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def _row_figures(page: int, fields: list[str | None], rows: list[_Row]) -> list[GuideFigure]:
    out = []
    for row in rows:
        for col, raw in row.cells.items():
            field = fields[col] if col < len(fields) else None
            got = _cell_figure(field, raw) if field and raw else None
            if got:
                out.append(GuideFigure(page, row.code, got[0], got[1], raw, row.add_on))
    return out


def _read_ruled(table, rows_text, page: int, year: int | None, previous: _Head | None):
    """(_Head, rows) of a ruled table of codes with at least one figure column, else None."""
    xs = sorted({c[0] for c in table.cells})
    tops = [next(c for c in row.cells if c is not None)[1] for row in table.rows]
    ncols, nrows = len(xs), len(tops)
    tol = 0.5
    # grid[r][c] = (origin row, origin position) of the cell covering row r, column c (merged cells expanded)
    grid: list[list[tuple[int, int] | None]] = [[None] * ncols for _ in range(nrows)]
    spans_all: set[tuple[int, int]] = set()
    for r, row in enumerate(table.rows):
        for j, box in enumerate(row.cells):
            if box is None:
                continue
            cols = [c for c in range(ncols) if box[0] - tol <= xs[c] < box[2] - tol]
            if len(cols) == ncols:
                spans_all.add((r, j))
            for m in (m for m in range(nrows) if box[1] - tol <= tops[m] < box[3] - tol):
                for c in cols:
                    grid[m][c] = (r, j)

    def printed(m: int, c: int) -> str:
        origin = grid[m][c]
        return (rows_text[origin[0]][origin[1]] or "") if origin else ""

    def text(m: int, c: int) -> str:
        return _clean(printed(m, c))

    body = next((m for m in range(nrows) if any(_code_of(text(m, c)) for c in range(ncols))), None)
    if body is None:
        return None
    code_col = next(c for c in range(ncols) if _code_of(text(body, c)))
    if body == 0:  # no header: a continuation of the previous page's table with the same columns
        if previous is None or previous.page >= page or len(previous.fields) != ncols:
            return None
        fields = list(previous.fields)
    else:
        fields = []
        for c in range(ncols):
            origins = dict.fromkeys(grid[m][c] for m in range(body))
            header = " ".join(_clean(rows_text[o[0]][o[1]]) for o in origins if o and o not in spans_all)
            fields.append(None if c == code_col else _header_field(header, year))
    if not any(fields):
        return None
    rows = []
    for m in range(body, nrows):
        if sum(1 for line in printed(m, code_col).splitlines() if _code_of(line)) > 1:
            return None  # several codes in one cell: the rows are not ruled apart, read the words instead
        code = _code_of(text(m, code_col))
        if code is None or (m > body and grid[m][code_col] == grid[m - 1][code_col]):
            continue
        rows.append(_Row(code[0], code[1], {c: text(m, c) for c in range(ncols) if c != code_col}))
    if not _row_figures(page, fields, rows):
        return None
    return _Head("ruled", page, fields, []), rows


def _line_code(line: _Line) -> tuple[str, bool, int] | None:
    """(code, add_on, number of words it takes) when a line starts with a code."""
    words = [w["text"] for w in line.words[:2]]
    if words and _strip_marks(words[0]) == "+" and len(words) > 1:
        m = CODE_TOKEN_RE.match(_strip_marks(words[1]))
        return (m.group(2), True, 2) if m else None
    m = CODE_TOKEN_RE.match(_strip_marks(words[0])) if words else None
    return (m.group(2), m.group(1) == "+", 1) if m else None


def _read_unruled(lines: list[_Line], page: int, year: int | None, previous: _Head | None):
    """[(_Head, rows, indexes of the lines it takes)] of the unruled tables of codes on a page."""
    found = []
    i = 0
    while i < len(lines):
        if _line_code(lines[i]) is None:
            i += 1
            continue
        rows, spans, code_span, end = _unruled_body(lines, i)
        header, first = _unruled_header(lines, i, spans, code_span)
        fields = [_header_field(h, year) for h in header]
        if not any(fields) and previous is not None and previous.page < page and not found:
            fields = _continued_fields(spans, previous)
        if _row_figures(page, fields, rows):  # a table only if it states at least one figure
            found.append((_Head("unruled", page, fields, spans), rows, range(first, end)))
        i = end
    return found


def _unruled_body(lines: list[_Line], start: int):
    """Rows from lines[start] on, until a line does not fit the columns. Returns (rows, column spans,
    code span, index of the first line not read)."""
    spans: list[list[float]] = []
    rows: list[_Row] = []
    code_span: list[float] = []
    j = start
    while j < len(lines):
        line = lines[j]
        height = line.height
        gap = line.top - lines[j - 1].bottom if j > start else 0.0
        code = _line_code(line)
        if code is not None:
            if rows and gap > ROW_GAP * height:
                break
            code_words, rest = line.words[:code[2]], line.words[code[2]:]
            span = [code_words[0]["x0"], code_words[-1]["x1"]]
        else:
            if not rows or gap > ROW_GAP * height:
                break
            rest, span = line.words, None  # a cell wrapped over several lines
        cells = _cells(rest, height)
        cur_code = code_span or span
        hits = []
        for cell in cells:
            cols = [k for k, s in enumerate(spans) if _overlap(cell.x0, cell.x1, s[0], s[1]) > 0]
            if len(cols) > 1 or _overlap(cell.x0, cell.x1, cur_code[0], cur_code[1]) > 0:
                hits = None  # the text crosses the columns: prose, not a row
                break
            hits.append(cols[0] if cols else None)
        if hits is None:
            break
        if code is not None:
            code_span = [min(cur_code[0], span[0]), max(cur_code[1], span[1])]
            rows.append(_Row(code[0], code[1], {}))
        for cell, k in zip(cells, hits):
            if k is None:
                spans.append([cell.x0, cell.x1])
                k = len(spans) - 1
            spans[k] = [min(spans[k][0], cell.x0), max(spans[k][1], cell.x1)]
            prior = rows[-1].cells.get(k)
            rows[-1].cells[k] = f"{prior} {cell.text}" if prior else cell.text
        j += 1
    # text starting in lower case continues the cell above: one cell spanning rows (a status printed once
    # for two codes, "Status N1: Packaged services. No separate" / "payment is made to facility")
    for above, row in zip(rows, rows[1:]):
        for k, text in row.cells.items():
            if text[:1].islower() and k in above.cells:
                row.cells[k] = above.cells[k] = f"{above.cells[k]} {text}"
    # columns in left-to-right order
    order = sorted(range(len(spans)), key=lambda k: spans[k][0])
    renumber = {old: new for new, old in enumerate(order)}
    for row in rows:
        row.cells = {renumber[k]: v for k, v in row.cells.items()}
    return rows, [tuple(spans[k]) for k in order], tuple(code_span), max(j, start + 1)


def _unruled_header(lines: list[_Line], start: int, spans, code_span) -> tuple[list[str], int]:
    """(header text per column, index of its first line) from the lines just above the first row (a phrase
    joins every column it covers at least half of, so a spanning group header reaches each column)."""
    header_cells: list[_Cell] = []
    k = start - 1
    below = lines[start]
    while k >= 0 and start - k <= MAX_HEADER_LINES:
        line = lines[k]
        limit = (ROW_GAP if k == start - 1 else HEADER_LINE_GAP) * line.height
        if below.top - line.bottom > limit or _line_code(line) is not None:
            break
        cells = _cells(line.words, line.height)
        if any(c.text.endswith(":") or (_overlap(c.x0, c.x1, *code_span) > 0
                                        and sum(_overlap(c.x0, c.x1, *s) > 0 for s in spans) > 1)
               for c in cells):
            break  # a sentence or title across the table
        header_cells = cells + header_cells
        below = line
        k -= 1
    header = []
    for s in spans:
        parts = [c.text for c in header_cells
                 if _overlap(c.x0, c.x1, *s) >= 0.5 * min(c.x1 - c.x0, s[1] - s[0])]
        header.append(" ".join(parts))
    return header, k + 1


def _continued_fields(spans, previous: _Head) -> list[str | None]:
    """The previous table's fields when every column lines up with one of its columns, else no fields."""
    fields = []
    for span in spans:
        same = [k for k, p in enumerate(previous.spans)
                if _overlap(*span, *p) >= 0.5 * min(span[1] - span[0], p[1] - p[0])]
        if len(same) != 1:
            return [None] * len(spans)
        fields.append(previous.fields[same[0]])
    return fields


# --- prose -----------------------------------------------------------------------------------------------

def _blocks(pages: list[_Page]) -> list[tuple[int, str, str]]:
    """(page, text, first line) of paragraphs: a bullet, a line after one ending a sentence, and a line after
    a list item (a line starting with a code) start a new block; other lines continue the block above (so a
    sentence wrapped before a code stays whole)."""
    blocks: list[list] = []
    for page in pages:
        for line in page.prose:
            parts = BULLET_RE.split(line)
            for n, part in enumerate(parts):
                part = part.strip()
                if not part:
                    continue
                after = blocks[-1] if blocks else None
                if (n > 0 or after is None or after[1].endswith((".", ":", ";", "!", "?"))
                        or _code_of(after[2]) is not None):
                    blocks.append([page.number, part, part])
                else:
                    blocks[-1][1] += " " + part
    return [tuple(b) for b in blocks]


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.;!?])\s+", text) if s]


def _num(m: re.Match) -> str:
    if m.group("np"):
        return str(int(m.group("np")))
    if m.group("nd"):
        return str(int(m.group("nd")))
    return str(_NUMBER_WORDS[m.group("nw").lower()])


def _prose_figures(pages: list[_Page], table_codes: list[str]) -> list[GuideFigure]:
    out: list[GuideFigure] = []
    blocks = _blocks(pages)
    for b, (page, block, _) in enumerate(blocks):
        for sentence in _sentences(block):
            if MUE_SENTENCE_RE.search(sentence):
                limits: dict[str, GuideFigure] = {}
                for pattern in MUE_PATTERNS:
                    for m in pattern.finditer(sentence):
                        limits.setdefault(m.group("code"), GuideFigure(
                            page, m.group("code"), "mue", _num(m), m.group(0).strip(), bool(m.group("plus"))))
                out += limits.values()
            hit = NOT_WITH_RE.search(sentence)
            if not hit:
                continue
            subjects = [(m.group(2), bool(m.group(1))) for m in PROSE_CODE_RE.finditer(sentence[:hit.start()])]
            subjects = subjects or [(c, False) for c in table_codes]
            objects = [(m.group(2), m.group(0)) for m in PROSE_CODE_RE.finditer(sentence[hit.end():])]
            if not objects and sentence.rstrip().endswith(":"):
                for _, _, item in blocks[b + 1:]:
                    code = _code_of(item)
                    if code is None:
                        break
                    objects.append((code[0], item))
            for code, add_on in subjects:
                for other, raw in objects:
                    if other != code:
                        out.append(GuideFigure(page, code, "not_reported_with", other, raw, add_on))
    return out


# --- year and conversion factor --------------------------------------------------------------------------

def _find_year(text: str) -> int | None:
    found = _first_match(YEAR_PATTERNS, text)
    return int(found) if found else None


def _first_match(patterns, text: str) -> str | None:
    for pattern in patterns:
        m = re.search(pattern, text, re.I)
        if m:
            return m.group(1)
    return None
