"""The reconciliation report a person reads: every check of a guide, mismatches first, as HTML or Markdown.

The checks come from expectations/reconcile.py; this module only renders them.
"""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path

from expectations.reconcile import STATUS_ORDER, Check
from transform.vendor_guide import GuideExtract

COLUMNS = ("page", "code", "field", "guide value (raw)", "CMS value", "status", "CMS release", "note")


def _ordered(checks: list[Check]) -> list[Check]:
    rank = {s: n for n, s in enumerate(STATUS_ORDER)}
    return sorted(checks, key=lambda c: rank.get(c.status, len(rank)))  # stable: the guide's order within a status


def _cells(c: Check) -> tuple[str, ...]:
    guide = c.guide_value if c.guide_raw.strip() == c.guide_value else f"{c.guide_value} ({c.guide_raw})"
    return (str(c.page), c.hcpcs, c.field, guide, c.cms_value if c.cms_value is not None else "—", c.status,
            c.cms_release or "—", c.note)


def _header(checks: list[Check], extract: GuideExtract, year: int | None) -> list[tuple[str, str]]:
    counts = Counter(c.status for c in checks)
    shas = sorted({c.guide_sha256 for c in checks})
    releases = sorted({c.cms_release for c in checks if c.cms_release})
    return [
        ("guide", Path(extract.path).name),
        ("SHA-256", ", ".join(shas) or "—"),
        ("year", str(year if year is not None else extract.year or "not stated")),
        ("conversion factor stated", extract.conversion_factor or "not stated"),
        ("CMS releases used", ", ".join(releases) or "none"),
        ("checks", ", ".join(f"{counts.get(s, 0)} {s}" for s in STATUS_ORDER)),
    ]


def render_report(checks: list[Check], extract: GuideExtract, fmt: str = "html", *, year: int | None = None) -> str:
    """The checks as a self-contained HTML page or Markdown: a header (guide, SHA-256, year, CF stated, CMS
    releases used, counts per status), then one row per check, mismatches first, then not in CMS data, not
    comparable, matches. `year`: the year reconciled, when it differs from the one the guide states."""
    header = _header(checks, extract, year)
    rows = [_cells(c) for c in _ordered(checks)]
    statuses = [c.status for c in _ordered(checks)]
    if fmt == "markdown":
        return _markdown(header, rows)
    if fmt == "html":
        return _html(header, rows, statuses)
    raise ValueError(f"unknown report format {fmt!r} (html or markdown)")


def _md(text: str) -> str:
    return " ".join(html.escape(text, quote=False).split()).replace("|", "\\|")


def _markdown(header, rows) -> str:
    out = [f"# Guide check: {_md(header[0][1])}", ""]
    out += [f"- **{_md(k)}**: {_md(v)}" for k, v in header]
    out += ["", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(_md(v) for v in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


_CSS = """body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}
td,th{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#eee}
dt{font-weight:bold;float:left;clear:left;width:14em}dd{margin-left:15em}
tr.mismatch td{background:#fdd}tr.not-in-cms-data td{background:#ffe9c7}tr.not-comparable td{background:#eee}
tr.match td{background:#e6f4e6}"""


def _html(header, rows, statuses) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>Guide check: {e(header[0][1])}</title>", f"<style>{_CSS}</style></head><body>",
           f"<h1>Guide check: {e(header[0][1])}</h1>", "<dl>"]
    out += [f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in header]
    out += ["</dl>", "<table>", "<thead><tr>" + "".join(f"<th>{e(c)}</th>" for c in COLUMNS) + "</tr></thead>",
            "<tbody>"]
    for row, status in zip(rows, statuses):
        css = status.lower().replace(" ", "-")
        out.append(f'<tr class="{e(css)}">' + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>")
    out += ["</tbody></table>", "</body></html>"]
    return "\n".join(out) + "\n"
