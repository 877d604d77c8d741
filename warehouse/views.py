"""The public views: each table as seen in one data version, the computed pfs_payment, and as-of-date macros.

Every view is generated from one SQL template parameterised by the data version, so `latest` (the views in
the database) and a pinned version (`cmsref query --version V`, temporary views of the same names) can never
disagree about what a table means.
"""

from __future__ import annotations

import duckdb

from warehouse import effective
from warehouse.sql import literal
from warehouse.schema import CATALOG_COLUMN_DOCS, CATALOG_DOCS, LINEAGE, TABLES, WINDOW, Table

LATEST_SQL = "(SELECT data_version FROM meta.data_versions ORDER BY seq DESC LIMIT 1)"
# a row applies on date of service `dos` (a macro parameter): the one rule, warehouse/effective.py
IN_EFFECT = effective.sql("dos")


def table_sql(table: Table, version_sql: str) -> str:
    cols = ", ".join(f"t.{c.name}" for c in table.columns)
    return (
        f"SELECT t.release_id, w.period, w.effective_from, w.effective_to, {cols}, t.source_sha256, t.source_row "
        f"FROM store.{table.name} t JOIN meta.data_version_tables w "
        f"ON w.release_id = t.release_id AND w.table_name = '{table.name}' "
        f"WHERE w.data_version = {version_sql}"
    )


def payment_sql(version_sql: str) -> str:
    """pfs_payment: [(work RVU x work GPCI) + (PE RVU x PE GPCI) + (MP RVU x MP GPCI)] x CF, rounded half-up to
    the cent at the end (this reproduces CMS's own PFREV25C amounts for all 109 localities; see tests).
    National rows use GPCIs of 1. The RVU and GPCI rows pair where their effective windows overlap."""
    rvu = table_sql(TABLES["pfs_rvu"], version_sql)
    gpci = table_sql(TABLES["pfs_gpci"], version_sql)
    cf = table_sql(TABLES["conversion_factor"], version_sql)
    return f"""
WITH rvu AS (SELECT r.*, c.variant AS cf_variant, c.conversion_factor AS cf
             FROM ({rvu}) r JOIN ({cf}) c ON c.release_id = r.release_id AND c.kind = 'physician'),
gpci AS ({gpci}),
located AS (
  -- national rows: all GPCIs 1
  SELECT r.*, r.effective_from AS eff_from, r.effective_to AS eff_to, NULL::VARCHAR AS mac,
         NULL::VARCHAR AS locality, 'NATIONAL' AS locality_name, true AS is_national, 1.000::DECIMAL(6,3) AS work_gpci,
         1.000::DECIMAL(6,3) AS pe_gpci, 1.000::DECIMAL(6,3) AS mp_gpci, NULL::VARCHAR AS gpci_release_id,
         NULL::VARCHAR AS gpci_source_sha256, NULL::BIGINT AS gpci_source_row
  FROM rvu r
  UNION ALL
  -- locality rows: the GPCI rows whose window overlaps the RVU row's. PFS windows never cross a calendar year,
  -- so the equal year lets DuckDB hash-join instead of comparing every pair
  SELECT r.*, greatest(r.effective_from, g.effective_from), least(r.effective_to, g.effective_to), g.mac,
         g.locality, g.locality_name, false, g.work_gpci, g.pe_gpci, g.mp_gpci, g.release_id, g.source_sha256,
         g.source_row
  FROM rvu r JOIN gpci g ON year(g.effective_from) = year(r.effective_from)
   AND g.effective_from < r.effective_to AND r.effective_from < g.effective_to),
priced AS (
  SELECT l.*, s.setting,
         CASE s.setting WHEN 'facility' THEN l.facility_pe_rvu ELSE l.non_facility_pe_rvu END AS pe_rvu
  FROM located l CROSS JOIN (VALUES ('facility'), ('non_facility')) s(setting)
)
SELECT release_id, period, eff_from AS effective_from, eff_to AS effective_to, hcpcs, modifier, status_code, mac,
       locality, locality_name, is_national, setting, cf_variant, work_rvu, pe_rvu, mp_rvu, work_gpci, pe_gpci,
       mp_gpci, cf AS conversion_factor,
       ROUND((work_rvu * work_gpci + pe_rvu * pe_gpci + mp_rvu * mp_gpci) * cf, 2)::DECIMAL(12,2) AS amount,
       source_sha256 AS rvu_source_sha256, source_row AS rvu_source_row, gpci_release_id, gpci_source_sha256,
       gpci_source_row
FROM priced"""


