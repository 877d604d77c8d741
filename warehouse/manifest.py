"""A data version's manifest: what a downstream tool pins, and how it is recomputed to prove nothing changed.

A manifest lists, for one data version,
- every release with its source files, and `lineage_sha256`: a hash of the release's catalog row (`meta.releases`)
  and its `meta.source_files` rows (URLs, archives, sizes, SHA-256s), so a forged URL or release date is noticed;
- every table row set with its effective window, row count and `content_sha256` over every stored row (values and
  lineage columns: the source SHA-256 and row of each number);
- `definitions`: the SHA-256 of every view and macro stored in the warehouse as written by that publish (the SQL a
  DuckDB client runs when it queries `pfs_payment` or calls `pfs_rvu_on`).

`verify_version` recomputes all of it from what the file holds now. Views and macros are rewritten by every publish,
so the definitions stored now are compared with those recorded by the newest data version. Manifests written by an
older cmsref lack `lineage_sha256` or `definitions`; what they lack is not checked (and `verify` says so).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone

from core.errors import PublishError
from core.fields import decimal_parts
from core.tables import LINEAGE, TABLES


@dataclass(frozen=True)
class Problem:
    """One way a data version differs from its manifest: `table` names the table, view or macro (or "manifest")."""

    table: str
    detail: str

    def __str__(self) -> str:
        return self.detail


def sha256_json(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def hashed_columns(table: str) -> list[str]:
    return [c.name for c in (*TABLES[table].columns, *LINEAGE)]


def content_sha256(con, table: str, release_id: str, columns: list[str] | None = None) -> str:
    """SHA-256 of every stored row of one release in one table (the columns it was published with), in a canonical
    order: any changed value changes it. Decimals are hashed without trailing zeros, so widening a column's scale
    (1.50 stored as 1.500000000) leaves the hash of a published version as it was."""
    cols = columns or hashed_columns(table)
    types = {c: t for c, t in con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'store' AND table_name = ?",
        [table]).fetchall()}

    def canonical(c):
        text = f"CAST({c} AS VARCHAR)"
        return f"regexp_replace({text}, '\\.?0*$', '')" if decimal_parts(types.get(c, "")) else text
    row = "concat_ws(chr(31), " + ", ".join(f"coalesce({canonical(c)}, chr(0))" for c in cols) + ")"
    return con.execute(
        f"SELECT sha256(coalesce(string_agg(r, chr(10) ORDER BY r), '')) FROM "
        f"(SELECT {row} AS r FROM store.{table} WHERE release_id = ?)", [release_id]
    ).fetchone()[0]


def _canonical(value):
    if isinstance(value, datetime):  # a TIMESTAMPTZ comes back in the session's time zone: hash it in UTC
        return (value.astimezone(timezone.utc) if value.tzinfo else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _rows(con, sql: str, params: list) -> list[dict]:
    """Rows as {column: canonical text}, NULLs left out (so a column an upgrade adds, NULL for older releases,
    leaves their hashes as they were)."""
    rel = con.execute(sql, params)
    cols = [d[0] for d in rel.description]
    return [{c: _canonical(v) for c, v in zip(cols, r) if v is not None} for r in rel.fetchall()]


def lineage_sha256(con, release_id: str) -> str:
    """SHA-256 of a release's catalog row and of its source files' rows: every column, every file."""
    release = _rows(con, "SELECT * FROM meta.releases WHERE release_id = ?", [release_id])
    files = _rows(con, "SELECT * FROM meta.source_files WHERE release_id = ?", [release_id])
    return sha256_json({"release": release, "source_files": sorted(files, key=lambda f: json.dumps(f, sort_keys=True))})


def _stable(sql: str) -> str:
    """DuckDB renders a macro's `* EXCLUDE (a, b)` list from a set, in an order that can differ between two reads of
    the same file: the list is sorted, so only a changed definition changes the hash."""
    return re.sub(r"EXCLUDE \(([^()]*)\)",
                  lambda m: "EXCLUDE (" + ", ".join(sorted(x.strip() for x in m.group(1).split(","))) + ")", sql)


def definitions(con) -> dict[str, str]:
    """SHA-256 of every view and macro stored in the database file (not this connection's temporary ones), by
    `view <name>` / `macro <name>`."""
    out = {}
    for schema, name, sql in con.execute(
            "SELECT schema_name, view_name, sql FROM duckdb_views() WHERE NOT internal AND NOT temporary "
            "AND database_name NOT IN ('system', 'temp')").fetchall():
        out[f"view {schema}.{name}"] = hashlib.sha256(sql.encode()).hexdigest()
    macros: dict[str, list[str]] = {}
    for schema, name, params, body in con.execute(
            "SELECT schema_name, function_name, parameters, macro_definition FROM duckdb_functions() "
            "WHERE NOT internal AND function_type IN ('macro', 'table_macro') "
            "AND database_name NOT IN ('system', 'temp')").fetchall():
        macros.setdefault(f"macro {schema}.{name}", []).append(json.dumps([list(params or []), _stable(body)]))
    for key, texts in macros.items():  # a macro with overloads: every one of them, in a fixed order
        out[key] = hashlib.sha256("\n".join(sorted(texts)).encode()).hexdigest()
    return out


def build_manifest(con, version: str, chosen: dict, windows: list, *, columns: dict | None = None,
                   lineage: bool = True, defs: dict | None = None) -> dict:
    """What a downstream tool pins: every release, its source files and lineage hash, the tables' windows, row
    counts and content hashes, and (at publish) the views' and macros' hashes."""
    releases = []
    for (dataset, period), rid in sorted(chosen.items()):
        files = con.execute("SELECT kind, variant, member_name, sha256 FROM meta.source_files WHERE release_id = ? "
                            "ORDER BY kind, variant, member_name", [rid]).fetchall()
        entry = {"release_id": rid, "dataset": dataset, "period": period,
                 "sources": [dict(zip(("kind", "variant", "member", "sha256"), f)) for f in files]}
        if lineage:
            entry["lineage_sha256"] = lineage_sha256(con, rid)
        releases.append(entry)
    tables = [{"table": t, "release_id": r, "effective_from": str(f), "effective_to": str(e) if e else None,
               "rows": n, "columns": (cols := (columns or {}).get((t, r)) or hashed_columns(t)),
               "content_sha256": content_sha256(con, t, r, cols)}
              for t, r, _, _, f, e, n in sorted(windows, key=lambda w: (w[0], w[4]))]
    manifest = {"data_version": version, "releases": releases, "tables": tables}
    if defs is not None:
        manifest["definitions"] = defs
    return manifest


def verify_version(con, version: str) -> list[Problem]:
    """Recompute a published data version's manifest from what the warehouse holds now; [] when its rows, lineage,
    views and macros are as published (so its manifest_sha256 is the published one), else what differs."""
    row = con.execute("SELECT manifest_sha256, manifest FROM meta.data_versions WHERE data_version = ?",
                      [version]).fetchone()
    if row is None:
        raise PublishError(f"no data version {version!r} in this warehouse")
    stored_sha, stored_json = row
    stored = json.loads(stored_json)
    problems = []
    if sha256_json(stored) != stored_sha:
        problems.append(Problem("manifest", f"the stored manifest of {version} does not hash to its manifest_sha256 "
                                            f"{stored_sha}"))
    if not all("content_sha256" in t for t in stored.get("tables", [])):
        return problems + [Problem("manifest", f"data version {version} was published before manifests covered row "
                                               f"contents; its rows cannot be verified (re-publish them into a new "
                                               f"version to get content hashes)")]
    windows = [list(r) for r in con.execute(
        "SELECT table_name, release_id, dataset, period, effective_from, effective_to, row_count "
        "FROM meta.data_version_tables WHERE data_version = ?", [version]).fetchall()]
    chosen = {(d, p): rid for _, rid, d, p, *_ in windows}
    with_lineage = all("lineage_sha256" in r for r in stored.get("releases", []))
    now = build_manifest(con, version, chosen, windows, lineage=with_lineage, defs=stored.get("definitions"),
                         columns={(t["table"], t["release_id"]): t["columns"] for t in stored["tables"]
                                  if "columns" in t})
    published = {(t["table"], t["release_id"]): t for t in stored["tables"]}
    for t in now["tables"]:
        old = published.get((t["table"], t["release_id"]))
        if old is None:
            problems.append(Problem(t["table"], f"{t['table']} ({t['release_id']}) is not in the published manifest"))
        elif old["content_sha256"] != t["content_sha256"]:
            problems.append(Problem(t["table"], f"{t['table']} ({t['release_id']}): rows changed since publish "
                                                f"(content SHA-256 {t['content_sha256'][:12]}..., published "
                                                f"{old['content_sha256'][:12]}...)"))
    if with_lineage:
        published_lineage = {r["release_id"]: r["lineage_sha256"] for r in stored["releases"]}
        for r in now["releases"]:
            if published_lineage.get(r["release_id"]) != r["lineage_sha256"]:
                problems.append(Problem("source_files", f"releases / source_files ({r['release_id']}): its catalog "
                                                        f"row or source files (URL, name, size, SHA-256) changed "
                                                        f"since publish"))
    problems += _changed_definitions(con)
    if not problems and sha256_json(now) != stored_sha:
        problems.append(Problem("manifest", f"the manifest recomputed from the warehouse differs from the published "
                                            f"one ({stored_sha})"))
    return problems


def changed_definitions(recorded: dict | None, now: dict[str, str]) -> list[tuple[str, str]]:
    """The views and macros (name: SHA-256 of their SQL) that differ from those recorded, as (name, 'added' |
    'removed' | 'changed'); none where nothing was recorded (written by a cmsref that did not record them). Used for
    a warehouse against its newest publish and for an export against its manifest."""
    if recorded is None:
        return []
    return [(name, "added" if name not in recorded else "removed" if name not in now else "changed")
            for name in sorted(set(recorded) | set(now)) if recorded.get(name) != now.get(name)]


def _changed_definitions(con) -> list[Problem]:
    """The stored views and macros against those the newest publish wrote (it rewrote all of them)."""
    row = con.execute("SELECT manifest FROM meta.data_versions ORDER BY seq DESC LIMIT 1").fetchone()
    recorded = json.loads(row[0]).get("definitions") if row else None
    return [Problem(name.split(".", 1)[-1], f"{name} was {what} since the last publish (the SQL a DuckDB client runs "
                                            f"is not cmsref's)")
            for name, what in changed_definitions(recorded, definitions(con))]


def coverage(con, version: str) -> tuple[list[str], list[str]]:
    """(what verify_version checks of a version, what its manifest is too old to cover)."""
    stored = json.loads(con.execute("SELECT manifest FROM meta.data_versions WHERE data_version = ?",
                                    [version]).fetchone()[0])
    newest = json.loads(con.execute("SELECT manifest FROM meta.data_versions ORDER BY seq DESC LIMIT 1").fetchone()[0])
    parts = {"rows": True,
             "lineage": all("lineage_sha256" in r for r in stored.get("releases", [])),
             "views and macros": "definitions" in newest}
    return [k for k, v in parts.items() if v], [k for k, v in parts.items() if not v]
