"""Export one data version as a self-contained snapshot, and verify a snapshot against its manifest.

    cmsref export --version 2025.4 --to out/ [--format parquet|duckdb] [--without-cpt-descriptors]
    cmsref verify out/

A snapshot is one Parquet file per table (or one DuckDB file) plus manifest.json: the version, its manifest
checksum in the warehouse, cmsref's version, every table with its row count, columns and the SHA-256 of its file,
and every source file with its SHA-256. Rows are sorted by every column and written single-threaded, and the
manifest's created_at is the version's publication time, so exporting the same version twice gives
byte-identical Parquet files and manifest. (A DuckDB database file stores allocation details that can differ
between two writes, so for --format duckdb the manifest also records each table's content checksum, which is
what verify compares.)

pfs_payment is not exported: it is computed from pfs_rvu, pfs_gpci and conversion_factor (about 4 million rows
per release) with the formula in docs/payments.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import duckdb

from core import __version__
from core.errors import CmsrefError
from extract.download import sha256_file
from warehouse.api import open_version
from warehouse.manifest import changed_definitions, definitions
from warehouse.outputs import refuse_owned
from core.sql import literal
from core.tables import TABLES
from warehouse.views import snapshot_statements

# CPT (AMA) codes: 4 digits + a digit or letter (category I, II (F), III (T), PLA (U), MAAA (M)); CDT (ADA): D + 4
LICENSED_CODE_RE = r"^([0-9]{4}[0-9A-Z]|D[0-9]{4})$"
DESCRIPTOR_COLUMNS = {"description", "short_descriptor"}
CATALOG = {
    "releases": "SELECT r.* FROM meta.releases r WHERE release_id IN (SELECT release_id FROM meta.data_version_tables "
                "WHERE data_version = {v})",
    "source_files": "SELECT s.* FROM meta.source_files s WHERE release_id IN (SELECT release_id FROM "
                    "meta.data_version_tables WHERE data_version = {v})",
    "data_version_releases": "SELECT * FROM meta.data_version_tables WHERE data_version = {v}",
}


def _select(con, table: str, without_cpt: bool) -> str:
    cols = [r[0] for r in con.execute(f"SELECT * FROM {table} LIMIT 0").description]
    exprs = []
    for c in cols:
        if without_cpt and c in DESCRIPTOR_COLUMNS:
            exprs.append(f"CASE WHEN regexp_matches(hcpcs, '{LICENSED_CODE_RE}') THEN NULL ELSE {c} END AS {c}")
        else:
            exprs.append(c)
    return f"SELECT {', '.join(exprs)} FROM {table} ORDER BY ALL"


def _content_sha(con, sql: str) -> str:
    digest = hashlib.sha256()
    for row in con.execute(sql).fetchall():
        digest.update(repr(row).encode())
    return digest.hexdigest()


def export_version(db: Path, version: str, to: Path, fmt: str = "parquet", without_cpt: bool = False) -> Path:
    """Write the snapshot's files into a staging folder inside `to`, then rename each into place (manifest.json
    last): an interrupted export leaves no half-written file under a snapshot's name. The version's content is
    checked against its manifest first (open_version): an altered version is never exported."""
    if fmt not in ("parquet", "duckdb"):
        raise CmsrefError(f"unknown export format {fmt!r}: parquet or duckdb")
    to = refuse_owned(to, db, option="--to", folder=True)
    con = open_version(db, version, lock=False)
    to.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".cmsref-export-", dir=to))
    try:
        _export(con, stage, fmt, without_cpt)
        names = sorted(p.name for p in stage.iterdir() if p.is_file() and p.name != "manifest.json")
        for name in [*names, "manifest.json"]:
            os.replace(stage / name, refuse_owned(to / name, db, option="--to"))
        return to / "manifest.json"
    finally:
        con.close()
        shutil.rmtree(stage, ignore_errors=True)


def _export(con, to: Path, fmt: str, without_cpt: bool) -> dict:
    con.execute("SET threads = 1")  # one writer thread: the same bytes every time
    version = con.execute("SELECT pinned_version()").fetchone()[0]
    published_at, warehouse_manifest = con.execute(
        "SELECT published_at, manifest_sha256 FROM meta.data_versions WHERE data_version = ?", [version]).fetchone()
    selects = {name: _select(con, name, without_cpt) for name in TABLES}
    v = literal(version)
    selects.update({name: sql.format(v=v) + " ORDER BY ALL" for name, sql in CATALOG.items()})
    tables = []
    parquet_dir = to if fmt == "parquet" else Path(tempfile.mkdtemp(prefix=".export-", dir=to))
    for name, sql in sorted(selects.items()):
        path = parquet_dir / f"{name}.parquet"
        con.execute(f"COPY ({sql}) TO {literal(path)} (FORMAT parquet, COMPRESSION zstd)")
        file_name, sha = (path.name, sha256_file(path)) if fmt == "parquet" else (f"cmsref-{version}.duckdb", None)
        tables.append(_entry(con, name, sql, file_name, sha))
    if fmt == "duckdb":
        # the warehouse connection is read-only: build the snapshot file in a connection of its own
        path = to / f"cmsref-{version}.duckdb"
        path.unlink(missing_ok=True)
        snap = duckdb.connect(str(path))
        try:
            snap.execute("SET threads = 1")
            for name in sorted(selects):
                snap.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet({literal(f'{parquet_dir / name}.parquet')})")
            for statement in snapshot_statements(version):  # the views and macros: the README's queries run
                snap.execute(statement)
            snap.execute("CHECKPOINT")
            snapshot_definitions = definitions(snap)
        finally:
            snap.close()
            shutil.rmtree(parquet_dir)
    if fmt == "parquet":  # `duckdb -c ".read views.sql"` in the folder gives the views and macros
        views_sql = "".join(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{name}.parquet');\n"
                            for name in sorted(selects))
        views_sql += "".join(statement + ";\n" for statement in snapshot_statements(version))
        (to / "views.sql").write_text(views_sql, encoding="utf-8")
        snapshot_definitions = {"views.sql": hashlib.sha256(views_sql.encode()).hexdigest()}
    rel = con.execute(
        "SELECT DISTINCT * EXCLUDE (archive_sha256, retrieved_at) FROM meta.source_files "  # + mirror_path, if any
        f"WHERE release_id IN (SELECT release_id FROM meta.data_version_tables WHERE data_version = {v}) "
        "ORDER BY ALL")
    source_columns = [d[0] for d in rel.description]
    sources = rel.fetchall()
    manifest = {
        "data_version": version, "warehouse_manifest_sha256": warehouse_manifest,
        "created_at": published_at.isoformat(), "cmsref_version": __version__, "format": fmt,
        "without_cpt_descriptors": without_cpt,
        "tables": tables,
        "definitions": snapshot_definitions,  # the views and macros a DuckDB client runs: verify checks them
        "sources": [dict(zip(source_columns, s)) for s in sources],
        "notice": "CPT codes and descriptors are copyright American Medical Association; CDT codes American Dental "
                  "Association." + (" CPT and CDT descriptors were removed from this export." if without_cpt else ""),
    }
    (to / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _entry(con, name, sql, file_name, file_sha):
    rel = con.execute(f"SELECT * FROM ({sql}) LIMIT 0")
    columns = [{"name": d[0], "type": str(d[1])} for d in rel.description]
    rows = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]
    entry = {"table": name, "file": file_name, "rows": rows, "columns": columns,
             "content_sha256": _content_sha(con, sql)}
    if file_sha:
        entry["sha256"] = file_sha
    return entry


def verify(snapshot: Path) -> list[str]:
    """Problems found (empty: the snapshot matches its manifest)."""
    snapshot = Path(snapshot)
    manifest_path = snapshot / "manifest.json"
    if not manifest_path.is_file():
        raise CmsrefError(f"{snapshot} has no manifest.json: not a cmsref snapshot")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["format"], manifest["data_version"], manifest["tables"]  # noqa: B018 (the keys verify reads)
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise CmsrefError(f"{manifest_path} is damaged ({type(exc).__name__}: {exc}); export the version again") \
            from None
    problems = []
    con = duckdb.connect()
    try:
        if manifest["format"] == "duckdb":
            path = snapshot / f"cmsref-{manifest['data_version']}.duckdb"
            if not path.is_file():
                return [f"{path.name} is missing"]
            con.execute(f"ATTACH {literal(path)} AS snapshot (READ_ONLY)")
            problems += _changed_definitions(manifest, definitions(con))
        elif manifest["format"] == "parquet" and (snapshot / "views.sql").is_file():
            problems += _changed_definitions(manifest, {"views.sql": sha256_file(snapshot / "views.sql")})
        for t in manifest["tables"]:
            path = snapshot / t["file"]
            if not path.is_file():
                problems.append(f"{t['file']} is missing")
                continue
            if "sha256" in t and sha256_file(path) != t["sha256"]:
                problems.append(f"{t['file']}: SHA-256 {sha256_file(path)} differs from the manifest's {t['sha256']}")
                continue
            source = f"read_parquet({literal(path)})" if manifest["format"] == "parquet" else f"snapshot.{t['table']}"
            try:
                rows = con.execute(f"SELECT count(*) FROM {source}").fetchone()[0]
                content = _content_sha(con, f"SELECT * FROM {source} ORDER BY ALL")
            except duckdb.Error as exc:
                problems.append(f"{t['file']}: unreadable: {exc}")
                continue
            if rows != t["rows"]:
                problems.append(f"{t['file']}: {rows} rows, the manifest says {t['rows']}")
            elif content != t["content_sha256"]:
                problems.append(f"table {t['table']} in {t['file']}: content differs from the manifest")
    finally:
        con.close()
    return problems


def _changed_definitions(manifest: dict, now: dict[str, str]) -> list[str]:
    """The snapshot's views and macros (the SQL a DuckDB client runs, or views.sql) against the manifest's."""
    return [f"{name} was {what} since the export" for name, what in changed_definitions(manifest.get("definitions"), now)]