PAYMENT_DOCS = {
    "": "Medicare PFS payment amounts computed from pfs_rvu, pfs_gpci and conversion_factor: "
        "[(work RVU x work GPCI) + (PE RVU x PE GPCI) + (MP RVU x MP GPCI)] x CF, rounded half-up to the cent. "
        "Grain: HCPCS x modifier x locality (and a NATIONAL row with all GPCIs 1) x setting, per effective window. "
        "Status codes other than A, R and T are not paid under the PFS although an amount is shown.",
    "setting": "facility (uses the facility PE RVU) or non_facility (the non-facility PE RVU)",
    "is_national": "true for the national row, computed with all GPCIs = 1",
    "cf_variant": "conversion factor variant: all, or from 2026 qp / non_qp",
    "amount": "fee schedule amount in dollars, rounded half-up to the cent at the end",
    "pe_rvu": "the PE RVU of the setting",
    "mac": "Medicare Administrative Contractor (NULL on the national row)",
    "locality": "locality number (NULL on the national row)",
    "effective_from": "first date of service (intersection of the RVU and GPCI releases' windows)",
    "effective_to": "first date of service it no longer applies to (exclusive)",
}


# Query helpers, defined over the public view names so that the same SQL serves `latest` and a pinned version.
HELPER_MACROS = {
    # lines: the name of a table or view with columns hcpcs, units, date_of_service, service_type
    # (practitioner | outpatient_hospital | dme), e.g. the lines of one claim. MAI 1 edits compare each line's
    # units; MAI 2 and 3 (date of service edits) compare the units of the code on that day summed over the lines.
    "mue_check": ("lines", """
WITH l AS (SELECT *, row_number() OVER () AS line_no FROM query_table(lines)),
cov AS (SELECT DISTINCT service_type, period, release_id, effective_from, effective_to FROM mue),
matched AS (
  SELECT l.*, c.period AS mue_period, m.mue_value, m.mai, m.mai_label, c.release_id IS NOT NULL AS covered,
         sum(l.units) OVER (PARTITION BY l.service_type, l.hcpcs, l.date_of_service) AS units_that_day
  FROM l
  LEFT JOIN cov c ON c.service_type = l.service_type
       AND in_effect(l.date_of_service, c.effective_from, c.effective_to)
  LEFT JOIN mue m ON m.release_id = c.release_id AND m.service_type = l.service_type AND m.hcpcs = l.hcpcs)
SELECT * EXCLUDE (covered, units_that_day),
       CASE WHEN mai = 1 THEN units ELSE units_that_day END AS units_compared,
       CASE WHEN mue_value IS NULL THEN NULL
            ELSE (CASE WHEN mai = 1 THEN units ELSE units_that_day END) > mue_value END AS exceeds,
       CASE WHEN NOT covered THEN 'no data: no MUE table of this service type is loaded for this date of service'
            WHEN mue_value IS NULL THEN 'no MUE for this code'
            WHEN (CASE WHEN mai = 1 THEN units ELSE units_that_day END) > mue_value THEN 'exceeds'
            ELSE 'within' END AS status
FROM matched ORDER BY line_no"""),
    # For a code and a date of service: the PFS status, the OPPS SI / APC / rate and the ASC PI / rate side by side,
    # each with its definition and the release it comes from; one row per setting, 'no data' where no release of
    # that setting covers the date.
    "code_status": ("code, dos", """
WITH found AS (
  SELECT 'pfs_status' AS setting, period, release_id, status_code AS indicator, NULL AS apc,
         NULL::DECIMAL(12,4) AS weight, NULL::DECIMAL(12,2) AS payment_rate
  FROM pfs_rvu_on(dos) WHERE hcpcs = code AND modifier = ''
  UNION ALL
  SELECT 'opps_si', period, release_id, status_indicator, apc, relative_weight, payment_rate
  FROM opps_addendum_b_on(dos) WHERE hcpcs = code
  UNION ALL
  SELECT 'asc_pi', period, release_id, payment_indicator, NULL, payment_weight, payment_rate
  FROM (SELECT * FROM asc_addendum_aa_on(dos) UNION ALL BY NAME SELECT * FROM asc_addendum_bb_on(dos))
  WHERE hcpcs = code),
covered AS (
  SELECT 'pfs_status' AS setting, count(*) > 0 AS covered FROM (SELECT 1 FROM pfs_rvu_on(dos) LIMIT 1)
  UNION ALL SELECT 'opps_si', count(*) > 0 FROM (SELECT 1 FROM opps_addendum_b_on(dos) LIMIT 1)
  UNION ALL SELECT 'asc_pi', count(*) > 0 FROM (SELECT 1 FROM asc_addendum_aa_on(dos) LIMIT 1))
SELECT c.setting, code AS hcpcs, CAST(dos AS DATE) AS date_of_service, f.period, f.indicator, d.definition,
       f.apc, f.weight, f.payment_rate,
       CASE WHEN f.setting IS NOT NULL THEN 'found'
            WHEN c.covered THEN 'code not listed in the release'
            ELSE 'no data: no release of this setting covers the date of service' END AS status,
       f.release_id
FROM covered c LEFT JOIN found f USING (setting)
LEFT JOIN status_indicator d ON d.setting = f.setting AND d.code = f.indicator
     AND in_effect(dos, d.effective_from, d.effective_to)
ORDER BY CASE c.setting WHEN 'pfs_status' THEN 1 WHEN 'opps_si' THEN 2 ELSE 3 END"""),
    # lines: a table or view with columns hcpcs and date_of_service: the lines of one claim. For every line
    # whose code is an add-on code in the edits in effect that day: is an allowed primary code on the claim?
    # The AOC file is cumulative: every edit carries its own effective and deletion dates (deletion = last day it
    # applies). A line is judged by the release in effect on its date of service; a date before the first loaded
    # release is judged by that release's history (its rows' dates), never by a later one's.
    "addon_check": ("lines", """
WITH l AS (SELECT *, row_number() OVER () AS line_no FROM query_table(lines)),
cov AS (SELECT DISTINCT period, release_id, effective_from, effective_to FROM addon_code_edit),
first_cov AS (SELECT * FROM cov ORDER BY effective_from LIMIT 1),
line_release AS (
  SELECT l.line_no, c.period, c.release_id FROM l JOIN cov c
    ON in_effect(l.date_of_service, c.effective_from, c.effective_to)
  UNION ALL
  SELECT l.line_no, f.period, f.release_id FROM l, first_cov f WHERE CAST(l.date_of_service AS DATE) < f.effective_from),
edits AS (
  SELECT l.line_no, l.hcpcs, l.date_of_service, r.period AS aoc_period, e.edit_type, e.primary_code
  FROM l JOIN line_release r USING (line_no)
  JOIN addon_code_edit e ON e.release_id = r.release_id AND e.addon_code = l.hcpcs
   AND CAST(l.date_of_service AS DATE) >= e.edit_effective_date
   AND (e.edit_deletion_date IS NULL OR CAST(l.date_of_service AS DATE) <= e.edit_deletion_date)
   AND (e.addon_deletion_date IS NULL OR CAST(l.date_of_service AS DATE) <= e.addon_deletion_date)
   AND (e.primary_deletion_date IS NULL OR CAST(l.date_of_service AS DATE) <= e.primary_deletion_date)),
judged AS (
  SELECT line_no, hcpcs, date_of_service, any_value(aoc_period) AS aoc_period, min(edit_type) AS edit_type,
         list(DISTINCT primary_code ORDER BY primary_code) FILTER (primary_code IN (SELECT hcpcs FROM l))
           AS primaries_on_claim
  FROM edits GROUP BY ALL)
SELECT l.line_no, l.hcpcs, l.date_of_service, j.aoc_period, j.edit_type, j.primaries_on_claim,
       CASE WHEN j.line_no IS NULL AND NOT EXISTS (SELECT 1 FROM line_release r WHERE r.line_no = l.line_no)
              THEN 'no data: no add-on code edits are loaded for this date of service'
            WHEN j.line_no IS NULL THEN 'not an add-on code'
            WHEN len(coalesce(j.primaries_on_claim, [])) > 0 THEN 'allowed primary on claim'
            WHEN j.edit_type = 2 THEN 'type 2: the contractor defines the primary codes'
            WHEN j.edit_type = 3 THEN 'type 3: no listed primary on claim; the contractor may allow others'
            ELSE 'no allowed primary on claim' END AS status
FROM l LEFT JOIN judged j USING (line_no) ORDER BY l.line_no"""),
}


