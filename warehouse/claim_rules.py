"""Claim-line rules as SQL table macros, defined over the public view names so that the same SQL serves `latest`
and a pinned version: `pfs_check(lines)`, `mue_check(lines)`, `addon_check(lines)` (with `addon_release_on(dos)` and
`addon_edits_on(dos)`) and `code_status(code, dos)`.

Each rule decides "in effect on the line's date of service" with the one rule of core/effective.py (the
`in_effect` macro); tests/unit/test_claim_rules.py and the integration tests feed them claim lines.
"""

from __future__ import annotations

import duckdb

from core import effective
from core.fields import FIELDS
from core.sql import literal


# A claim line's fields, by the names of POST /lines and `cmsref lines`, and the bounds of their values (the rules'
# input; POST /lines and claim files check lines against these before the rules run)
LINE_FIELDS = ("claim", "hcpcs", "modifier", "units", "date_of_service", "locality", "zip", "setting",
               "service_type", "qp")
MAX_UNITS = 2**31 - 1
SETTINGS = ("facility", "non_facility")  # the PE RVU a line is priced with
# What a checked line is answered with (POST /lines, `cmsref lines`, cmsref.spark), after the pass-through columns:
# the line's fields as read, then the three rules' results, with their DuckDB types
LINE_RESULT = {
    "claim": "VARCHAR", "hcpcs": "VARCHAR", "modifier": "VARCHAR", "units": "INTEGER", "date_of_service": "DATE",
    "setting": "VARCHAR", "locality": "VARCHAR", "qp": "BOOLEAN", "pfs_amount": "DECIMAL(12,2)",
    "pfs_period": "VARCHAR", "pfs_status_code": "VARCHAR", "pfs_cf_variant": "VARCHAR", "pfs_status": "VARCHAR",
    "mue_period": "VARCHAR", "mue_value": "INTEGER", "mai": "INTEGER", "units_compared": "BIGINT",
    "mue_status": "VARCHAR", "aoc_period": "VARCHAR", "addon_edit_type": "INTEGER", "primaries_on_claim": "VARCHAR[]",
    "addon_status": "VARCHAR",
}


def one_of(values) -> str:
    """'a, b or c': the values a line's field may take, as messages name them."""
    return f"{', '.join(values[:-1])} or {values[-1]}"


def lines_sql(reserved: tuple[str, ...] = (), optional: dict[str, str] | None = None) -> str:
    """The lines a rule reads, as SQL over its `lines` argument: numbered by their position (`line_no`; a line_no of
    the table is replaced, since one that repeats per claim would merge lines), with a `claim_id` column whether the
    table has one or not (lines without one are one claim) and the `optional` columns (name: type) likewise.
    `SELECT NULL AS x WHERE false UNION ALL BY NAME` adds a column only where the table lacks it. `reserved`: the
    names of the rule's own columns, which a column of the table must not shadow (the rule's own wins)."""
    added = {"claim_id": "VARCHAR", **(optional or {}), "line_no": "BIGINT", **{n: "VARCHAR" for n in reserved}}
    empty = ", ".join(f"NULL::{t} AS {n}" for n, t in added.items())
    return (f"SELECT * EXCLUDE (line_no{''.join(', ' + n for n in reserved)}), row_number() OVER () AS line_no "
            f"FROM (SELECT {empty} WHERE false UNION ALL BY NAME SELECT * FROM query_table(lines))")


LINES = lines_sql()
MUE_COLUMNS = ("mue_period", "mue_value", "mai", "mai_label", "covered", "units_that_day", "units_compared",
               "exceeds", "status")
# for pricing, every optional column of a line: modifier (none), setting (non_facility), mac and locality
# (national), zip (none: the ZIP code of service, placed in its MAC and locality by PLACED_LINES), qp (false: the
# non-QP conversion factor where a year has two)
PRICED_LINES = ("SELECT * REPLACE (coalesce(modifier, '') AS modifier, coalesce(setting, 'non_facility') AS setting, "
                "coalesce(qp, false) AS qp) FROM (" + lines_sql(optional={
                    "modifier": "VARCHAR", "setting": "VARCHAR", "mac": "VARCHAR", "locality": "VARCHAR",
                    "zip": "VARCHAR", "qp": "BOOLEAN"}) + ")")
