"""Claim-line rules as SQL table macros, defined over the public view names so that the same SQL serves `latest`
and a pinned version: `mue_check(lines)`, `addon_check(lines)` and `code_status(code, dos)`.

Each rule decides "in effect on the line's date of service" with the one rule of warehouse/effective.py (the
`in_effect` macro); tests/unit/test_claim_rules.py and the integration tests feed them claim lines.
"""

from __future__ import annotations

import duckdb

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


def create_helper_macros(con: duckdb.DuckDBPyConnection, temp: bool = False, names=None) -> None:
    """Create the rules (all, or those named) as macros of the warehouse, or as TEMP macros of one connection."""
    for name, (params, body) in HELPER_MACROS.items():
        if names is not None and name not in names:
            continue
        where = "TEMP MACRO " if temp else "MACRO main."
        con.execute(f"CREATE OR REPLACE {where}{name}({params}) AS TABLE {body}")
