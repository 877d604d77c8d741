"""The published tables: their columns, types, grain and documentation (the table contract of PRODUCT.md).

This module is the one place a table's columns, types and key are defined (the table registry): layouts take the
decimals of every published number from it, `transform.tables.conform` casts each parsed table to its types, the
suites take keys and the column set from it, and the COMMENTs and docs/schema.md are generated from it. The warehouse stores each table's rows once per
release in schema `store`; the public views in `main` (the names analysts use) show the rows of the releases
in one data version (`latest` by default), with the effective window of each release. Every table and column
gets a COMMENT in the database, and docs/schema.md is generated from those comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Col:
    name: str
    type: str  # the DuckDB type; parsing, suites and docs derive theirs from it
    doc: str

    @property
    def scale(self) -> int | None:
        """Decimals of a DECIMAL(p,s) column (a layout reads the file's numbers to exactly this many)."""
        m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", self.type)
        return int(m.group(2)) if m else None

    @property
    def polars_type(self):
        """The polars type a parsed frame holds for this column before it is published."""
        import polars as pl

        m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", self.type)
        if m:
            return pl.Decimal(int(m.group(1)), int(m.group(2)))
        return {"VARCHAR": pl.String, "INTEGER": pl.Int64, "BIGINT": pl.Int64, "BOOLEAN": pl.Boolean,
                "DATE": pl.Date}[self.type]


@dataclass(frozen=True)
class Table:
    name: str
    dataset: str
    grain: str
    doc: str
    key: tuple[str, ...]  # natural key within a release: unique and never NULL (suites, diff and docs use it)
    columns: tuple[Col, ...]
    partition: str | None = None  # validated (row counts vs the previous release) per value of this column

    def column(self, name: str) -> Col | None:
        return next((c for c in self.columns if c.name == name), None)


LINEAGE = (
    Col("source_sha256", "VARCHAR", "SHA-256 of the source file this row was read from (see source_files)"),
    Col("source_row", "BIGINT", "1-based record number of this row in its source file (its line in a CSV/TXT)"),
)
WINDOW = (
    Col("effective_from", "DATE", "first date of service this row applies to (from its release)"),
    Col("effective_to", "DATE", "first date of service it no longer applies to (exclusive): the next loaded "
        "release of the dataset takes over, and never later than the end of the release's calendar year"),
)

_RVU = "DECIMAL(9,2)"
_GPCI = "DECIMAL(6,3)"
_CF = "DECIMAL(9,4)"
_MONEY = "DECIMAL(12,2)"
_STATED_MONEY = "DECIMAL(18,9)"  # money as CMS states it, to 9 decimals: OPPS drug rates 115.936, copayments 23.1872
_PERCENT = "DECIMAL(9,4)"

TABLES: dict[str, Table] = {t.name: t for t in [
    Table("pfs_rvu", "pfs", "release x HCPCS x modifier",
          "Physician Fee Schedule relative value units (CMS PPRRVU file), one row per HCPCS code and modifier.",
          ("hcpcs", "modifier"), (
        Col("hcpcs", "VARCHAR", "HCPCS / CPT code, text (leading zeros kept)"),
        Col("modifier", "VARCHAR", "modifier ('' = none; 26 professional, TC technical, 53 discontinued)"),
        Col("description", "VARCHAR", "CMS short descriptor (CPT descriptors are copyright AMA)"),
        Col("status_code", "VARCHAR", "PFS status code (A active, B bundled, C carrier priced, ... see status_indicator)"),
        Col("not_used_for_medicare_payment", "VARCHAR", "'+' when the RVUs are not used for Medicare payment"),
        Col("work_rvu", _RVU, "physician work RVU"),
        Col("non_facility_pe_rvu", _RVU, "practice expense RVU, non-facility setting"),
        Col("non_facility_na_indicator", "VARCHAR", "'NA': rarely or never performed in the non-facility setting"),
        Col("facility_pe_rvu", _RVU, "practice expense RVU, facility setting"),
        Col("facility_na_indicator", "VARCHAR", "'NA': rarely or never performed in the facility setting"),
        Col("mp_rvu", _RVU, "malpractice (professional liability) RVU"),
        Col("non_facility_total_rvu", _RVU, "work + non-facility PE + MP RVUs, as stated by CMS"),
        Col("facility_total_rvu", _RVU, "work + facility PE + MP RVUs, as stated by CMS"),
        Col("pctc_indicator", "VARCHAR", "professional/technical component indicator"),
        Col("global_days", "VARCHAR", "global surgery period: 000, 010, 090, MMM, XXX, YYY, ZZZ"),
        Col("pre_op_share", _RVU, "share of the global package for pre-operative care"),
        Col("intra_op_share", _RVU, "share of the global package for intra-operative care"),
        Col("post_op_share", _RVU, "share of the global package for post-operative care"),
        Col("multiple_procedure_indicator", "VARCHAR", "multiple procedure (modifier 51) payment rule"),
        Col("bilateral_surgery_indicator", "VARCHAR", "bilateral surgery (modifier 50) payment rule"),
        Col("assistant_surgery_indicator", "VARCHAR", "assistant at surgery (modifiers 80-82, AS) rule"),
        Col("co_surgeons_indicator", "VARCHAR", "co-surgeons (modifier 62) rule"),
        Col("team_surgery_indicator", "VARCHAR", "team surgery (modifier 66) rule"),
        Col("pricing_indicator", "VARCHAR", "PRIC IND column, present from CY2026 (NULL before)"),
        Col("endoscopic_base_code", "VARCHAR", "endoscopic base code for multiple procedure indicator 3"),
        Col("conversion_factor", _CF, "national conversion factor stated on the row (non-QP from 2026)"),
        Col("physician_supervision", "VARCHAR", "physician supervision of diagnostic procedures"),
        Col("calculation_flag", "VARCHAR", "calculation flag (0 for all codes since July 2014)"),
        Col("diagnostic_imaging_family", "VARCHAR", "diagnostic imaging family indicator (88 = subject to the reduction)"),
        Col("opps_non_facility_pe_rvu", _RVU, "non-facility PE RVU used for the OPPS imaging cap"),
        Col("opps_facility_pe_rvu", _RVU, "facility PE RVU used for the OPPS imaging cap"),
        Col("opps_mp_rvu", _RVU, "MP RVU used for the OPPS imaging cap"),
    )),
    Table("pfs_gpci", "pfs", "release x MAC x locality",
          "Geographic practice cost indices (CMS GPCI file, Addendum E) per Medicare locality.",
          ("mac", "locality"), (
        Col("mac", "VARCHAR", "Medicare Administrative Contractor number, 5 characters (zeros restored)"),
        Col("state", "VARCHAR", "state abbreviation"),
        Col("locality", "VARCHAR", "locality number, 2 characters (zeros restored)"),
        Col("locality_name", "VARCHAR", "locality name (CMS footnote markers '*' removed)"),
        Col("work_gpci", _GPCI, "work GPCI (the column CMS labels 'PW GPCI (with 1.0 Floor)')"),
        Col("pe_gpci", _GPCI, "practice expense GPCI"),
        Col("mp_gpci", _GPCI, "malpractice GPCI"),
    )),
    Table("pfs_locality", "pfs", "release x MAC x locality",
          "Counties of each PFS locality (CMS LOCCO file). The state is filled down as CMS prints it only once.",
          ("mac", "locality"), (
        Col("mac", "VARCHAR", "Medicare Administrative Contractor number, 5 characters"),
        Col("locality", "VARCHAR", "locality number, 2 characters"),
        Col("state", "VARCHAR", "state name"),
        Col("fee_schedule_area", "VARCHAR", "fee schedule area name"),
        Col("counties", "VARCHAR", "counties in the locality, as CMS lists them"),
    )),
    Table("pfs_anesthesia_cf", "pfs", "release x MAC x locality",
          "Locality-adjusted anesthesia conversion factors (CMS ANES file). Names are in pfs_gpci.",
          ("mac", "locality"), (
        Col("mac", "VARCHAR", "Medicare Administrative Contractor number, 5 characters"),
        Col("locality", "VARCHAR", "locality number, 2 characters"),
        Col("anesthesia_cf", "DECIMAL(9,2)", "anesthesia conversion factor for the locality, dollars per unit"),
    )),
    Table("pfs_opps_cap", "pfs", "release x HCPCS x modifier x MAC x locality",
          "OPPS payment caps for imaging services (CMS OPPSCAP file): the PFS amount is capped at the OPPS amount.",
          ("hcpcs", "modifier", "mac", "locality"), (
        Col("hcpcs", "VARCHAR", "HCPCS / CPT code"),
        Col("modifier", "VARCHAR", "modifier ('' = none)"),
        Col("procedure_status", "VARCHAR", "PFS status code of the procedure"),
        Col("mac", "VARCHAR", "Medicare Administrative Contractor (CMS calls it carrier), 5 characters"),
        Col("locality", "VARCHAR", "locality number, 2 characters"),
        Col("facility_price", _MONEY, "OPPS cap amount, facility setting, dollars"),
        Col("non_facility_price", _MONEY, "OPPS cap amount, non-facility setting, dollars"),
    )),
    Table("conversion_factor", "pfs", "kind x variant x effective window",
          "National conversion factors stated in the files: the PPRRVU CONV FACTOR column (physician) and the "
          "ANES file header (anesthesia, where stated). Cross-checked against a curated, cited table.",
          ("kind", "variant"), (
        Col("kind", "VARCHAR", "physician or anesthesia"),
        Col("variant", "VARCHAR", "'all' before 2026; from 2026 'qp' (qualifying APM participants) or 'non_qp'"),
        Col("conversion_factor", _CF, "dollars per RVU (physician) or per anesthesia unit"),
        Col("source_field", "VARCHAR", "where in the source file the value was read"),
    )),
    Table("mue", "mue", "release x service type x HCPCS",
          "NCCI Medically Unlikely Edits: the most units of a code Medicare accepts per line or per day, by "
          "service type (practitioner, outpatient hospital, DME supplier).",
          ("service_type", "hcpcs"), (
        Col("service_type", "VARCHAR", "practitioner, outpatient_hospital or dme (the MUE table the row is from)"),
        Col("hcpcs", "VARCHAR", "HCPCS / CPT code"),
        Col("mue_value", "INTEGER", "the most units of service accepted (per line, or per day for MAI 2 and 3)"),
        Col("mai", "INTEGER", "MUE adjudication indicator: 1 line edit, 2 date of service edit (policy), "
                              "3 date of service edit (clinical)"),
        Col("mai_label", "VARCHAR", "the indicator's label as CMS prints it, e.g. 'Date of Service Edit: Policy'"),
        Col("rationale", "VARCHAR", "MUE rationale, e.g. 'Clinical: Data', 'CMS Policy'"),
    ), partition="service_type"),
    Table("opps_addendum_b", "opps", "release x HCPCS",
          "OPPS Addendum B: the hospital outpatient payment status indicator, APC, relative weight and payment rate "
          "of every HCPCS code.", ("hcpcs",), (
        Col("hcpcs", "VARCHAR", "HCPCS / CPT code"),
        Col("short_descriptor", "VARCHAR", "short descriptor"),
        Col("status_indicator", "VARCHAR", "OPPS payment status indicator (SI), e.g. N packaged, J1 comprehensive APC; "
                                           "see status_indicator"),
        Col("apc", "VARCHAR", "ambulatory payment classification, text with leading zeros (NULL when none)"),
        Col("relative_weight", "DECIMAL(12,4)", "APC relative weight"),
        Col("payment_rate", _STATED_MONEY, "national unadjusted payment rate, dollars, with the decimals CMS states "
                                          "(drug rates have 3: 115.936; 2020 workbooks store computed values, kept "
                                          "to 9 decimals)"),
        Col("national_unadjusted_copayment", _STATED_MONEY, "national unadjusted copayment, dollars (NULL where "
                                                           "CMS prints '.')"),
        Col("minimum_unadjusted_copayment", _STATED_MONEY, "minimum unadjusted copayment, dollars, as stated "
                                                          "(e.g. 23.1872 = 20 % of a 115.936 rate)"),
        Col("note", "VARCHAR", "the note column (its header changes every year)"),
        Col("pass_through_expiration", "VARCHAR", "pass-through expiration, as printed"),
        Col("ira_adjusted_copayment", _STATED_MONEY, "copayment adjusted under the Inflation Reduction Act, where "
                                                    "the addendum has the column"),
        Col("change_flag", "VARCHAR", "'*' where the row changed since the previous quarter"),
    )),
    Table("opps_addendum_a", "opps", "release x APC",
          "OPPS Addendum A: every ambulatory payment classification (APC) with its group title, status indicator, "
          "relative weight, payment rate and copayments.", ("apc",), (
        Col("apc", "VARCHAR", "ambulatory payment classification, 4 characters with leading zeros"),
        Col("group_title", "VARCHAR", "APC group title"),
        Col("status_indicator", "VARCHAR", "OPPS status indicator of the APC; see status_indicator"),
        Col("relative_weight", "DECIMAL(12,4)", "APC relative weight"),
        Col("payment_rate", _MONEY, "national unadjusted payment rate, dollars"),
        Col("national_unadjusted_copayment", _MONEY, "national unadjusted copayment, dollars"),
        Col("minimum_unadjusted_copayment", _MONEY, "minimum unadjusted copayment, dollars"),
    )),
    Table("asc_addendum_aa", "asc", "release x HCPCS",
          "ASC Addendum AA: covered surgical procedures with their payment indicator, weight and rate.", ("hcpcs",), (
        Col("hcpcs", "VARCHAR", "HCPCS / CPT code"),
        Col("marker", "VARCHAR", "the unnamed marker column next to the code ('*', '**'), explained by the addendum's "
                                 "NOTE rows"),
        Col("short_descriptor", "VARCHAR", "short descriptor"),
        Col("subject_to_multiple_procedure_discounting", "VARCHAR", "Y/N: subject to multiple procedure discounting"),
        Col("payment_indicator", "VARCHAR", "ASC payment indicator (PI), e.g. A2, G2, N1, P3, J8; see status_indicator"),
        Col("payment_weight", "DECIMAL(12,4)", "ASC payment weight (rounded to the 4 decimals CMS shows)"),
        Col("payment_rate", _MONEY, "national unadjusted ASC payment rate, dollars"),
        Col("comment_indicator", "VARCHAR", "comment indicator (CH, NI, NP, NC), where the addendum has the column"),
    )),
    Table("asc_addendum_bb", "asc", "release x HCPCS",
          "ASC Addendum BB: covered ancillary services with their payment indicator, weight and rate.", ("hcpcs",), (
        Col("hcpcs", "VARCHAR", "HCPCS / CPT code"),
        Col("marker", "VARCHAR", "the unnamed marker column next to the code, explained by the NOTE rows"),
        Col("short_descriptor", "VARCHAR", "short descriptor"),
        Col("pass_through_expiration", "VARCHAR", "drug (and device) pass-through expiration during the calendar "
                                                  "year, as printed, where the addendum has the column"),
        Col("payment_indicator", "VARCHAR", "ASC payment indicator (PI); see status_indicator"),
        Col("payment_weight", "DECIMAL(12,4)", "ASC payment weight"),
        Col("payment_rate", _MONEY, "national unadjusted ASC payment rate, dollars"),
        Col("ira_adjusted_copayment", _MONEY, "copayment adjusted under the Inflation Reduction Act (IRA-22), "
                                              "where the addendum has the column (from October 2023)"),
        Col("comment_indicator", "VARCHAR", "comment indicator, where the addendum has the column"),
    )),
    Table("asc_device_offset", "asc", "release x HCPCS",
          "ASC Addendum FF (from 2022): device offset percentages of covered procedures, with the OPPS APC and "
          "rate they are computed from; the device portion is removed from the ASC rate of device-intensive "
          "procedures.", ("hcpcs",), (
        Col("hcpcs", "VARCHAR", "HCPCS / CPT code"),
        Col("marker", "VARCHAR", "the unnamed marker column next to the code ('*', '**'), explained by the NOTE rows"),
        Col("short_descriptor", "VARCHAR", "short descriptor"),
        Col("payment_indicator", "VARCHAR", "ASC payment indicator (PI); see status_indicator"),
        Col("apc", "VARCHAR", "OPPS APC of the procedure, 4 characters (NULL when none)"),
        Col("apc_device_offset_percent", _PERCENT, "the APC's device offset percentage (95.49 = 95.49 %), where "
                                                   "the addendum has the column (from 2025)"),
        Col("opps_payment_rate", _MONEY, "OPPS national payment rate of the procedure, dollars"),
        Col("device_offset_percent", _PERCENT, "device offset percentage of the procedure (95.49 = 95.49 %)"),
        Col("device_offset_amount", _MONEY, "device offset amount (CMS: 'Device Portion'), dollars"),
    )),
    Table("asc_excluded", "asc", "release x HCPCS",
          "ASC Addendum EE: surgical procedures excluded from payment in an ASC.", ("hcpcs",), (
        Col("hcpcs", "VARCHAR", "HCPCS / CPT code"),
        Col("short_descriptor", "VARCHAR", "short descriptor"),
    )),
    Table("status_indicator", "*", "release x setting x code",
          "What each status or payment indicator means, by setting: PFS status codes (curated from the PFS record "
          "layout), OPPS status indicators (curated Addendum D1), ASC payment indicators (Addendum DD1, or the curated "
          "CY2020 DD1 for releases posted without it) and ASC comment indicators (DD2), each with the release that "
          "defined it.", ("setting", "code"), (
        Col("setting", "VARCHAR", "pfs_status, opps_si, asc_pi or asc_ci"),
        Col("code", "VARCHAR", "the indicator, e.g. A, N, J1, N1"),
        Col("definition", "VARCHAR", "its definition, as CMS words it (or as the cited curated file has it)"),
    )),
    Table("vendor_guide_row", "vendor", "guide x code x field x page x value",
          "Figures read from a device maker's coding guide (PDF): one row per code, field, page and value.",
          ("hcpcs", "field", "page", "value"), (
        Col("guide", "VARCHAR", "the guide's file name"),
        Col("guide_year", "INTEGER", "the year the guide states (or that was given on import)"),
        Col("guide_conversion_factor", "DECIMAL(9,4)", "the conversion factor the guide states, if any"),
        Col("page", "INTEGER", "1-based page the figure is printed on"),
        Col("hcpcs", "VARCHAR", "HCPCS / CPT code ('+' add-on marker and footnote marks removed)"),
        Col("add_on", "BOOLEAN", "the guide prints the code as an add-on code ('+')"),
        Col("field", "VARCHAR", "work_rvu, total_rvu_facility, total_rvu_non_facility, payment_facility, "
                                "payment_non_facility, asc_payment, asc_payment_indicator, opps_payment, "
                                "opps_status_indicator, mue or not_reported_with"),
        Col("value", "VARCHAR", "the figure, normalised (927, 1026.07, N1)"),
        Col("raw", "VARCHAR", "the text as printed ($1,026.07*)"),
    )),
    Table("vendor_guide_check", "vendor", "guide x code x field x page x value",
          "Each figure of a guide compared with cmsref's CMS data of the guide's year (at import time).",
          ("hcpcs", "field", "page", "guide_value"), (
        Col("guide", "VARCHAR", "the guide's file name"),
        Col("page", "INTEGER", "page of the figure"),
        Col("hcpcs", "VARCHAR", "HCPCS / CPT code"),
        Col("field", "VARCHAR", "the figure (see vendor_guide_row.field)"),
        Col("guide_value", "VARCHAR", "the guide's figure, normalised"),
        Col("guide_raw", "VARCHAR", "the guide's figure as printed"),
        Col("cms_value", "VARCHAR", "the CMS figure it was compared with (NULL when there is none)"),
        Col("status", "VARCHAR", "match, mismatch, other period (only another year's CMS data is loaded: never a "
                                 "match), not in CMS data or not comparable"),
        Col("cms_release", "VARCHAR", "the CMS release compared with, e.g. pfs/2024B/r1"),
        Col("note", "VARCHAR", "why, e.g. 'guide rounds to whole dollars; CMS 927.06 rounds to 927'"),
    )),
    Table("addon_code_edit", "aoc", "release x add-on code x primary code",
          "NCCI add-on code (AOC) edits: which primary codes an add-on code may be billed with. Type 1: only the "
          "listed primaries; type 2: no list, the contractor defines the primaries; type 3: the listed primaries "
          "and others the contractor allows.",
          ("addon_code", "primary_code", "edit_effective_date"), (
        Col("addon_code", "VARCHAR", "the add-on HCPCS / CPT code (CPT marks it '+')"),
        Col("primary_code", "VARCHAR", "an allowed primary code; 'CCCCC' stands for the primaries the contractor "
                                       "defines (type 2)"),
        Col("edit_type", "INTEGER", "AOC edit type 1, 2 or 3 (formerly I, II, III)"),
        Col("edit_effective_date", "DATE", "first date of service the edit applies to (file: AOC_Edit_EffDT, "
                                           "Julian yyyyddd)"),
        Col("edit_deletion_date", "DATE", "last date of service the edit applies to (AOC_Edit_DelDT; NULL: not "
                                          "deleted); 2025365 = 2025-12-31 means it ends with that day"),
        Col("addon_deletion_date", "DATE", "last date of service of the add-on code itself (AOC_DelDT; NULL: not "
                                           "deleted)"),
        Col("primary_deletion_date", "DATE", "last date of service of the primary code (Primary_Code_DelDT; NULL: "
                                             "not deleted)"),
        Col("special_instruction_notes", "VARCHAR", "CMS's special instructions for the edit, as printed"),
    )),
]}

CATALOG_DOCS = {
    "data_versions": "Published data versions: immutable, named snapshots of the whole warehouse (e.g. 2025.4, "
                     "2025.4.1). `latest` is the one with the highest seq.",
    "releases": "Every release ever published (dataset x period x revision) with its effective window in the "
                "latest data version (NULL if not in it), CMS release date, row counts and validation result.",
    "source_files": "Every source file a release was built from: CMS URL, mirror path, archive, member, size, "
                    "SHA-256.",
    "data_version_releases": "Which release (and revision) each data version holds, with its effective window "
                             "for each table in that version.",
}


CATALOG_COLUMN_DOCS = {
    "seq": "publication order: 1 for the first data version, +1 for each next one",
    "data_version": "name of the data version, e.g. 2025.4 (CY2025 Q4) or 2025.4.1 (a later correction)",
    "published_at": "when the data version was published (UTC)",
    "cmsref_version": "the cmsref version that built it",
    "manifest_sha256": "SHA-256 of the version's manifest (releases, source SHA-256s, windows, row counts): "
                       "pin it together with the name",
    "summary": "the releases built in this publish",
    "is_latest": "true for the newest data version (the one the views show)",
    "release_id": "dataset/period/revision, e.g. pfs/2024B/r1; a revision is a re-posted file set",
    "dataset": "short dataset name, e.g. pfs",
    "period": "CMS release period, e.g. 2024B",
    "revision": "1 for the first file set of a period, 2 when CMS re-posted changed files, ...",
    "effective_from": "first date of service the release applies to",
    "effective_to": "first date of service it no longer applies to (exclusive)",
    "in_latest": "true if the release is part of the latest data version",
    "cms_release_date": "the date CMS released it, as the file states (PPRRVU 'RELEASED'), else the catalog's",
    "row_counts": "rows per table (JSON)",
    "validation_success": "true: every expectation suite passed (a failed release is never published)",
    "built_at": "when cmsref built the release (UTC)",
    "fingerprint": "SHA-256 over the kind, variant and SHA-256 of every source file of the release",
    "catalog_sha256": "SHA-256 of the release's catalog entry (its canonical JSON: window, release date, files, "
                      "pins, mirror_lacks ...); a changed entry is built again as a new revision even when the files "
                      "are the same. NULL for releases published before cmsref recorded it",
    "kind": "file kind in the release: pprrvu, gpci, locco, anes, oppscap; practitioner, outpatient_hospital, dme; "
            "aoc; addendum_b; workbook; status_definitions (a curated file of the project)",
    "variant": "all, or from 2026 qp / non_qp",
    "url": "where CMS publishes the file: the catalog's URL of its zip, else the release's landing page ('' where "
           "none is known, e.g. a vendor guide); for a curated file of the project, its path in the project "
           "(transform/reference/...)",
    "mirror_path": "the local mirror file it was read from, relative to the mirror's root (e.g. "
                   "pfs_rvu/RVU25D/PPRRVU2025_Oct.csv, or the zip of a member); NULL when downloaded or not from a "
                   "mirror",
    "role": "published (the file the table's rows come from) or checked (another format CMS ships of the same "
            "table, parsed and compared cell for cell with it; transform/formats.py); NULL in releases published "
            "before copies were checked: published",
    "archive_name": "the zip the file was a member of (NULL for a loose file)",
    "archive_sha256": "SHA-256 of that zip",
    "member_name": "the file's name (inside the zip, if any)",
    "size": "bytes",
    "sha256": "SHA-256 of the file: every row's source_sha256 points here",
    "retrieved_at": "when the file was downloaded or read from the mirror (UTC)",
    "table_name": "published table",
    "row_count": "rows of that release in that table",
}


# Columns added to the meta tables after their first release: ensure_schema adds them to an older warehouse (NULL in
# the rows published before them). (table, column) -> type; META_DDL creates them in a new warehouse.
META_ADDED = {("releases", "catalog_sha256"): "VARCHAR", ("source_files", "mirror_path"): "VARCHAR",
              ("source_files", "role"): "VARCHAR"}


def store_ddl(table: Table) -> str:
    cols = ",\n  ".join(f"{c.name} {c.type}" for c in (*table.columns, *LINEAGE))
    return f"CREATE TABLE IF NOT EXISTS store.{table.name} (\n  release_id VARCHAR NOT NULL,\n  {cols}\n)"


META_DDL = """
CREATE SCHEMA IF NOT EXISTS store;
CREATE SCHEMA IF NOT EXISTS meta;
CREATE TABLE IF NOT EXISTS meta.data_versions (
  seq INTEGER PRIMARY KEY,
  data_version VARCHAR NOT NULL UNIQUE,
  published_at TIMESTAMPTZ NOT NULL,
  cmsref_version VARCHAR NOT NULL,
  manifest_sha256 VARCHAR NOT NULL,
  manifest JSON NOT NULL,
  summary VARCHAR
);
CREATE TABLE IF NOT EXISTS meta.releases (
  release_id VARCHAR PRIMARY KEY,
  dataset VARCHAR NOT NULL,
  period VARCHAR NOT NULL,
  revision INTEGER NOT NULL,
  effective_from DATE NOT NULL,
  stated_effective_to DATE,
  period_end VARCHAR NOT NULL,
  cms_release_date DATE,
  fingerprint VARCHAR NOT NULL,
  row_counts JSON NOT NULL,
  validation_success BOOLEAN NOT NULL,
  validation JSON NOT NULL,
  notes JSON,
  cmsref_version VARCHAR NOT NULL,
  built_at TIMESTAMPTZ NOT NULL,
  catalog_sha256 VARCHAR,
  UNIQUE (dataset, period, revision)
);
CREATE TABLE IF NOT EXISTS meta.source_files (
  release_id VARCHAR NOT NULL,
  kind VARCHAR NOT NULL,
  variant VARCHAR NOT NULL,
  url VARCHAR NOT NULL,
  archive_name VARCHAR,
  archive_sha256 VARCHAR,
  member_name VARCHAR NOT NULL,
  size BIGINT NOT NULL,
  sha256 VARCHAR NOT NULL,
  retrieved_at TIMESTAMPTZ NOT NULL,
  mirror_path VARCHAR,
  role VARCHAR,
  PRIMARY KEY (release_id, sha256)
);
CREATE TABLE IF NOT EXISTS meta.data_version_tables (
  data_version VARCHAR NOT NULL,
  table_name VARCHAR NOT NULL,
  release_id VARCHAR NOT NULL,
  dataset VARCHAR NOT NULL,
  period VARCHAR NOT NULL,
  effective_from DATE NOT NULL,
  effective_to DATE,
  row_count BIGINT NOT NULL,
  PRIMARY KEY (data_version, table_name, release_id)
);
"""