# A line with a `zip` takes the MAC and locality of its ZIP code from the ZIP code file in effect on its date of
# service (zip_locality), then is priced exactly as a line with that MAC and locality. Never a guess: a ZIP code that
# is malformed, given with a MAC or locality, not in the file, on a date no file covers, or flagged as needing its
# +4 (it spans localities; the ZIP+4 file is not loaded) gets no MAC and locality and a `zip_problem` saying why.
PLACED_LINES = f"""
SELECT l.* REPLACE (CASE WHEN l.zip IS NULL THEN l.mac WHEN NOT z.needs_plus_four THEN z.mac END AS mac,
                    CASE WHEN l.zip IS NULL THEN l.locality WHEN NOT z.needs_plus_four THEN z.locality END AS locality),
       CASE WHEN l.zip IS NULL THEN NULL
            WHEN l.mac IS NOT NULL OR l.locality IS NOT NULL THEN 'give a zip, or a mac and locality, not both'
            WHEN NOT regexp_full_match(l.zip, {literal(FIELDS["zip"].pattern)})
              THEN 'zip ' || l.zip || {literal(' is not ' + FIELDS["zip"].describe())}
            WHEN z.zip5 IS NULL AND NOT EXISTS (SELECT 1 FROM zip_windows w
                                                WHERE in_effect(l.date_of_service, w.effective_from, w.effective_to))
              THEN 'no data: no ZIP code to carrier locality file covers the date of service'
            WHEN z.zip5 IS NULL THEN 'ZIP code not in the ZIP code to carrier locality file in effect'
            WHEN z.needs_plus_four THEN 'ZIP code spans localities: its +4 and the ZIP+4 file (not loaded) are needed'
       END AS zip_problem
FROM priced_lines l LEFT JOIN zip_locality z ON z.zip5 = left(l.zip, 5)
 AND in_effect(l.date_of_service, z.effective_from, z.effective_to)"""

# Rules of one row, as scalar macros created beside in_effect and windows_overlap (SCALAR_MACROS) wherever the views
# and rules are: the PFS amount and the PE RVU of a setting (the pfs_payment view and pfs_check both compute them
# with these, nothing else) and the four dates of an add-on code edit (addon_edits_on and addon_check).
# [(work RVU x work GPCI) + (PE RVU x PE GPCI) + (MP RVU x MP GPCI)] x CF, rounded half-up to the cent at the end
PFS_AMOUNT = ("pfs_amount(work_rvu, work_gpci, pe_rvu, pe_gpci, mp_rvu, mp_gpci, cf) AS "
              "ROUND((work_rvu * work_gpci + pe_rvu * pe_gpci + mp_rvu * mp_gpci) * cf, 2)::DECIMAL(12,2)")
# An edit applies from its effective date to its deletion date (the last day it applies), and only while neither the
# add-on code nor the primary code is deleted (each deletion date is the code's last day)
ADDON_EDIT_APPLIES = (
    "addon_edit_applies(dos, edit_effective_date, edit_deletion_date, addon_deletion_date, primary_deletion_date) AS "
    "CAST(dos AS DATE) >= edit_effective_date "
    "AND (edit_deletion_date IS NULL OR CAST(dos AS DATE) <= edit_deletion_date) "
    "AND (addon_deletion_date IS NULL OR CAST(dos AS DATE) <= addon_deletion_date) "
    "AND (primary_deletion_date IS NULL OR CAST(dos AS DATE) <= primary_deletion_date)")
