"""What changed between two data versions (or two releases): added and removed codes, changed values.

    cmsref diff 2024.2 2025.4                 two data versions: every table, rows matched by period and key
    cmsref diff 2024B 2025D                   two periods: the rows in effect on each period's first day
    cmsref diff --dataset pfs --details --format csv 2024.2 2025.4

Rows are matched by each table's natural key (pfs_rvu: HCPCS + modifier, mue: service type + HCPCS, ...); every
other published column is compared (lineage and effective dates are not values). pfs_payment is derived and
not compared: its inputs are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from core.errors import CmsrefError
from core.tables import TABLES
from core.sql import literal


@dataclass
class TableDiff:
    table: str
    a_release: str
    b_release: str
    added: int
    removed: int
    changed: int
    added_keys: list = field(default_factory=list)
    removed_keys: list = field(default_factory=list)
    changes: list = field(default_factory=list)  # (key..., column, old, new)


def _versions(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT data_version FROM meta.data_versions ORDER BY seq").fetchall()]


class UnknownLabel(CmsrefError):
    """A label that names no data version and no single period; `label` says which of the two compared it was."""

    def __init__(self, label: str, message: str):
        super().__init__(message)
        self.label = label


def _period(con, label: str) -> tuple[str, str, object]:
    """(dataset, release_id, effective_from) of a period of the latest data version ("2024B" or "pfs:2024B")."""
    dataset, _, period = label.rpartition(":")
    versions = _versions(con)
    latest = versions[-1] if versions else None
    rows = con.execute(
        "SELECT dataset, release_id, min(effective_from) FROM meta.data_version_tables WHERE data_version = ? "
        "AND upper(period) = ?" + (" AND dataset = ?" if dataset else "") + " GROUP BY ALL",
        [latest, period.upper()] + ([dataset] if dataset else [])).fetchall()
    if not rows:
        raise UnknownLabel(label, f"{label!r} is neither a data version ({', '.join(versions) or 'none'}) nor a period "
                                  f"in the latest data version")
    if len(rows) > 1:
        raise UnknownLabel(label, f"period {period!r} is in several datasets ({', '.join(r[0] for r in rows)}): "
                                  f"write it as dataset:period, e.g. {rows[0][0]}:{period}")
    return rows[0]


def diff(con: duckdb.DuckDBPyConnection, a: str, b: str, dataset: str | None = None,
         details: bool = False, limit: int | None = None) -> list[TableDiff]:
    """Two data versions: every table, its rows matched by period and key (a table whose rows are the same in both is
    listed with zeros). Two periods of a dataset: the rows in effect on each period's first day (a file carried over
    from an earlier release of the year is not 'removed'), matched by key."""
    versions = _versions(con)
    if a in versions and b in versions:
        out = []
        for name, table in TABLES.items():
            if dataset and table.dataset not in (dataset, "*"):
                continue
            sa, sb = (f"SELECT * FROM {name}_version({literal(v)})" for v in (a, b))
            out.append(_diff_table(con, table, a, b, sa, sb, details, limit, ("period", *table.key)))
        return out
    if a in versions or b in versions:
        raise CmsrefError(f"compare two data versions or two periods, not one of each ({a}, {b})")
    (ds_a, _, on_a), (ds_b, _, on_b) = _period(con, a), _period(con, b)
    if ds_a != ds_b:
        raise CmsrefError(f"{a} is a {ds_a} period and {b} a {ds_b} period: compare periods of one dataset")
    out = []
    for name, table in TABLES.items():
        if table.dataset not in (ds_a, "*") or (dataset and ds_a != dataset):
            continue
        sa, sb = (f"SELECT * FROM {name}_on(DATE {literal(str(on))}) WHERE release_id LIKE {literal(ds_a + '/%')}"
                  for on in (on_a, on_b))
        na, nb = con.execute(f"SELECT (SELECT count(*) FROM ({sa})), (SELECT count(*) FROM ({sb}))").fetchone()
        if na or nb:  # skip a table neither period has in effect
            sides = con.execute(f"SELECT (SELECT string_agg(DISTINCT release_id, ', ') FROM ({sa})), "
                                f"(SELECT string_agg(DISTINCT release_id, ', ') FROM ({sb}))").fetchone()
            out.append(_diff_table(con, table, sides[0] or "none", sides[1] or "none", sa, sb, details, limit,
                                   table.key))
    return out


def _diff_table(con, table, ra, rb, sa, sb, details, limit, key) -> TableDiff:
    key = list(key)
    values = [c.name for c in table.columns if c.name not in key]
    on = " AND ".join(f"a.{k} IS NOT DISTINCT FROM b.{k}" for k in key)
    keys = ", ".join(key)
    added_sql = f"SELECT {keys} FROM ({sb}) b WHERE NOT EXISTS (SELECT 1 FROM ({sa}) a WHERE {on}) ORDER BY ALL"
    removed_sql = f"SELECT {keys} FROM ({sa}) a WHERE NOT EXISTS (SELECT 1 FROM ({sb}) b WHERE {on}) ORDER BY ALL"
    unpivot = " UNION ALL ".join(
        f"SELECT {', '.join('a.' + k for k in key)}, '{c}' AS column_name, CAST(a.{c} AS VARCHAR) AS old, "
        f"CAST(b.{c} AS VARCHAR) AS new FROM ({sa}) a JOIN ({sb}) b ON {on} WHERE a.{c} IS DISTINCT FROM b.{c}"
        for c in values)
    changes_sql = f"SELECT * FROM ({unpivot}) ORDER BY ALL"
    count = lambda sql: con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]  # noqa: E731
    changed_rows = con.execute(
        f"SELECT count(*) FROM (SELECT DISTINCT {keys} FROM ({unpivot}))").fetchone()[0] if values else 0
    d = TableDiff(table.name, ra, rb, count(added_sql), count(removed_sql), changed_rows)
    if details:  # `limit` caps each list (None: everything)
        cap = f" LIMIT {int(limit)}" if limit is not None else ""
        d.added_keys = con.execute(added_sql + cap).fetchall()
        d.removed_keys = con.execute(removed_sql + cap).fetchall()
        d.changes = con.execute(changes_sql + cap).fetchall() if values else []
    return d


def release_notes(con: duckdb.DuckDBPyConnection, version: str) -> str:
    """Markdown release notes of a data version: what it holds, what is new since the previous one, the checks."""
    rows = con.execute("SELECT seq, data_version, published_at, manifest_sha256, cmsref_version FROM meta.data_versions "
                       "ORDER BY seq").fetchall()
    index = {r[1]: i for i, r in enumerate(rows)}
    if version not in index:
        raise CmsrefError(f"unknown data version {version!r}; published: {', '.join(r[1] for r in rows) or 'none'}")
    seq, name, published, manifest, built_by = rows[index[version]]
    previous = rows[index[version] - 1][1] if index[version] > 0 else None
    members = con.execute(
        "SELECT DISTINCT t.release_id, t.dataset, t.period, r.cms_release_date, r.validation "
        "FROM meta.data_version_tables t JOIN meta.releases r USING (release_id) WHERE t.data_version = ? "
        "ORDER BY t.dataset, t.period", [version]).fetchall()
    before = set()
    if previous:
        before = {r[0] for r in con.execute("SELECT DISTINCT release_id FROM meta.data_version_tables "
                                            "WHERE data_version = ?", [previous]).fetchall()}
    lines = [f"# cmsref data version {name}", "",
             f"Published {published:%Y-%m-%d %H:%M} UTC by cmsref {built_by}; manifest SHA-256 `{manifest}`.",
             f"Previous data version: {previous or 'none (first publish)'}.", "", "## Releases", "",
             "| release | dataset | period | CMS release date | new in this version | validation |", "|---|---|---|---|---|---|"]
    import json

    for rid, dataset, period, released, validation in members:
        v = json.loads(validation)
        warnings = sum(len([o for o in s.get("outcomes", []) if o.get("severity") == "warning" and not o.get("success")])
                       for s in v.get("suites", []))
        status = "passed" + (f", {warnings} warning(s)" if warnings else "")
        lines.append(f"| {rid} | {dataset} | {period} | {released or ''} | {'yes' if rid not in before else ''} | {status} |")
    if previous:
        lines += ["", f"## Changes since {previous}", "", "| table | from | to | added | removed | changed |",
                  "|---|---|---|---|---|---|"]
        for d in diff(con, previous, version):
            if d.added or d.removed or d.changed:
                lines.append(f"| {d.table} | {d.a_release} | {d.b_release} | {d.added} | {d.removed} | {d.changed} |")
        lines += ["", "Details: `cmsref diff --details " + previous + " " + version + "`."]
    return "\n".join(lines) + "\n"
