"""Claim-line files of any size checked and priced by the claim-line macros (warehouse/claim_rules.py), out of core.

    run(inputs, output, reference, work_dir, ...)      `cmsref lines`: CSV, Parquet or JSON Lines files in, one file out
    check_arrow(lines, reference, ...)                 one batch of lines in memory (a Spark partition) in, results out

The rules are the macros, run in a DuckDB connection of this module's own (the pinned reader connections are locked
and never touch a file). That connection holds the reference tables the macros read, copied from a pinned data
version (`Reference.from_version`: a reader connection of warehouse.api.open_version, so the version is checked
against its manifest first) or from a verified export (`Reference.from_export`). pfs_check prices each line from its
RVU, GPCI and conversion factor rows directly (the formula of the pfs_payment view, never the whole view).

A file's lines are read in SQL, never row by row in Python: each field of a line (the names of `POST /lines`) is
taken from its column (or `--map`ped from another name), normalised as core/fields.py says (upper case, leading zeros)
and checked; a bad value is that line's status (`invalid: ...`) and the line is left out of the rules, never dropped.
Every other column of the file is passed through unchanged. Lines are staged on disk in a DuckDB file of the work
folder, bucketed by a hash of their claim, and judged a chunk of whole claims at a time (at most
chunk_lines_for(memory limit) lines unless one claim is larger), so memory is bounded by DuckDB's memory limit whatever the input size, and the lines of
one claim are judged together whatever order and file they come in.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import logging

import duckdb

from core.errors import CmsrefError
from core.fields import FIELDS, HCPCS
from core.sql import literal
from warehouse.claim_rules import (HELPER_MACROS, LINE_FIELDS, LINE_RESULT, MAX_UNITS, SETTINGS,
                                   create_helper_macros, create_scalar_macros, line_results_sql, one_of)

log = logging.getLogger("cmsref.lines")
SERVICE_TYPES = FIELDS["service_type"].values
SUFFIXES = {".csv": "csv", ".csv.gz": "csv", ".txt": "csv", ".parquet": "parquet", ".jsonl": "json",
            ".ndjson": "json", ".json": "json", ".jsonl.gz": "json"}
# The fields of a line are claim_rules.LINE_FIELDS. `zip` is read where the file has it.
REQUIRED = ("hcpcs", "date_of_service")
# DuckDB types a field's column may have (a code read as a number has lost its leading zeros: 00100 -> 100)
TEXT = ("VARCHAR",)
INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
ACCEPTED = {
    "claim": None,  # any type: it is an identifier, read as text
    "hcpcs": TEXT, "modifier": TEXT, "locality": TEXT, "zip": TEXT, "setting": TEXT, "service_type": TEXT,
    "units": TEXT + INTEGERS + ("DECIMAL", "DOUBLE", "FLOAT"),
    "date_of_service": TEXT + ("DATE", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S",
                                "TIMESTAMP WITH TIME ZONE"),
    "qp": TEXT + ("BOOLEAN",),
}
# The result columns, as POST /lines answers them (with the input file and line number first)
RESULT = ("input_file", "input_line", *LINE_RESULT)
RULES = ("pfs_check", "mue_check", "addon_check", "addon_release_on", "addon_edits_on")  # the macros lines use
STATUSES = ("pfs_status", "mue_status", "addon_status")
BUCKETS = 4096  # claims are hashed into this many buckets; a chunk is a run of whole buckets
CHUNK_LINES = 2_000_000  # at most, whatever the memory limit
LINE_BYTES = 1_000  # memory a chunk needs per line (measured: 1 GB judges 1 M lines; 100 MB 60,000, spilling)
# Reference tables the lines' own checks read, beside those the macros name (found in their SQL)
CHECKED_WITH = ("pfs_gpci",)  # stage_sql: a MAC:locality in no GPCI file is the line's problem


def _do(con: duckdb.DuckDBPyConnection, sql: str) -> list:
    """A statement run to completion (DuckDB 2 keeps a statement's result open until it is read)."""
    return con.execute(sql).fetchall()


def _macro_tables() -> list[str]:
    """The tables (view names) the claim-line macros read, from their SQL: what a work connection must hold."""
    from core.tables import TABLES

    sql = " ".join(body for name, (_, body) in HELPER_MACROS.items() if name in RULES)
    return [t for t in TABLES if re.search(rf"\b{t}\b", sql) or t in CHECKED_WITH]


# ---------------------------------------------------------------------------------------------- reference data
@dataclass
class Reference:
    """Where the reference data of one pinned data version comes from: a DuckDB connection whose tables and views
    have the public names (a reader of open_version, or views over a verified export), read only through queries."""

    con: duckdb.DuckDBPyConnection
    version: str
    tables: list[str] = field(default_factory=list)
    cache: dict = field(default_factory=dict)

    def rows(self, name: str):
        """The version's rows of one table as a pyarrow Table (read once), or None where the version lacks it."""
        if name not in self.cache:
            present = {r[0] for r in self.con.execute("SELECT table_name FROM duckdb_tables() UNION ALL "
                                                      "SELECT view_name FROM duckdb_views()").fetchall()}
            self.cache[name] = (self.con.sql(f"SELECT * FROM {name}").to_arrow_table() if name in present
                                else None)
        return self.cache[name]

    @classmethod
    def from_version(cls, db: Path, version: str = "latest") -> "Reference":
        """A pinned, checked, locked reader of the warehouse (warehouse.api.open_version)."""
        from warehouse.api import open_version

        con = open_version(db, version)
        name = con.execute("SELECT pinned_version()").fetchall()[0][0]
        return cls(con, name, _macro_tables())

    @classmethod
    def from_export(cls, export_dir: Path) -> "Reference":
        """An export of `cmsref export` (Parquet), checked against its manifest.json first: a missing, changed or
        foreign file is refused in one line naming it (every executor of a Spark job runs this before use)."""
        import json

        from warehouse.export import verify

        export_dir = Path(export_dir)
        problems = verify(export_dir)
        if problems:
            raise CmsrefError(f"the export at {export_dir} does not match its manifest ({problems[0]}"
                              f"{f'; {len(problems) - 1} more' if len(problems) > 1 else ''}); export the data "
                              f"version again")
        manifest = json.loads((export_dir / "manifest.json").read_text(encoding="utf-8"))
        if manifest["format"] != "parquet":
            raise CmsrefError(f"the export at {export_dir} is {manifest['format']}: export with --format parquet")
        con = duckdb.connect()
        for t in manifest["tables"]:
            _do(con, f"CREATE VIEW {t['table']} AS SELECT * FROM read_parquet("
                        f"{literal(export_dir / t['file'])})")
        return cls(con, manifest["data_version"], _macro_tables())

    def close(self) -> None:
        self.con.close()


def load_reference(work: duckdb.DuckDBPyConnection, ref: Reference) -> None:
    """Give the work connection the tables the macros read (the version's rows, copied through Arrow once per
    Reference), then the rules as TEMP macros of the work connection."""
    for name in ref.tables:
        rows = ref.rows(name)
        if rows is None:
            continue
        work.register("ref_rows", rows)
        try:
            _do(work, f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM ref_rows")
        finally:
            work.unregister("ref_rows")
    create_scalar_macros(work, temp=True)
    create_helper_macros(work, temp=True, names=RULES)


# ---------------------------------------------------------------------------------------------- reading lines
def find_inputs(inputs: list[str]) -> list[Path]:
    """Files, folders (their files of a known kind, in name order) and globs -> files; one line when none is found."""
    found: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and kind(f) and not f.name.startswith("."))
            if not files:
                raise CmsrefError(f"{item}: the folder holds no CSV, Parquet or JSON Lines file")
            found += files
        elif p.is_file():
            if not kind(p):
                raise CmsrefError(f"{item}: not a CSV, Parquet or JSON Lines file (.csv, .parquet, .jsonl)")
            found.append(p)
        elif glob.has_magic(item):
            files = sorted(Path(f) for f in glob.glob(item, recursive=True) if Path(f).is_file() and kind(Path(f)))
            if not files:
                raise CmsrefError(f"{item}: no CSV, Parquet or JSON Lines file matches")
            found += files
        else:
            raise CmsrefError(f"{item}: no such file or folder")
    seen, out = set(), []
    for f in found:  # a file named twice (a folder and a glob) is read once
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def kind(path: Path) -> str | None:
    name = path.name.lower()
    for suffix, k in SUFFIXES.items():
        if name.endswith(suffix):
            return k
    return None


def reader_sql(path: Path) -> str:
    """The file as a DuckDB table function: CSV cells as text (a code read as a number loses its zeros)."""
    k = kind(path)
    if k == "csv":
        return f"read_csv({literal(path)}, all_varchar = true, header = true)"
    if k == "parquet":
        return f"read_parquet({literal(path)})"
    return f"read_json({literal(path)}, format = 'newline_delimited')"


def parse_map(text: str | None) -> dict[str, str]:
    """`hcpcs=HCPCS_CD,units=LINE_SRVC_CNT` -> {field: column}; an unknown field or a field named twice is one line."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, eq, column = part.partition("=")
        name, column = name.strip(), column.strip()
        if not eq or not column:
            raise CmsrefError(f"--map {part!r}: FIELD=COLUMN is expected, e.g. hcpcs=HCPCS_CD")
        if name not in LINE_FIELDS:
            raise CmsrefError(f"--map {part!r}: {name!r} is not a field of a line ({', '.join(LINE_FIELDS)})")
        if name in out:
            raise CmsrefError(f"--map names {name} twice")
        out[name] = column
    return out


def columns_of(con: duckdb.DuckDBPyConnection, source_sql: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {source_sql}").fetchall()}


def plan_columns(columns: dict[str, str], mapping: dict[str, str], where: str) -> dict[str, str]:
    """{field: the file's column} for the fields the file has; a missing or mistyped required column, a mapped column
    the file lacks, or a column with a result column's name is one line naming the column and `where` (the file)."""
    used: dict[str, str] = {}
    for name in LINE_FIELDS:
        column = mapping.get(name, name)
        if column not in columns:
            if name in mapping:
                raise CmsrefError(f"{where}: has no column {column!r} (--map {name}={column}); its columns: "
                                  f"{', '.join(list(columns)[:12])}{', ...' if len(columns) > 12 else ''}")
            if name in REQUIRED:
                raise CmsrefError(f"{where}: has no column {name!r} (a line needs {' and '.join(REQUIRED)}; "
                                  f"--map {name}=COLUMN names another)")
            continue
        accepted, base = ACCEPTED[name], columns[column].split("(")[0]
        if accepted is not None and base not in accepted:
            raise CmsrefError(f"{where}: column {column!r} ({name}) is {columns[column]}, not "
                              f"{_type_words(name)}")
        used[name] = column
    taken = set(used.values())
    for column in columns:
        if column not in taken and column in RESULT:
            raise CmsrefError(f"{where}: column {column!r} has the name of a result column; rename it, or --map "
                              f"it to a field of a line")
    return used


def _type_words(name: str) -> str:
    return {"units": "a number or text", "date_of_service": "a date or text (YYYY-MM-DD)",
            "qp": "true/false or text"}.get(name, "text (a code read as a number has lost its leading zeros)")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _problem(name: str, value: str, expected: str) -> str:
    """SQL: the status of a line whose `name` is bad: `invalid: hcpcs 'XX' is not ...`."""
    return (f"'invalid: {name} ' || coalesce('''' || left(CAST({value} AS VARCHAR), 40) || '''', 'missing') "
            f"|| ' is not {expected}'")


def lines_sql(source_sql: str, columns: dict[str, str], used: dict[str, str], passthrough: list[str],
              file_label: str | None) -> str:
    """SQL of the staged lines of one source: the pass-through columns, the normalised fields (as the macros read
    them: claim_id, hcpcs, modifier, units, date_of_service, mac, locality, zip, setting, service_type, qp), the
    line's `problem` (NULL: valid), input_file and input_line. Known MACs and localities are checked against
    the version by stage_sql."""
    def col(name, default="NULL"):
        return f"src.{_q(used[name])}" if name in used else default

    hcpcs = f"upper(trim(CAST({col('hcpcs')} AS VARCHAR)))"
    modifier = f"upper(trim(coalesce(CAST({col('modifier')} AS VARCHAR), '')))"
    units_text = col("units", "1")
    units = f"try_cast(trim(CAST({units_text} AS VARCHAR)) AS DECIMAL(38,6))"
    raw_dos = col("date_of_service")
    dos = (f"CASE WHEN regexp_full_match(trim(CAST({raw_dos} AS VARCHAR)), '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') "
           f"THEN try_cast(trim(CAST({raw_dos} AS VARCHAR)) AS DATE) END"
           if columns[used["date_of_service"]].startswith("VARCHAR") else f"CAST({raw_dos} AS DATE)")
    loc_text = f"nullif(trim(CAST({col('locality')} AS VARCHAR)), '')"
    loc_parts = f"string_split({loc_text}, ':')"
    mac = f"lpad({loc_parts}[1], 5, '0')"
    locality = f"lpad({loc_parts}[2], 2, '0')"
    zip_text = f"nullif(trim(CAST({col('zip')} AS VARCHAR)), '')"
    setting = f"coalesce(nullif(lower(trim(CAST({col('setting')} AS VARCHAR))), ''), 'non_facility')"
    service = f"coalesce(nullif(lower(trim(CAST({col('service_type')} AS VARCHAR))), ''), 'practitioner')"
    qp_text = f"nullif(lower(trim(CAST({col('qp')} AS VARCHAR))), '')"
    qp = f"CASE WHEN {qp_text} IS NULL OR {qp_text} = 'false' THEN false WHEN {qp_text} = 'true' THEN true END"
    claim = f"nullif(CAST({col('claim')} AS VARCHAR), '')"
    problem = f"""CASE
  WHEN {hcpcs} IS NULL OR NOT regexp_full_match({hcpcs}, '{HCPCS}')
    THEN {_problem('hcpcs', col('hcpcs'), FIELDS['hcpcs'].describe())}
  WHEN NOT regexp_full_match({modifier}, {literal(FIELDS['modifier'].pattern)})
    THEN {_problem('modifier', col('modifier'), FIELDS['modifier'].describe())}
  WHEN {units} IS NULL OR {units} <> floor({units}) OR {units} < 1 OR {units} > {MAX_UNITS}
    THEN {_problem('units', units_text, f'a whole number of units from 1 to {MAX_UNITS:,}')}
  WHEN ({dos}) IS NULL THEN {_problem('date_of_service', raw_dos, 'a date of the form YYYY-MM-DD, e.g. 2024-06-01')}
  WHEN {loc_text} IS NOT NULL AND NOT regexp_full_match({loc_text}, '[0-9]{{1,5}}:[0-9]{{1,2}}')
    THEN {_problem('locality', loc_text, 'MAC:LOCALITY (digits, e.g. 01182:18)')}
  WHEN {setting} NOT IN ({', '.join(map(literal, SETTINGS))})
    THEN {_problem('setting', col('setting'), one_of(SETTINGS))}
  WHEN {service} NOT IN ({', '.join(map(literal, SERVICE_TYPES))})
    THEN {_problem('service_type', col('service_type'), one_of(SERVICE_TYPES))}
  WHEN ({qp}) IS NULL THEN {_problem('qp', col('qp'), 'true or false')}
  WHEN length({claim}) > 64 THEN {_problem('claim', claim, 'a claim identifier of 1 to 64 characters')}
END"""
    passed = "".join(f"src.{_q(c)}, " for c in passthrough)
    line = ("src.file_row_number + 1" if "file_row_number" in source_sql else "row_number() OVER ()")
    zip_col = f"{zip_text} AS zip, " if "zip" in used else ""
    label = f"{literal(file_label)} AS input_file, " if file_label is not None else ""
    return f"""SELECT {passed}{label}CAST({line} AS BIGINT) AS input_line, {claim} AS claim_id,
  {hcpcs} AS hcpcs, {modifier} AS modifier, try_cast({units} AS INTEGER) AS units,
  {dos} AS date_of_service, CASE WHEN {loc_text} IS NOT NULL THEN {mac} END AS mac,
  CASE WHEN {loc_text} IS NOT NULL THEN {locality} END AS locality, {zip_col}{setting} AS setting,
  {service} AS service_type, coalesce({qp}, false) AS qp, {problem} AS problem,
  hash({claim}) % {BUCKETS} AS bucket
FROM {source_sql} src"""


def stage_sql(source_sql: str, columns: dict[str, str], used: dict[str, str], file_label: str | None,
              version: str) -> str:
    """The staged lines of one source (lines_sql), where a MAC:locality in no GPCI file of the version (the
    connection's pfs_gpci, from load_reference) is the line's problem, as it is a 400 of POST /lines. A ZIP code is
    placed, or said not to be, by pfs_check itself."""
    passthrough = list(passthrough_columns(columns, used))
    unknown = (f"'invalid: locality ''' || s.mac || ':' || s.locality || ''' is not a MAC:locality of any GPCI file "
               f"in data version ' || {literal(version)}")
    return f"""SELECT s.* REPLACE (CASE WHEN s.problem IS NULL AND s.mac IS NOT NULL AND NOT EXISTS (
  SELECT 1 FROM pfs_gpci g WHERE g.mac = s.mac AND g.locality = s.locality) THEN {unknown} ELSE s.problem END AS problem)
FROM ({lines_sql(source_sql, columns, used, passthrough, file_label)}) s"""


# ---------------------------------------------------------------------------------------------- the rules
def result_sql(chunk: str, passthrough: list[str], with_file: bool = True) -> str:
    """One row per line of the `chunk` table (staged lines): the pass-through columns, then the result columns of
    POST /lines, from the three macros over the chunk's valid lines (table claim_lines); invalid lines carry their
    problem as every status. A macro's line number that does not name the same line is an error, never a wrong
    answer. Each result column has the type claim_rules.LINE_RESULT declares."""
    passed = "".join(f"s.{_q(c)}, " for c in passthrough)
    where = "s.input_file, " if with_file else ""
    typed = ", ".join(f"CAST({_q(name)} AS {kind}) AS {_q(name)}" for name, kind in LINE_RESULT.items())
    return f"""SELECT * REPLACE ({typed}) FROM (
WITH r AS (SELECT l.row_id, x.* FROM claim_lines l JOIN ({line_results_sql()}) x USING (line_no))
SELECT {passed}{where}s.input_line, s.claim_id AS claim, s.hcpcs, s.modifier, s.units, s.date_of_service,
       s.setting, CASE WHEN s.problem IS NULL THEN r.locality WHEN s.mac IS NULL THEN 'national'
                       ELSE s.mac || ':' || s.locality END AS locality, s.qp, r.pfs_amount, r.pfs_period, r.pfs_status_code, r.pfs_cf_variant,
       coalesce(s.problem, r.pfs_status) AS pfs_status, r.mue_period, r.mue_value, r.mai, r.units_compared,
       coalesce(s.problem, r.mue_status) AS mue_status, r.aoc_period, r.addon_edit_type, r.primaries_on_claim,
       coalesce(s.problem, r.addon_status) AS addon_status
FROM {chunk} s LEFT JOIN r ON r.row_id = s.row_id)"""


CLAIM_LINES = ("CREATE OR REPLACE TABLE claim_lines AS SELECT row_number() OVER () AS line_no, row_id, claim_id, "
               "hcpcs, modifier, units, date_of_service, mac, locality, {zip}setting, service_type, qp "
               "FROM {chunk} WHERE problem IS NULL")


def judge(con: duckdb.DuckDBPyConnection, chunk: str, has_zip: bool) -> None:
    """The valid lines of `chunk` (a table, or a query in parentheses) as the macros' `claim_lines` table, numbered
    in the order it holds them: the macros number their lines by position, and the result is joined back by that
    number (result_sql; a number that names another line is an error, never another line's answer)."""
    _do(con, CLAIM_LINES.format(chunk=chunk, zip="zip, " if has_zip else ""))


def check_arrow(lines, ref: Reference, *, memory_limit: str | None = None, threads: int | None = None):
    """Lines in memory (a pyarrow Table with the fields of POST /lines as columns, and any others) -> a pyarrow Table
    of the pass-through columns and the result columns (without input_file; input_line is the line's position in
    `lines`). All the lines are judged as one batch: a caller that splits lines keeps each claim in one batch."""
    con = duckdb.connect()
    try:
        if memory_limit:
            _do(con, f"SET memory_limit = {literal(memory_limit)}")
        if threads:
            _do(con, f"SET threads = {int(threads)}")
        con.register("incoming", lines)
        columns = columns_of(con, "incoming")
        used = plan_columns(columns, {}, "lines")
        passthrough = list(passthrough_columns(columns, used))
        load_reference(con, ref)
        _do(con, "CREATE TEMP TABLE staged AS SELECT row_number() OVER () AS row_id, * FROM ("
                    + stage_sql("incoming", columns, used, None, ref.version) + ")")
        con.unregister("incoming")
        has_zip = "zip" in used
        judge(con, "staged", has_zip)
        return con.sql(result_sql("staged", passthrough, with_file=False)).to_arrow_table()
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------- cmsref lines
@dataclass
class Summary:
    lines: int = 0
    files: int = 0
    seconds: float = 0.0
    statuses: dict = field(default_factory=dict)  # {status column: [(status, count), ...]}
    spilled_bytes: int = 0


def _status_key(column: str) -> str:
    """Statuses grouped for the summary: an invalid line by the field it is invalid in."""
    return (f"CASE WHEN {column} LIKE 'invalid: %' THEN regexp_extract({column}, '^invalid: [a-z_]+') "
            f"ELSE {column} END")


def run(inputs: list[str], output: Path, ref: Reference, work_root: Path, *, fmt: str = "parquet",
        mapping: dict[str, str] | None = None, memory_limit: str = "1GB", threads: int | None = None,
        chunk_lines: int | None = None, progress=None) -> Summary:
    """`cmsref lines`: read every input file, judge its lines, write one row per line to `output` (Parquet or CSV),
    written under a temporary name beside it and renamed into place when complete. The work folder (staged lines,
    DuckDB's spill files, the result's parts) is made under `work_root` and removed afterwards, whatever happens.
    `progress(done, total, seconds)` is called after each chunk."""
    if fmt not in ("parquet", "csv"):
        raise CmsrefError(f"--format {fmt!r}: parquet or csv")
    mapping = mapping or {}
    files = find_inputs(inputs)
    start = time.monotonic()
    work_root.mkdir(parents=True, exist_ok=True)
    remove_stale(work_root)
    work = Path(f"{work_root}/lines-{os.getpid()}-{time.time_ns()}")
    work.mkdir()
    tmp_out = output.with_name(f".{output.name}.cmsref-{os.getpid()}.tmp")
    con = duckdb.connect(str(work / "work.duckdb"))
    try:
        _do(con, f"SET temp_directory = {literal(work / 'spill')}")
        _do(con, "SET enable_progress_bar = false")  # cmsref lines reports its own progress
        _do(con, f"SET memory_limit = {literal(memory_limit)}")
        if threads:
            _do(con, f"SET threads = {int(threads)}")
        # every file's columns are checked before any line is read
        plans = []
        for f in files:
            source = reader_sql(f)
            try:
                columns = columns_of(con, source)
            except duckdb.Error as exc:
                raise CmsrefError(f"{f}: cannot be read as {kind(f).upper()} ({str(exc).splitlines()[0]})") from None
            used = plan_columns(columns, mapping, str(f))
            if kind(f) == "parquet":
                source = source[:-1] + ", file_row_number = true)"
            plans.append((f, source, columns, used))
        has_zip = any("zip" in used for *_, used in plans)
        passthrough = _passthrough(plans)
        load_reference(con, ref)
        log.debug("reference data: %.2f s", time.monotonic() - start)
        _do(con, "CREATE SEQUENCE row_ids")
        for i, (f, source, columns, used) in enumerate(plans):
            select = stage_sql(source, columns, used, str(f), ref.version)
            select = f"SELECT nextval('row_ids') AS row_id, * FROM ({select})"
            if i == 0:
                _do(con, f"CREATE TABLE staged AS {select} LIMIT 0")
                for c, t in passthrough.items():
                    if c not in columns:
                        _do(con, f"ALTER TABLE staged ADD COLUMN {_q(c)} {t}")
                if has_zip and "zip" not in used:
                    _do(con, "ALTER TABLE staged ADD COLUMN zip VARCHAR")
            try:
                _do(con, f"INSERT INTO staged BY NAME {select}")
            except duckdb.Error as exc:
                raise CmsrefError(f"{f}: cannot be read ({str(exc).splitlines()[0]})") from None
        total = con.execute("SELECT count(*) FROM staged").fetchall()[0][0]
        log.debug("staged %d lines of %d files: %.2f s", total, len(files), time.monotonic() - start)
        counts = con.execute("SELECT bucket, count(*) FROM staged GROUP BY bucket ORDER BY bucket").fetchall()
        # Parquet: each chunk's rows are appended to one file in the work folder as they come (no second pass);
        # CSV: each chunk is a Parquet part, and the parts are written as one CSV file at the end
        parts = work / "parts"
        parts.mkdir()
        result = work / f"result.{fmt}"
        writer = None
        chunk_lines = chunk_lines or chunk_lines_for(memory_limit)
        done, spilled, chunks = 0, 0, _chunks(counts, chunk_lines)
        # each chunk's query is profiled for one figure: the most it spilled to the temporary directory
        _do(con, "PRAGMA enable_profiling = 'json'")
        _do(con, f"PRAGMA profiling_output = {literal(work / 'profile.json')}")
        for n, (low, high, size) in enumerate(chunks):
            chunk = f"(SELECT * FROM staged WHERE bucket BETWEEN {low} AND {high})"
            judge(con, chunk, has_zip)
            if fmt == "parquet":
                writer = _append(con, result_sql(chunk, list(passthrough)), result, writer)
            else:
                _do(con, f"COPY ({result_sql(chunk, list(passthrough))}) TO "
                            f"{literal(parts / f'part-{n:06d}.parquet')} (FORMAT parquet)")
            done += size
            spilled = max(spilled, _spilled(con), _spilled_by_last(con))
            log.debug("chunk %d of %d: %d lines: %.2f s", n + 1, len(chunks), size, time.monotonic() - start)
            if progress:
                progress(done, total, time.monotonic() - start)
        _do(con, "PRAGMA disable_profiling")
        _do(con, "DROP TABLE IF EXISTS claim_lines")
        if not chunks:  # no line at all: an empty result with the columns
            _do(con, f"COPY ({result_sql('staged', list(passthrough))}) TO "
                        f"{literal(parts / 'part-000000.parquet')} (FORMAT parquet)")
        if writer is not None:
            writer.close()
        else:
            options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
            _do(con, f"COPY (SELECT * FROM read_parquet({literal(parts / '*.parquet')})) TO {literal(result)} "
                        f"({options})")
        every = (f"read_parquet({literal(result)})" if fmt == "parquet" else
                 f"read_parquet({literal(parts / '*.parquet')})")
        log.debug("written: %.2f s", time.monotonic() - start)
        summary = Summary(lines=total, files=len(files))
        for column in STATUSES:
            summary.statuses[column] = con.execute(
                f"SELECT {_status_key(column)} AS s, count(*) FROM {every} GROUP BY s ORDER BY 2 DESC, 1").fetchall()
        summary.spilled_bytes = max(spilled, _spilled(con))
        con.close()
        try:
            os.replace(result, output)  # the work folder is on the output's file system
        except OSError:  # another file system: copied beside the output under a temporary name, then renamed
            shutil.copyfile(result, tmp_out)
            os.replace(tmp_out, output)
        summary.seconds = time.monotonic() - start
        return summary
    except duckdb.Error as exc:
        raise CmsrefError(f"checking the lines failed: {str(exc).splitlines()[0]}") from None
    finally:
        try:
            con.close()
        except duckdb.Error:
            pass
        tmp_out.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)


def _append(con: duckdb.DuckDBPyConnection, sql: str, path: Path, writer):
    """The rows of `sql` appended to the Parquet file at `path` (zstd), batch by batch through one writer (opened on
    the first chunk with its schema; returned for the next)."""
    import pyarrow.parquet as pq

    batches = con.sql(sql).to_arrow_reader(122_880)
    if writer is None:
        writer = pq.ParquetWriter(path, batches.schema, compression="zstd")
    for batch in batches:
        writer.write_batch(batch if batch.schema == writer.schema else batch.cast(writer.schema))
    return writer


def passthrough_columns(columns: dict[str, str], used: dict[str, str]) -> dict[str, str]:
    """A file's columns that are not fields of a line (nor the reader's row number), with their types."""
    return {c: t for c, t in columns.items() if c not in set(used.values()) and c != "file_row_number"}


def _passthrough(plans) -> dict[str, str]:
    """Every pass-through column of any file, with its type (text where files disagree)."""
    out: dict[str, str] = {}
    for _, _, columns, used in plans:
        for c, t in passthrough_columns(columns, used).items():
            out[c] = t if out.get(c, t) == t else "VARCHAR"
    return out


def chunk_lines_for(memory_limit: str) -> int:
    """The lines of a chunk under a memory limit such as '1GB' or '500 MiB' (LINE_BYTES a line, at least 10,000 and
    at most CHUNK_LINES; CHUNK_LINES where the limit is not a size)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B)\s*", memory_limit, re.IGNORECASE)
    if not m:
        return CHUNK_LINES
    unit = m.group(2).upper()
    power = "BKMGT".index(unit[0])
    size = float(m.group(1)) * (1024 if "I" in unit else 1000) ** power
    return int(min(CHUNK_LINES, max(10_000, size // LINE_BYTES)))


def _chunks(counts: list[tuple[int, int]], chunk_lines: int) -> list[tuple[int, int, int]]:
    """Runs of consecutive buckets of at most chunk_lines lines (a larger bucket alone): (first, last, lines)."""
    out, low, size = [], None, 0
    for bucket, n in counts:
        if low is not None and size + n > chunk_lines:
            out.append((low, prev, size))
            low, size = None, 0
        if low is None:
            low = bucket
        size += n
        prev = bucket
    if low is not None:
        out.append((low, prev, size))
    return out


def _spilled_by_last(con) -> int:
    """The peak size of DuckDB's temporary directory during the last profiled query (0 where it is not known)."""
    import json

    try:
        return int(json.loads(con.get_profiling_information(format="json"))["system"]["peak_temp_dir_size"])
    except (duckdb.Error, KeyError, ValueError, TypeError):
        return 0


def _spilled(con) -> int:
    """Bytes DuckDB wrote to its temporary directory at most (what proves a run spilled)."""
    try:
        return int(con.execute("SELECT coalesce(sum(size), 0) FROM duckdb_temporary_files()").fetchall()[0][0])
    except duckdb.Error:
        return 0


def remove_stale(work_root: Path) -> None:
    """Work folders of runs that were killed (their process is gone) are removed."""
    for d in work_root.glob("lines-*"):
        try:
            pid = int(d.name.split("-")[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (ValueError, IndexError, PermissionError):
            continue