# A line without a locality (and pfs_payment's national row) is priced with GPCIs of 1: the national amount
NATIONAL_GPCI = f"1.000::{FIELDS['work_gpci'].type}"
# A line (and a pfs_payment row) of a setting is priced with that setting's PE RVU
SETTING_PE_RVU = ("setting_pe_rvu(setting, facility_pe_rvu, non_facility_pe_rvu) AS "
                  "CASE setting WHEN 'facility' THEN facility_pe_rvu ELSE non_facility_pe_rvu END")
SCALAR_MACROS = (*effective.SQL_MACROS, PFS_AMOUNT, SETTING_PE_RVU, ADDON_EDIT_APPLIES)

# Query helpers, defined over the public view names so that the same SQL serves `latest` and a pinned version.
HELPER_MACROS = {
    # lines: the name of a table or view with columns hcpcs, units, date_of_service, service_type
    # (practitioner | outpatient_hospital | dme) and optionally claim_id, e.g. the lines of one claim. MAI 1 edits
    # compare each line's units; MAI 2 and 3 (date of service edits) compare the units of the code on that day
    # summed over the lines of the claim.
    "mue_check": ("lines", f"""
WITH l AS ({lines_sql(MUE_COLUMNS)}),
cov AS (SELECT DISTINCT service_type, period, release_id, effective_from, effective_to FROM mue),
day_units AS (  -- the units of a code on a date of service, summed over the lines of the claim
  SELECT claim_id, service_type, hcpcs, CAST(date_of_service AS DATE) AS dos,
         CAST(sum(units) AS BIGINT) AS units_that_day
  FROM l GROUP BY claim_id, service_type, hcpcs, CAST(date_of_service AS DATE)),
matched AS (
  SELECT l.*, c.period AS mue_period, m.mue_value, m.mai, m.mai_label, c.release_id IS NOT NULL AS covered,
         u.units_that_day
  FROM l
  JOIN day_units u ON u.claim_id IS NOT DISTINCT FROM l.claim_id AND u.service_type IS NOT DISTINCT FROM l.service_type
   AND u.hcpcs IS NOT DISTINCT FROM l.hcpcs AND u.dos IS NOT DISTINCT FROM CAST(l.date_of_service AS DATE)
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
FROM matched"""),
    # lines: a table or view with columns hcpcs and date_of_service, and optionally modifier, setting, mac and
    # locality, or zip (placed by PLACED_LINES), qp: the PFS amount of each line, computed by the formula of the
    # pfs_payment view (pfs_amount) from the RVU row of its code and modifier, the GPCI row of its locality (GPCIs 1
    # for a line without one: the national amount) and the conversion factor of the RVU's release, each from the
    # release in effect on the line's date of service (the rows of pfs_payment in effect that day, never the whole
    # view), with its release, status code and conversion factor variant, and a pfs_status: 'priced' only for status
    # codes the PFS pays (A, R, T); otherwise why not.
    "pfs_check": ("lines", f"""
WITH priced_lines AS ({PRICED_LINES}),
zip_windows AS (SELECT DISTINCT effective_from, effective_to FROM zip_locality),
l AS ({PLACED_LINES}),
days AS (SELECT DISTINCT CAST(date_of_service AS DATE) AS dos FROM l),
-- The rows a line is priced from are one per line: each join below is on a key that names at most one row, and a
-- second row where one is expected (two releases in effect on a day, a key twice) is an error, never one amount
-- picked silently among several. The guard is part of a column a join uses (an unused one would be pruned).
day_rvu AS (  -- the RVU release in effect on each date of service
  SELECT d.dos, CASE WHEN count(*) > 1 THEN error('pfs_check: ' || count(*) || ' PFS RVU releases are in effect on '
                                                   || d.dos) ELSE any_value(w.release_id) END AS release_id
  FROM days d JOIN (SELECT DISTINCT release_id, effective_from, effective_to FROM pfs_rvu) w
    ON in_effect(d.dos, w.effective_from, w.effective_to)
  GROUP BY d.dos),
day_gpci AS (  -- the GPCI row of each locality in effect on each date of service
  SELECT d.dos, g.mac, CASE WHEN count(*) > 1 THEN error('pfs_check: ' || count(*) || ' GPCI rows of ' || g.mac ||
                                                          ':' || g.locality || ' are in effect on ' || d.dos)
                            ELSE any_value(g.locality) END AS locality,
         any_value(g.work_gpci) AS work_gpci, any_value(g.pe_gpci) AS pe_gpci, any_value(g.mp_gpci) AS mp_gpci
  FROM days d JOIN pfs_gpci g ON in_effect(d.dos, g.effective_from, g.effective_to)
  GROUP BY d.dos, g.mac, g.locality),
rvu AS (  -- the RVU rows of the codes on the lines
  SELECT r.*, CASE WHEN count(*) OVER (PARTITION BY r.release_id, r.hcpcs, r.modifier) > 1
                   THEN error('pfs_check: ' || r.hcpcs || r.modifier || ' is in ' || r.release_id || ' twice')
                   ELSE r.hcpcs END AS code
  FROM pfs_rvu r WHERE r.hcpcs IN (SELECT hcpcs FROM l)),
cf AS (  -- the conversion factor of each release for a line that is, or is not, of a QP
  SELECT c.release_id, q.qp, any_value(c.variant) AS variant,
         CASE WHEN count(*) > 1 THEN error('pfs_check: ' || count(*) || ' conversion factors of ' || c.release_id ||
                                           ' apply to a line of qp ' || q.qp)
              ELSE any_value(c.conversion_factor) END AS conversion_factor
  FROM conversion_factor c JOIN (VALUES (true), (false)) q(qp)
    ON c.variant IN ('all', CASE WHEN q.qp THEN 'qp' ELSE 'non_qp' END)
  WHERE c.kind = 'physician' GROUP BY c.release_id, q.qp),
priced AS (  -- the RVU row of the line's code in the release in effect that day, its CF and its GPCI row
  SELECT l.line_no, l.claim_id, l.hcpcs, l.modifier, l.date_of_service, l.setting, l.mac, l.locality, l.zip_problem,
         dr.release_id AS day_release, r.code AS rvu_code, r.period, r.status_code, c.variant,
         CASE WHEN l.zip_problem IS NULL AND c.release_id IS NOT NULL
                   AND ((l.mac IS NULL AND l.locality IS NULL) OR g.mac IS NOT NULL)  -- national: all GPCIs 1
              THEN pfs_amount(r.work_rvu, coalesce(g.work_gpci, {NATIONAL_GPCI}),
                              setting_pe_rvu(l.setting, r.facility_pe_rvu, r.non_facility_pe_rvu),
                              coalesce(g.pe_gpci, {NATIONAL_GPCI}), r.mp_rvu,
                              coalesce(g.mp_gpci, {NATIONAL_GPCI}), c.conversion_factor) END AS amount
  FROM l LEFT JOIN day_rvu dr ON dr.dos = CAST(l.date_of_service AS DATE)
  LEFT JOIN rvu r ON r.release_id = dr.release_id AND r.code = l.hcpcs AND r.modifier = l.modifier
  LEFT JOIN cf c ON c.release_id = r.release_id AND c.qp = l.qp
  LEFT JOIN day_gpci g ON g.dos = dr.dos AND g.mac = l.mac AND g.locality = l.locality)
SELECT line_no, claim_id, hcpcs, modifier, date_of_service, setting,
       CASE WHEN zip_problem IS NOT NULL THEN NULL
            WHEN mac IS NULL AND locality IS NULL THEN 'national'
            ELSE coalesce(mac, '?') || ':' || coalesce(locality, '?') END AS locality, amount AS pfs_amount,
       CASE WHEN amount IS NOT NULL THEN period END AS pfs_period,
       CASE WHEN amount IS NOT NULL THEN status_code END AS pfs_status_code,
       CASE WHEN amount IS NOT NULL THEN variant END AS pfs_cf_variant,
       CASE WHEN zip_problem IS NOT NULL THEN zip_problem
            WHEN (mac IS NULL) <> (locality IS NULL) THEN 'mac and locality are given together, or neither'
            WHEN amount IS NOT NULL AND status_code IN ('A', 'R', 'T') THEN 'priced'
            WHEN amount IS NOT NULL THEN 'status ' || status_code || ': not paid from the fee schedule amount'
            WHEN day_release IS NULL THEN 'no data: no PFS release covers the date of service'
            WHEN rvu_code IS NULL THEN 'code and modifier not in the PFS release in effect'
            ELSE 'no GPCI of the locality in effect on the date of service' END AS pfs_status
FROM priced"""),
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
    # The add-on code edits that apply on a date of service. The AOC file is cumulative: every edit carries its own
    # effective and deletion dates (deletion = last day it applies). A date is judged by the release in effect on it;
    # a date before the first loaded release by that release's history (its rows' dates), never by a later one's.
    # addon_release_on(dos): that release (no row: no add-on code edits are loaded for the date).
    "addon_release_on": ("dos", """
WITH cov AS (SELECT DISTINCT period, release_id, effective_from, effective_to FROM addon_code_edit)
SELECT period, release_id FROM cov WHERE in_effect(dos, effective_from, effective_to)
UNION ALL
SELECT period, release_id FROM (SELECT * FROM cov ORDER BY effective_from LIMIT 1)
WHERE CAST(dos AS DATE) < effective_from"""),
    # addon_edits_on(dos): the edits of that release in effect on the date, every one of the four dates honoured
    # (addon_edit_applies)
    "addon_edits_on": ("dos", """
SELECT e.* FROM addon_code_edit e JOIN addon_release_on(dos) r USING (release_id)
WHERE addon_edit_applies(dos, e.edit_effective_date, e.edit_deletion_date, e.addon_deletion_date,
                         e.primary_deletion_date)"""),
    # lines: a table or view with columns hcpcs and date_of_service (and claim_id, optional): the lines of one or
    # more claims. For every line whose code is an add-on code in the edits in effect that day (addon_edits_on):
    # is an allowed primary code on the same claim on the same date of service?
    "addon_check": ("lines", f"""
WITH l AS ({LINES}),
days AS (SELECT DISTINCT CAST(date_of_service AS DATE) AS dos FROM l),
day_release AS (SELECT d.dos, r.period, r.release_id FROM days d, LATERAL addon_release_on(d.dos) r),
candidates AS MATERIALIZED (  -- the lines whose code is an add-on code of a release judging their date
  SELECT l.line_no, l.claim_id, l.hcpcs, r.dos, r.period, r.release_id
  FROM l JOIN day_release r ON r.dos = CAST(l.date_of_service AS DATE)
  WHERE l.hcpcs IN (SELECT addon_code FROM addon_code_edit)),
addons AS (  -- those whose code is the add-on code of an edit that applies on their date: a row per edit
  SELECT c.line_no, c.claim_id, c.dos, c.period AS aoc_period, e.edit_type, e.primary_code
  FROM candidates c JOIN addon_code_edit e ON e.release_id = c.release_id AND e.addon_code = c.hcpcs
  WHERE addon_edit_applies(c.dos, e.edit_effective_date, e.edit_deletion_date, e.addon_deletion_date,
                           e.primary_deletion_date)),
judged AS (  -- a primary counts when it is on the same claim on the same date of service
  SELECT a.line_no, any_value(a.aoc_period) AS aoc_period, min(a.edit_type) AS edit_type,
         list(DISTINCT a.primary_code ORDER BY a.primary_code) FILTER (p.hcpcs IS NOT NULL) AS primaries_on_claim
  FROM addons a LEFT JOIN l p ON p.claim_id IS NOT DISTINCT FROM a.claim_id AND p.hcpcs = a.primary_code
   AND CAST(p.date_of_service AS DATE) = a.dos
  GROUP BY a.line_no)
SELECT l.line_no, l.hcpcs, l.date_of_service, j.aoc_period, j.edit_type, j.primaries_on_claim,
       CASE WHEN j.line_no IS NULL AND NOT EXISTS (SELECT 1 FROM day_release r
                                                   WHERE r.dos = CAST(l.date_of_service AS DATE))
              THEN 'no data: no add-on code edits are loaded for this date of service'
            WHEN j.line_no IS NULL THEN 'not an add-on code'
            WHEN len(coalesce(j.primaries_on_claim, [])) > 0 THEN 'allowed primary on claim'
            WHEN j.edit_type = 2 THEN 'type 2: the contractor defines the primary codes'
            WHEN j.edit_type = 3 THEN 'type 3: no listed primary on claim; the contractor may allow others'
            ELSE 'no allowed primary on claim' END AS status
FROM l LEFT JOIN judged j USING (line_no)"""),
}