def create_helper_macros(con: duckdb.DuckDBPyConnection, temp: bool = False) -> None:
    for name, (params, body) in HELPER_MACROS.items():
        where = "TEMP MACRO " if temp else "MACRO main."
        con.execute(f"CREATE OR REPLACE {where}{name}({params}) AS TABLE {body}")


def catalog_sql() -> dict[str, str]:
    latest_windows = (
        f"SELECT release_id, min(effective_from) AS effective_from, max(effective_to) AS effective_to "
        f"FROM meta.data_version_tables WHERE data_version = {LATEST_SQL} GROUP BY release_id"
    )
    return {
        "data_versions": "SELECT seq, data_version, published_at, cmsref_version, manifest_sha256, summary, "
                         "seq = (SELECT max(seq) FROM meta.data_versions) AS is_latest FROM meta.data_versions",
        "releases": f"SELECT r.release_id, r.dataset, r.period, r.revision, w.effective_from, w.effective_to, "
                    f"w.release_id IS NOT NULL AS in_latest, r.cms_release_date, r.row_counts, "
                    f"r.validation_success, r.cmsref_version, r.built_at, r.fingerprint "
                    f"FROM meta.releases r LEFT JOIN ({latest_windows}) w USING (release_id)",
        "source_files": "SELECT * FROM meta.source_files",
        "data_version_releases": "SELECT * FROM meta.data_version_tables",
    }


