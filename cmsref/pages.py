"""The pages of `cmsref serve` a person reads: the index (data versions, release notes, validation reports, a diff
between two versions) and the code page (one code on one date of service in every setting, with the source file,
SHA-256 and row of every number, and its national payment across the loaded years as an inline SVG chart).

Plain HTML rendered on the server: no JavaScript, no fonts or scripts from elsewhere (the machine may be offline);
labels on every field, header cells with scope, print styles, high contrast.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from warehouse.lookup import dict_rows, on

CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#111;background:#fff;max-width:72rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:1.6rem;border-bottom:1px solid #999}
table{border-collapse:collapse;margin:.4rem 0}th,td{border:1px solid #777;padding:.2rem .5rem;text-align:left}
th{background:#e8e8e8}td.num{text-align:right;font-variant-numeric:tabular-nums}
a{color:#0645ad}.muted{color:#444}.bad{color:#a00;font-weight:bold}
form{margin:.5rem 0 1rem}label{margin-right:.3rem}input{margin-right:.8rem}
@media print{form,nav{display:none}a{color:#000;text-decoration:none}}
"""


def e(value) -> str:
    return html.escape("" if value is None else str(value))


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head><body>'
            f'<nav><a href="/">cmsref</a></nav>{body}</body></html>')


def table(headers: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    if not rows:
        return '<p class="muted">none</p>'
    head = "".join(f'<th scope="col">{e(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def source_link(sha: str | None, row: int | None) -> str:
    if not sha:
        return ""
    return f'<a href="/source/{e(sha)}?row={e(row)}" title="SHA-256 {e(sha)}">{e(sha[:12])}… row {e(row)}</a>'


def search_form(hcpcs: str = "", day: str = "", locality: str = "") -> str:
    """A code on a date, nationally or in a locality given as MAC:LOC or by the ZIP code of service."""
    return ('<form action="/code" method="get" role="search">'
            f'<label for="hcpcs">Code</label><input id="hcpcs" name="hcpcs" value="{e(hcpcs)}" size="6" required>'
            f'<label for="date">Date of service</label><input id="date" name="date" type="date" value="{e(day)}" '
            f'required><label for="locality">Locality (MAC:LOC)</label><input id="locality" name="locality" '
            f'value="{e(locality)}" size="9"><label for="zip">or ZIP code</label><input id="zip" name="zip" '
            f'size="10" inputmode="numeric"><button type="submit">Show</button></form>')


def chart(points: list[tuple[str, float]], title: str) -> str:
    """A small bar chart as inline SVG: one bar per loaded year, labelled with its amount."""
    if not points:
        return '<p class="muted">no PFS release loaded</p>'
    width, height, bar = 60 * len(points) + 40, 180, 36
    top = max(v for _, v in points) or 1
    bars = []
    for i, (label, value) in enumerate(points):
        h = 120 * value / top
        x = 30 + 60 * i
        bars.append(f'<rect x="{x}" y="{150 - h:.1f}" width="{bar}" height="{h:.1f}" fill="#2b5c8a"/>'
                    f'<text x="{x + bar / 2}" y="{145 - h:.1f}" text-anchor="middle" font-size="11">{value:,.2f}</text>'
                    f'<text x="{x + bar / 2}" y="168" text-anchor="middle" font-size="11">{e(label)}</text>')
    return (f'<svg role="img" aria-label="{e(title)}" width="{width}" height="{height}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{e(title)}</title>{"".join(bars)}</svg>')


def code_page(con, version: str, sha: str, code: str, day: str, locality: tuple[str, str] | None, record: dict,
              windows) -> str:
    """Everything about one code on one date, each number with its source. `record`: warehouse.lookup.code_record;
    `windows(locality)`: the code's payment windows, national for None (warehouse.lookup.payment_windows)."""
    loc_text = f"{locality[0]}:{locality[1]}" if locality else ""
    parts = [f"<h1>{e(code)} on {e(day)}</h1>",
             f'<p class="muted">Data version {e(version)} (manifest SHA-256 {e(sha)}).</p>', search_form(code, day, loc_text)]
    status, pfs, opps, asc, mue, addon = (record[k] for k in ("settings", "pfs", "opps", "asc", "mue",
                                                               "addon_primaries"))
    parts += ["<h2>In every setting</h2>", table(
        ["setting", "release", "indicator", "what it means", "APC", "weight", "rate", "status"],
        [[e(s["setting"]), e(s["period"]), e(s["indicator"]), e(s["definition"]), e(s["apc"]), e(s["weight"]),
          e(s["payment_rate"]), e(s["status"])] for s in status], {5, 6})]
    parts += ["<h2>Physician fee schedule</h2>", table(
        ["modifier", "release", "status", "work RVU", "non-facility PE", "facility PE", "MP RVU", "global", "source"],
        [[e(r["modifier"] or "none"), e(r["period"]), e(r["status_code"]), e(r["work_rvu"]),
          e(r["non_facility_pe_rvu"]), e(r["facility_pe_rvu"]), e(r["mp_rvu"]), e(r["global_days"]),
          source_link(r["source_sha256"], r["source_row"])] for r in pfs], {3, 4, 5, 6})]
    for title, loc in (("National payment", None), (f"Payment in {loc_text}", locality)):
        if loc is None and title != "National payment":
            continue
        amounts = on(windows(loc), day)
        parts += [f"<h2>{e(title)}</h2>", table(
            ["setting", "release", "conversion factor", "GPCIs (work, PE, MP)", "amount", "locality", "RVUs from",
             "GPCIs from"],
            [[e(a["setting"]), e(a["period"]), e(a["conversion_factor"]),
              e(f'{a["work_gpci"]}, {a["pe_gpci"]}, {a["mp_gpci"]}'), e(a["amount"]),
              e(a["locality_name"] or a["locality"]), source_link(a["rvu_source_sha256"], a["rvu_source_row"]),
              source_link(a["gpci_source_sha256"], a["gpci_source_row"]) or "national: all 1"]
             for a in amounts], {2, 4})]
    history = dict_rows(con, "SELECT period, min(effective_from) AS since FROM pfs_rvu GROUP BY period ORDER BY since",
                        [])
    national = windows(None)
    points = []
    for h in history:
        amount = next((r["amount"] for r in on(national, h["since"]) if r["setting"] == "non_facility"), None)
        if amount is not None:
            points.append((h["period"], float(amount)))
    parts += ["<h2>National non-facility payment in each loaded PFS release</h2>",
              chart(points, f"national non-facility payment of {code} by PFS release")]
    parts += ["<h2>Hospital outpatient (OPPS Addendum B)</h2>", table(
        ["release", "SI", "APC", "weight", "rate", "national copay", "minimum copay", "source"],
        [[e(r["period"]), e(r["status_indicator"]), e(r["apc"]), e(r["relative_weight"]), e(r["payment_rate"]),
          e(r["national_unadjusted_copayment"]), e(r["minimum_unadjusted_copayment"]),
          source_link(r["source_sha256"], r["source_row"])] for r in opps], {3, 4, 5, 6})]
    parts += ["<h2>Ambulatory surgical center (ASC addenda)</h2>", table(
        ["addendum", "release", "payment indicator", "weight", "rate", "source"],
        [[e(r["addendum"]), e(r["period"]), e(r["payment_indicator"]), e(r["payment_weight"]), e(r["payment_rate"]),
          source_link(r["source_sha256"], r["source_row"])] for r in asc], {3, 4})]
    parts += ["<h2>Medically unlikely edits</h2>", table(
        ["service type", "release", "MUE", "adjudication", "rationale", "source"],
        [[e(r["service_type"]), e(r["period"]), e(r["mue_value"]), e(f'{r["mai"]} {r["mai_label"]}'),
          e(r["rationale"]), source_link(r["source_sha256"], r["source_row"])] for r in mue], {2})]
    parts += ["<h2>Add-on code edits: allowed primary codes</h2>", table(
        ["primary code", "edit type", "from", "until", "source"],
        [[f'<a href="/code/{e(a["primary_code"])}?date={e(day)}">{e(a["primary_code"])}</a>', e(a["edit_type"]),
          e(a["edit_effective_date"]), e(a["edit_deletion_date"] or "—"),
          source_link(a["source_sha256"], a["source_row"])] for a in addon])]
    guides = dict_rows(con, "SELECT guide, page, field, guide_raw, cms_value, status, cms_release, note "
                       "FROM vendor_guide_check WHERE hcpcs = ? ORDER BY guide, page, field", [code])
    parts += ["<h2>Vendor coding guides</h2>", table(
        ["guide", "page", "figure", "guide says", "CMS", "status", "CMS release", "note"],
        [[e(g["guide"]), e(g["page"]), e(g["field"]), e(g["guide_raw"]), e(g["cms_value"]),
          f'<span class="{"bad" if g["status"] == "mismatch" else ""}">{e(g["status"])}</span>', e(g["cms_release"]),
          e(g["note"])] for g in guides])]
    return page(f"{code} on {day}: cmsref", "".join(parts))


def cms_link(url: str | None) -> str:
    """CMS's URL of a source file as a link (a curated file of the project is named by its path, not linked)."""
    if url and url.startswith(("https://", "http://")):
        return f'<a href="{e(url)}">{e(url)}</a>'
    return e(url)


def source_page(con, sha: str, row: int | None) -> str:
    has_mirror = con.execute("SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'meta' AND table_name = "
                             "'source_files' AND column_name = 'mirror_path'").fetchone()[0]
    mirror = "mirror_path" if has_mirror else "NULL AS mirror_path"
    files = dict_rows(con, f"SELECT release_id, kind, url, {mirror}, archive_name, member_name, size, sha256, "
                      f"retrieved_at FROM meta.source_files WHERE sha256 = ? ORDER BY release_id", [sha])
    body = [f"<h1>Source file {e(sha[:12])}…</h1>",
            f"<p>Row {e(row)} of this file (1-based record number; its line in a CSV/TXT, its row in a workbook "
            f"sheet).</p>" if row else "",
            table(["release", "kind", "CMS URL", "read from (mirror)", "archive", "file", "bytes", "SHA-256",
                   "retrieved"],
                  [[e(f["release_id"]), e(f["kind"]), cms_link(f["url"]), e(f["mirror_path"]), e(f["archive_name"]),
                    e(f["member_name"]), e(f["size"]), e(f["sha256"]), e(f["retrieved_at"])] for f in files], {6})]
    return page(f"source {sha[:12]}: cmsref", "".join(body))


def index_page(con) -> str:
    versions = dict_rows(con, "SELECT data_version, published_at, manifest_sha256, summary FROM meta.data_versions "
                         "ORDER BY seq DESC", [])
    names = [v["data_version"] for v in versions]
    releases = dict_rows(con, "SELECT release_id, dataset, period, validation FROM meta.releases ORDER BY release_id",
                         [])
    options = "".join(f'<option value="{e(n)}">{e(n)}</option>' for n in names)
    body = ["<h1>cmsref data versions</h1>", search_form(),
            table(["data version", "published", "manifest SHA-256", "releases built", "notes"],
                  [[e(v["data_version"]), e(v["published_at"]), f"<code>{e(v['manifest_sha256'])}</code>",
                    e(v["summary"]), f'<a href="/notes/{e(v["data_version"])}">release notes</a>'] for v in versions]),
            "<h2>Compare two data versions</h2>",
            f'<form action="/diff" method="get"><label for="a">from</label><select id="a" name="a">{options}</select>'
            f'<label for="b">to</label><select id="b" name="b">{options}</select><button type="submit">Compare'
            f"</button></form>",
            "<h2>Validation reports</h2>",
            table(["release", "dataset", "period", "report"],
                  [[e(r["release_id"]), e(r["dataset"]), e(r["period"]),
                    f'<a href="/reports/{e(r["release_id"])}">validation report</a>'
                    if json.loads(r["validation"]).get("report_html") else "—"] for r in releases])]
    return page("cmsref", "".join(body))


def notes_page(text: str, version: str) -> str:
    return page(f"release notes {version}: cmsref", f"<pre>{e(text)}</pre>")


def diff_page(result, a: str, b: str) -> str:
    return page(f"{a} to {b}: cmsref", f"<h1>From {e(a)} to {e(b)}</h1>" + table(
        ["table", "added", "removed", "changed"],
        [[e(d.table), e(d.added), e(d.removed), e(d.changed)] for d in result if d.added or d.removed or d.changed],
        {1, 2, 3}))


def report_file(validation_json: str, roots: list[Path]) -> Path | None:
    """A release's validation report, looked up in the reports folders `roots` (the data folder of the warehouse
    served, then $CMSREF_HOME/reports): a release names it relative to the reports folder it was built with
    (releases built before that name it by its absolute path: its last two parts are looked up). A name that would
    lead out of the reports folder is never followed."""
    path = json.loads(validation_json).get("report_html")
    if not path:
        return None
    name = Path(*Path(path).parts[-2:]) if Path(path).is_absolute() else Path(path)
    for root in roots:
        root = Path(root).resolve()
        candidate = (root / name).resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            return candidate
    return None


def not_found_page(code: str, day: str, reason: str) -> str:
    """A code page for a code no table has on that date: why, and the search box to try another."""
    return page(f"{code} on {day}: not found", f"<h1>{e(code)} on {e(day)}</h1><p>{e(reason)}</p>"
                                               f"{search_form(code, day)}")