# The three rules over claim lines answer one row per line, in line order as macros; line_results_sql joins their rows
# by line number, and reads them unordered (the sorts were an eighth of its time)
LINE_RULES = ("pfs_check", "mue_check", "addon_check")


def macro_sql(name: str) -> str:
    """The body of a rule's macro (a rule over claim lines ordered by line number)."""
    body = HELPER_MACROS[name][1]
    return body + "\nORDER BY line_no" if name in LINE_RULES else body


def rule_over(name: str, lines: str) -> str:
    """A rule over claim lines as a query over the table `lines`, unordered (the macro's body, whose lines are
    `query_table(lines)`)."""
    body = HELPER_MACROS[name][1]
    assert "query_table(lines)" in body
    return body.replace("query_table(lines)", f"query_table('{lines}')")


def line_results_sql(lines: str = "claim_lines") -> str:
    """Every line of the table `lines` (numbered by line_no) with the results of the three rules, one row each: the
    one query that POST /lines and `cmsref lines` run. A rule's row that does not name the same line (its code
    differs) is an error, never another line's answer: the check is part of the join condition, which is always
    evaluated (an unused column holding it would be dropped by the optimiser)."""
    def same(rule):
        return f"(CASE WHEN {rule}.hcpcs <> l.hcpcs THEN error('claim lines out of step') ELSE true END)"
    return f"""
SELECT l.line_no, p.locality, p.pfs_amount, p.pfs_period, p.pfs_status_code, p.pfs_cf_variant, p.pfs_status,
       m.mue_period, m.mue_value, m.mai, m.units_compared, m.status AS mue_status,
       a.aoc_period, a.edit_type AS addon_edit_type, a.primaries_on_claim, a.status AS addon_status
FROM {lines} l JOIN ({rule_over('pfs_check', lines)}) p ON p.line_no = l.line_no AND {same('p')}
JOIN ({rule_over('mue_check', lines)}) m ON m.line_no = l.line_no
JOIN ({rule_over('addon_check', lines)}) a ON a.line_no = l.line_no AND {same('a')}"""


def create_helper_macros(con: duckdb.DuckDBPyConnection, temp: bool = False, names=None) -> None:
    """Create the rules (all, or those named) as macros of the warehouse, or as TEMP macros of one connection (the
    scalar rules they use, create_scalar_macros, are created before the views, which use them too)."""
    for name, (params, _) in HELPER_MACROS.items():
        if names is not None and name not in names:
            continue
        where = "TEMP MACRO " if temp else "MACRO main."
        con.execute(f"CREATE OR REPLACE {where}{name}({params}) AS TABLE {macro_sql(name)}")


def create_scalar_macros(con: duckdb.DuckDBPyConnection, temp: bool = False) -> None:
    """SCALAR_MACROS (in_effect, windows_overlap, pfs_amount, setting_pe_rvu, addon_edit_applies), in the warehouse
    or as TEMP macros."""
    for macro in SCALAR_MACROS:
        con.execute(f"CREATE OR REPLACE {'TEMP MACRO ' if temp else 'MACRO main.'}{macro}")
