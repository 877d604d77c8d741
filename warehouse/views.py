"""The public views: each table as seen in one data version, the computed pfs_payment, and as-of-date macros.

Every view is generated from one SQL template parameterised by the data version, so `latest` (the views in
the database) and a pinned version (`cmsref query --version V`, temporary views of the same names) can never
disagree about what a table means.
"""

from __future__ import annotations

import duckdb

from core import effective
from warehouse.claim_rules import NATIONAL_GPCI, SCALAR_MACROS, create_helper_macros, create_scalar_macros
from core.sql import literal
from core.tables import CATALOG_COLUMN_DOCS, CATALOG_DOCS, LINEAGE, TABLES, WINDOW, Table

LATEST_SQL = "(SELECT data_version FROM meta.data_versions ORDER BY seq DESC LIMIT 1)"
# a row applies on date of service `dos` (a macro parameter): the one rule, core/effective.py
IN_EFFECT = effective.sql("dos")


def table_sql(table: Table, version_sql: str) -> str:
    cols = ", ".join(f"t.{c.name}" for c in table.columns)
    return (
        f"SELECT t.release_id, w.period, w.effective_from, w.effective_to, {cols}, t.source_sha256, t.source_row "
        f"FROM store.{table.name} t JOIN meta.data_version_tables w "
        f"ON w.release_id = t.release_id AND w.table_name = '{table.name}' "
        f"WHERE w.data_version = {version_sql}"
    )


def payment_sql(version_sql: str | None) -> str:
    """pfs_payment: [(work RVU x work GPCI) + (PE RVU x PE GPCI) + (MP RVU x MP GPCI)] x CF, rounded half-up to
    the cent at the end (the pfs_amount macro, warehouse/claim_rules.py, which pfs_check prices lines with; this
    reproduces CMS's own PFREV25C amounts for all 109 localities; see tests).
    National rows use GPCIs of 1. The RVU and GPCI rows pair where their effective windows overlap.
    version_sql None: over tables named like the views (an exported snapshot holds them so)."""
    def source(name):
        return f"SELECT * FROM {name}" if version_sql is None else table_sql(TABLES[name], version_sql)
    rvu, gpci, cf = source("pfs_rvu"), source("pfs_gpci"), source("conversion_factor")
    both_end = effective.earlier_end_sql("r.effective_to", "g.effective_to")  # the end of the windows' intersection
    return f"""
WITH rvu AS (SELECT r.*, c.variant AS cf_variant, c.conversion_factor AS cf
             FROM ({rvu}) r JOIN ({cf}) c ON c.release_id = r.release_id AND c.kind = 'physician'),
gpci AS ({gpci}),
located AS (
  -- national rows: all GPCIs 1
  SELECT r.*, r.effective_from AS eff_from, r.effective_to AS eff_to, NULL::VARCHAR AS mac,
         NULL::VARCHAR AS locality, 'NATIONAL' AS locality_name, true AS is_national, {NATIONAL_GPCI} AS work_gpci,
         {NATIONAL_GPCI} AS pe_gpci, {NATIONAL_GPCI} AS mp_gpci, NULL::VARCHAR AS gpci_release_id,
         NULL::VARCHAR AS gpci_source_sha256, NULL::BIGINT AS gpci_source_row
  FROM rvu r
  UNION ALL
  -- locality rows: the GPCI rows whose window overlaps the RVU row's. PFS windows never cross a calendar year,
  -- so the equal year lets DuckDB hash-join instead of comparing every pair
  SELECT r.*, greatest(r.effective_from, g.effective_from), {both_end},
         g.mac, g.locality, g.locality_name, false, g.work_gpci, g.pe_gpci, g.mp_gpci, g.release_id, g.source_sha256,
         g.source_row
  FROM rvu r JOIN gpci g ON year(g.effective_from) = year(r.effective_from)
   AND windows_overlap(r.effective_from, r.effective_to, g.effective_from, g.effective_to)),
priced AS (
  SELECT l.*, s.setting,
         setting_pe_rvu(s.setting, l.facility_pe_rvu, l.non_facility_pe_rvu) AS pe_rvu
  FROM located l CROSS JOIN (VALUES ('facility'), ('non_facility')) s(setting)
)
SELECT release_id, period, eff_from AS effective_from, eff_to AS effective_to, hcpcs, modifier, status_code, mac,
       locality, locality_name, is_national, setting, cf_variant, work_rvu, pe_rvu, mp_rvu, work_gpci, pe_gpci,
       mp_gpci, cf AS conversion_factor,
       pfs_amount(work_rvu, work_gpci, pe_rvu, pe_gpci, mp_rvu, mp_gpci, cf) AS amount,
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


def catalog_sql() -> dict[str, str]:
    latest_windows = (
        f"SELECT release_id, min(effective_from) AS effective_from, "
        f"{effective.latest_end_sql('effective_to')} AS effective_to "
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
    create_scalar_macros(con)
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
    create_scalar_macros(con, temp=True)  # a warehouse older than the macros
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


def snapshot_statements(version: str) -> list[str]:
    """SQL that gives an exported snapshot (its tables named like the views) the views and macros of the warehouse:
    pfs_payment, every `<name>_on(date)`, `<name>_version(v)` and `<name>_at(v, date)` (for this one version), the
    claim-line rules and the in_effect rule. Run in the snapshot file (duckdb export) or after views.sql's
    CREATE VIEWs (parquet export)."""
    from warehouse.claim_rules import HELPER_MACROS, macro_sql

    v = literal(version)
    out = [*(f"CREATE OR REPLACE MACRO {macro}" for macro in SCALAR_MACROS),
           f"CREATE OR REPLACE VIEW pfs_payment AS {payment_sql(None)}"]
    for name in [*TABLES, "pfs_payment"]:
        out += [f"CREATE OR REPLACE MACRO {name}_on(dos) AS TABLE SELECT * FROM {name} WHERE {IN_EFFECT}",
                f"CREATE OR REPLACE MACRO {name}_version(v) AS TABLE SELECT * FROM {name} WHERE v = {v}",
                f"CREATE OR REPLACE MACRO {name}_at(v, dos) AS TABLE SELECT * FROM {name}_version(v) WHERE {IN_EFFECT}"]
    out += [f"CREATE OR REPLACE MACRO {n}({params}) AS TABLE {macro_sql(n)}" for n, (params, _) in HELPER_MACROS.items()]
    return out
