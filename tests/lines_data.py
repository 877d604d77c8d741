"""Claim lines generated from a data version's real codes, localities and dates of service, for the `cmsref lines`
tests and benchmark: `n` lines in claims of 1 to 8 lines, each claim one PFS release's date of service, locality (or
national) and setting, its codes drawn from the codes that release prices (status A, R, T) plus add-on codes and
their primaries, so that all three rules have something to say. Deterministic: the same `n` and `seed` give the same
lines."""

from __future__ import annotations

from pathlib import Path

import duckdb


def reference_rows(db: Path, version: str = "latest") -> dict:
    """The real values lines are drawn from, read through a pinned reader (warehouse.api.open_version)."""
    from warehouse.api import open_version

    con = open_version(db, version)
    try:
        return {
            # the PFS releases' windows, and the MUE release's (dates the MUE rules answer for)
            "windows": con.sql("SELECT DISTINCT period, effective_from, coalesce(effective_to, "
                                   "effective_from + INTERVAL 90 DAY)::DATE AS effective_to FROM pfs_rvu UNION "
                                   "SELECT DISTINCT 'mue ' || period, effective_from, coalesce(effective_to, "
                                   "effective_from + INTERVAL 90 DAY)::DATE FROM mue "
                                   "ORDER BY effective_from").to_arrow_table(),
            "codes": con.sql("SELECT DISTINCT period, hcpcs FROM pfs_rvu WHERE modifier = '' AND status_code IN "
                                 "('A', 'R', 'T') UNION SELECT DISTINCT r.period, e.addon_code FROM addon_code_edit e "
                                 "JOIN pfs_rvu r ON r.hcpcs = e.addon_code AND r.modifier = '' "
                                 "UNION SELECT DISTINCT 'mue ' || period, hcpcs FROM mue "
                                 "WHERE service_type = 'practitioner' ORDER BY ALL").to_arrow_table(),
            # a window's localities: those of the GPCI file of its year (or the latest year before it)
            "localities": con.sql("SELECT DISTINCT year(effective_from) AS yr, mac || ':' || locality AS locality "
                                      "FROM pfs_gpci ORDER BY ALL").to_arrow_table(),
        }
    finally:
        con.close()


def lines_sql(rows: dict, n: int, seed: int = 1) -> tuple[duckdb.DuckDBPyConnection, str]:
    """A connection holding the reference rows, and SQL of `n` lines (columns claim, hcpcs, modifier, units,
    date_of_service, locality, setting, service_type, qp, and pass-through npi and line_id)."""
    con = duckdb.connect()
    for name, table in rows.items():
        con.register(f"{name}_arrow", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
        con.unregister(f"{name}_arrow")
    con.execute("CREATE TABLE w AS SELECT row_number() OVER (ORDER BY effective_from) - 1 AS wi, * FROM windows")
    con.execute("CREATE TABLE c AS SELECT w.wi, row_number() OVER (PARTITION BY w.wi ORDER BY hcpcs) - 1 AS ci, "
                "hcpcs FROM codes JOIN w USING (period)")
    con.execute("CREATE TABLE cn AS SELECT wi, count(*) AS n FROM c GROUP BY wi")
    con.execute("CREATE TABLE lo AS SELECT w.wi, row_number() OVER (PARTITION BY w.wi ORDER BY locality) - 1 AS li, "
                "locality FROM w JOIN localities g ON g.yr = (SELECT max(yr) FROM localities "
                "WHERE yr <= year(w.effective_from))")
    con.execute("CREATE TABLE ln AS SELECT wi, count(*) AS n FROM lo GROUP BY wi")
    nw = con.execute("SELECT count(*) FROM w").fetchall()[0][0]
    s = int(seed)
    sql = f"""
WITH claims AS (
  SELECT i AS claim_no, CAST(1 + hash(i, {s}) % 8 AS BIGINT) AS k, CAST(hash(i, {s} + 1) % {nw} AS BIGINT) AS wi, hash(i, {s} + 2) AS h
  FROM range((({n}) // 4) + 8) t(i)),
lines AS (
  SELECT claim_no, unnest(range(k)) AS j, wi, h, sum(k) OVER (ORDER BY claim_no) - k AS before FROM claims),
drawn AS (  -- each line's code and each claim's locality as an index, so that both joins are equi-joins
  SELECT l.*, hash(l.h, l.j) % cn.n AS ci, l.h % ln.n AS li
  FROM lines l JOIN cn ON cn.wi = l.wi JOIN ln ON ln.wi = l.wi)
SELECT 'C' || lpad(CAST(l.claim_no AS VARCHAR), 10, '0') AS claim, c.hcpcs,
       CASE WHEN hash(l.h, l.j, 7) % 20 = 0 THEN '26' ELSE '' END AS modifier,
       1 + CAST(hash(l.h, l.j, 3) % 5 = 0 AS INTEGER) * (hash(l.h, l.j, 4) % 4)::INTEGER AS units,
       (w.effective_from + CAST(l.h % greatest(1, w.effective_to - w.effective_from) AS INTEGER))::DATE
         AS date_of_service,
       CASE WHEN l.h % 10 = 0 THEN NULL ELSE lo.locality END AS locality,
       CASE WHEN l.h % 3 = 0 THEN 'facility' ELSE 'non_facility' END AS setting, 'practitioner' AS service_type,
       false AS qp, CAST(1000000000 + l.h % 900000000 AS BIGINT) AS npi, CAST(l.before + l.j + 1 AS BIGINT) AS line_id
FROM drawn l JOIN w USING (wi) JOIN c ON c.wi = l.wi AND c.ci = l.ci JOIN lo ON lo.wi = l.wi AND lo.li = l.li
WHERE l.before + l.j < {n}"""
    return con, sql


def write_lines(rows: dict, n: int, path: Path, fmt: str = "parquet", seed: int = 1, files: int = 1) -> list[Path]:
    """`n` lines written to `path` (a file; with files > 1 a folder of that many files, claims spread across them)."""
    con, sql = lines_sql(rows, n, seed)
    try:
        opts = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER true"
        if files == 1:
            con.execute(f"COPY ({sql}) TO '{path}' ({opts})")
            return [Path(path)]
        Path(path).mkdir(parents=True, exist_ok=True)
        con.execute(f"CREATE TEMP TABLE g AS SELECT row_number() OVER () AS r, * FROM ({sql})")
        out = []
        for i in range(files):  # lines dealt out in turn: every claim's lines land in several files
            target = Path(path) / f"lines-{i:03d}.{fmt}"
            con.execute(f"COPY (SELECT * EXCLUDE (r) FROM g WHERE r % {files} = {i} ORDER BY r) TO '{target}' "
                        f"({opts})")
            out.append(target)
        return out
    finally:
        con.close()
