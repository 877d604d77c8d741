"""Validation reports a person opens: every suite's outcome of a release as validation.json and validation.html.

The Great Expectations adapter (expectations/runner.py) produces the SuiteResults; this module only renders them.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from pathlib import Path

from expectations.runner import ERROR, WARNING, SuiteResult, _compact

def write_reports(
    results: list[SuiteResult],
    out_dir: Path,
    title: str,
    created_at: str | None = None,
) -> tuple[Path, Path]:
    """Write validation.json (every result) and validation.html into out_dir; return both.

    Output is deterministic: the only timestamp is the top-level created_at the caller passes.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    document = {
        "title": title,
        "created_at": created_at,
        "success": all(r.success for r in results),
        "tables": [r.to_dict() for r in results],
    }
    json_text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    json_path = _write_atomic(out_dir / "validation.json", json_text)
    html_path = _write_atomic(out_dir / "validation.html", _render_html(results, title, created_at))
    return json_path, html_path


def _write_atomic(path: Path, text: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em; color: #222; }
h1 { margin-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
.meta { color: #555; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; white-space: pre-wrap;
       word-break: break-all; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 3px; font-weight: bold; color: #fff; }
.PASS { background: #2e7d32; } .FAIL { background: #c62828; } .WARN { background: #ef6c00; }
tr.FAIL td { background: #fdecea; } tr.WARN td { background: #fff4e5; }
"""

_MAX_KWARGS_CHARS = 400


def _render_html(results: list[SuiteResult], title: str, created_at: str | None) -> str:
    e = html.escape
    n_fail = sum(not r.success for r in results)
    n_warn = sum(len(r.warnings()) for r in results)
    overall = "PASS" if n_fail == 0 else "FAIL"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<h1>{e(title)} <span class="badge {overall}">{overall}</span></h1>',
        f'<p class="meta">{e(_plural(len(results), "table"))}: {len(results) - n_fail} passed, '
        f"{n_fail} failed; {e(_plural(n_warn, 'warning'))}."
        + (f" Created {e(created_at)}." if created_at else "")
        + "</p>",
    ]
    if results:
        out.append(
            "<table><thead><tr><th>Table</th><th>Release</th><th>Rows</th><th>Status</th>"
            "<th>Failed</th><th>Warnings</th></tr></thead><tbody>"
        )
        for i, r in enumerate(results):
            status = _status(r)
            out.append(
                f'<tr><td><a href="#table-{i}">{e(r.table)}</a></td><td>{e(r.release or "")}</td>'
                f'<td class="num">{r.row_count:,}</td>'
                f'<td><span class="badge {status}">{status}</span></td>'
                f'<td class="num">{len(r.failures())}</td><td class="num">{len(r.warnings())}</td></tr>'
            )
        out.append("</tbody></table>")
    for i, r in enumerate(results):
        out.extend(_render_table(i, r))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _status(r: SuiteResult) -> str:
    return "FAIL" if not r.success else "PASS"


def _render_table(i: int, r: SuiteResult) -> list[str]:
    e = html.escape
    status = _status(r)
    out = [
        f'<section id="table-{i}">',
        f'<h2>{e(r.table)} <span class="badge {status}">{status}</span></h2>',
        f'<p class="meta">Release: {e(r.release or "(none)")} &middot; Rows: {r.row_count:,} '
        f"&middot; {e(_plural(len(r.outcomes), 'expectation'))}: {len(r.failures())} failed, "
        f"{e(_plural(len(r.warnings()), 'warning'))}</p>",
    ]
    if not r.outcomes:
        out.append("<p>No expectations.</p></section>")
        return out
    out.append(
        "<table><thead><tr><th>Result</th><th>Severity</th><th>Expectation</th><th>Column</th>"
        "<th>Arguments</th><th>Unexpected</th><th>Unexpected %</th><th>Examples</th>"
        "<th>Observed / error</th></tr></thead><tbody>"
    )
    rank = {(False, ERROR): 0, (False, WARNING): 1}
    ordered = sorted(r.outcomes, key=lambda o: rank.get((o.success, o.severity), 2))
    for o in ordered:
        mark = "PASS" if o.success else ("FAIL" if o.severity == ERROR else "WARN")
        args = _compact(o.kwargs)
        if len(args) > _MAX_KWARGS_CHARS:
            args = args[:_MAX_KWARGS_CHARS] + "…"
        pct = "" if o.unexpected_percent is None else f"{o.unexpected_percent:.4g}"
        count = "" if o.unexpected_count is None else f"{o.unexpected_count:,}"
        examples = _compact(o.examples) if o.examples else ""
        if o.error:
            observed = "error: " + o.error
        else:
            observed = "" if o.observed is None else _compact(o.observed)
        out.append(
            f'<tr class="{mark}"><td><span class="badge {mark}">{mark}</span></td>'
            f"<td>{e(o.severity)}</td><td><code>{e(o.expectation)}</code></td>"
            f"<td>{e(o.column or '')}</td><td><code>{e(args)}</code></td>"
            f'<td class="num">{e(count)}</td><td class="num">{e(pct)}</td>'
            f"<td><code>{e(examples)}</code></td><td><code>{e(observed)}</code></td></tr>"
        )
    out.append("</tbody></table></section>")
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