def view_definitions(version_sql: str = LATEST_SQL) -> dict[str, str]:
    views = {name: table_sql(t, version_sql) for name, t in TABLES.items()}
    views["pfs_payment"] = payment_sql(version_sql)
    return views


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the latest views, catalog views, as-of-date macros and their comments."""
    con.execute(f"CREATE OR REPLACE MACRO main.{effective.SQL_MACRO}")
    for name, sql in {**catalog_sql(), **view_definitions()}.items():
        con.execute(f"CREATE OR REPLACE VIEW main.{name} AS {sql}")
    for name in view_definitions():
        # "what applied on date of service D?" -- in the latest data version
        con.execute(
            f"CREATE OR REPLACE MACRO main.{name}_on(dos) AS TABLE SELECT * FROM main.{name} "
            f"WHERE {IN_EFFECT}"
        )
    for name, sql in view_definitions("v").items():
        # the same view pinned to a data version, from plain SQL: pfs_rvu_version('2025.4'),
        # and as of a date of service in that version: pfs_rvu_at('2025.4', DATE '2024-06-01')
        con.execute(f"CREATE OR REPLACE MACRO main.{name}_version(v) AS TABLE {sql}")
        con.execute(
            f"CREATE OR REPLACE MACRO main.{name}_at(v, dos) AS TABLE SELECT * FROM main.{name}_version(v) "
            f"WHERE {IN_EFFECT}"
        )
    create_helper_macros(con)
    _comment(con)


def _empty_sql(table: Table) -> str:
    """The view of a table with no rows: for a warehouse written by an older cmsref that did not have it yet."""
    cols = [("release_id", "VARCHAR"), ("period", "VARCHAR"), ("effective_from", "DATE"), ("effective_to", "DATE"),
            *[(c.name, c.type) for c in table.columns], ("source_sha256", "VARCHAR"), ("source_row", "BIGINT")]
    return "SELECT " + ", ".join(f"CAST(NULL AS {t}) AS {n}" for n, t in cols) + " WHERE false"


def create_pinned_views(con: duckdb.DuckDBPyConnection, version: str) -> None:
    """Temporary views with the public names, scoped to one data version (works on a read-only connection)."""
    stored = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'store'").fetchall()}
    definitions = view_definitions(literal(version))
    for name, table in TABLES.items():
        if name not in stored:  # added to cmsref after this warehouse was last published: shown empty
            definitions[name] = _empty_sql(table)
    con.execute(f"CREATE OR REPLACE TEMP MACRO {effective.SQL_MACRO}")  # a warehouse older than the macro
    for name, sql in definitions.items():
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")
        con.execute(
            f"CREATE OR REPLACE TEMP MACRO {name}_on(dos) AS TABLE SELECT * FROM {name} "
            f"WHERE {IN_EFFECT}"
        )
    create_helper_macros(con, temp=True)


def _comment(con) -> None:
    common = {c.name: c.doc for c in (*LINEAGE, *WINDOW)}
    common["release_id"] = "the release (dataset/period/revision) this row belongs to; see releases"
    common["period"] = "the CMS release period, e.g. 2024B"
    for name, t in TABLES.items():
        con.execute(f"COMMENT ON VIEW main.{name} IS {literal(f'{t.doc} Grain: {t.grain}. Latest data version.')}")
        con.execute(f"COMMENT ON TABLE store.{name} IS {literal(t.doc + ' Storage: rows of every published release.')}")
        for c in t.columns:
            con.execute(f"COMMENT ON COLUMN main.{name}.{c.name} IS {literal(c.doc)}")
            con.execute(f"COMMENT ON COLUMN store.{name}.{c.name} IS {literal(c.doc)}")
        for col, doc in common.items():
            con.execute(f"COMMENT ON COLUMN main.{name}.{col} IS {literal(doc)}")
    con.execute(f"COMMENT ON VIEW main.pfs_payment IS {literal(PAYMENT_DOCS[''])}")
    pay_cols = {r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE schema_name='main' AND table_name='pfs_payment'").fetchall()}
    rvu_docs = {c.name: c.doc for c in TABLES["pfs_rvu"].columns} | {c.name: c.doc for c in TABLES["pfs_gpci"].columns}
    for col in sorted(pay_cols):
        doc = PAYMENT_DOCS.get(col) or rvu_docs.get(col) or common.get(col) or {
            "rvu_source_sha256": "SHA-256 of the PPRRVU file of the RVUs", "rvu_source_row": "its row",
            "gpci_release_id": "release of the GPCI row (NULL on the national row)",
            "gpci_source_sha256": "SHA-256 of the GPCI file", "gpci_source_row": "its row",
            "conversion_factor": "conversion factor used (from the conversion_factor table)",
        }.get(col, col)
        con.execute(f"COMMENT ON COLUMN main.pfs_payment.{col} IS {literal(doc)}")
    for name, doc in CATALOG_DOCS.items():
        con.execute(f"COMMENT ON VIEW main.{name} IS {literal(doc)}")
        for (col,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = 'main' "
                                  "AND table_name = ?", [name]).fetchall():
            con.execute(f"COMMENT ON COLUMN main.{name}.{col} IS {literal(CATALOG_COLUMN_DOCS[col])}")
