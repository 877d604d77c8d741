"""The published tables: which fields they hold, their key, grain and documentation (the table contract of
PRODUCT.md).

This module is the one place a table's columns and key are defined (the table registry). A column is a field of
core/fields.py (its type, pattern and description are defined there, once); a table lists field names, with its own
description of a column only where it means something narrower. Layouts take the decimals of every published
number from the registry, `transform.tables.conform` casts each parsed table to its types, the suites take keys and
the column set from it, and the COMMENTs and docs/schema.md are generated from it. The warehouse stores each table's
rows once per release in schema `store`; the public views in `main` (the names analysts use) show the rows of the
releases in one data version (`latest` by default), with the effective window of each release. Every table and
column gets a COMMENT in the database, and docs/schema.md is generated from those comments.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import CatalogError
from core.fields import FIELDS, Field


@dataclass(frozen=True)
class Col:
    """A published column: the field it holds (the field of the same name unless `field` names another) and, where
    the table means something narrower, its own description (`own_doc`) or words added to the field's (`more`)."""

    name: str
    field: str = ""
    own_doc: str = ""
    more: str = ""

    def __post_init__(self):
        if not self.field:
            object.__setattr__(self, "field", self.name)

    @property
    def spec(self) -> Field:
        return FIELDS[self.field]

    @property
    def type(self) -> str:
        """The DuckDB type, the field's; parsing, suites and docs derive theirs from it."""
        return self.spec.type

    @property
    def doc(self) -> str:
        return self.own_doc or (f"{self.spec.doc} {self.more}" if self.more else self.spec.doc)

    @property
    def scale(self) -> int | None:
        """Decimals of a DECIMAL(p,s) column (a layout reads the file's numbers to exactly this many)."""
        return self.spec.scale

    @property
    def polars_type(self):
        """The polars type a parsed frame holds for this column before it is published."""
        return self.spec.polars_type


def _columns(owner: str, columns) -> tuple[Col, ...]:
    """Field names (or Cols) as Cols; a name core/fields.py does not define is refused, naming the table."""
    cols = tuple(c if isinstance(c, Col) else Col(c) for c in columns)
    unknown = [c.field for c in cols if c.field not in FIELDS]
    if unknown:
        raise CatalogError(f"{owner} names field {unknown[0]!r}, which core/fields.py does not define: add it there "
                           f"or name an existing field")
    return cols


@dataclass(frozen=True)
class Table:
    name: str
    dataset: str
    grain: str
    doc: str
    key: tuple[str, ...]  # natural key within a release: unique and never NULL (suites, diff and docs use it)
    columns: tuple[Col, ...]  # field names or Cols, in the published order
    partition: str | None = None  # validated (row counts vs the previous release) per value of this column

    def __post_init__(self):
        object.__setattr__(self, "columns", _columns(f"table {self.name!r}", self.columns))

    def column(self, name: str) -> Col | None:
        return next((c for c in self.columns if c.name == name), None)


LINEAGE = _columns("LINEAGE", ("source_sha256", "source_row"))
WINDOW = _columns("WINDOW", ("effective_from", "effective_to"))

TABLES: dict[str, Table] = {t.name: t for t in [
    Table("pfs_rvu", "pfs", "release x HCPCS x modifier",
          "Physician Fee Schedule relative value units (CMS PPRRVU file), one row per HCPCS code and modifier.",
          ("hcpcs", "modifier"), (
        "hcpcs", "modifier", "description", "status_code", "not_used_for_medicare_payment", "work_rvu",
        "non_facility_pe_rvu", "non_facility_na_indicator", "facility_pe_rvu", "facility_na_indicator", "mp_rvu",
        "non_facility_total_rvu", "facility_total_rvu", "pctc_indicator", "global_days", "pre_op_share",
        "intra_op_share", "post_op_share", "multiple_procedure_indicator", "bilateral_surgery_indicator",
        "assistant_surgery_indicator", "co_surgeons_indicator", "team_surgery_indicator", "pricing_indicator",
        "endoscopic_base_code",
        Col("conversion_factor", own_doc="national conversion factor stated on the row (non-QP from 2026), dollars "
                                         "per RVU"),
        "physician_supervision", "calculation_flag", "diagnostic_imaging_family", "opps_non_facility_pe_rvu",
        "opps_facility_pe_rvu", "opps_mp_rvu",
    )),
    Table("pfs_gpci", "pfs", "release x MAC x locality",
          "Geographic practice cost indices (CMS GPCI file, Addendum E) per Medicare locality.",
          ("mac", "locality"), ("mac", "state", "locality", "locality_name", "work_gpci", "pe_gpci", "mp_gpci")),
    Table("pfs_locality", "pfs", "release x MAC x locality",
          "Counties of each PFS locality (CMS LOCCO file). The state is filled down as CMS prints it only once.",
          ("mac", "locality"), ("mac", "locality", Col("state", "state_name"), "fee_schedule_area", "counties")),
    Table("pfs_anesthesia_cf", "pfs", "release x MAC x locality",
          "Locality-adjusted anesthesia conversion factors (CMS ANES file). Names are in pfs_gpci.",
          ("mac", "locality"), ("mac", "locality", "anesthesia_cf")),
    Table("pfs_opps_cap", "pfs", "release x HCPCS x modifier x MAC x locality",
          "OPPS payment caps for imaging services (CMS OPPSCAP file): the PFS amount is capped at the OPPS amount.",
          ("hcpcs", "modifier", "mac", "locality"), (
        "hcpcs", "modifier", Col("procedure_status", "status_code", own_doc="PFS status code of the procedure"),
        Col("mac", own_doc="Medicare Administrative Contractor number (CMS calls it carrier), 5 characters (zeros "
                                  "restored)"), "locality", "facility_price", "non_facility_price",
    )),
    Table("conversion_factor", "pfs", "kind x variant x effective window",
          "National conversion factors stated in the files: the PPRRVU CONV FACTOR column (physician) and the "
          "ANES file header (anesthesia, where stated). Cross-checked against a curated, cited table.",
          ("kind", "variant"), ("kind", "variant", "conversion_factor", "source_field")),
    Table("mue", "mue", "release x service type x HCPCS",
          "NCCI Medically Unlikely Edits: the most units of a code Medicare accepts per line or per day, by "
          "service type (practitioner, outpatient hospital, DME supplier).",
          ("service_type", "hcpcs"), ("service_type", "hcpcs", "mue_value", "mai", "mai_label", "rationale"),
          partition="service_type"),
    Table("opps_addendum_b", "opps", "release x HCPCS",
          "OPPS Addendum B: the hospital outpatient payment status indicator, APC, relative weight and payment rate "
          "of every HCPCS code.", ("hcpcs",), (
        "hcpcs", "short_descriptor", "status_indicator", Col("apc", more="(NULL when none)"), "relative_weight",
        Col("payment_rate", "stated_payment_rate"),
        Col("national_unadjusted_copayment", "stated_national_unadjusted_copayment"),
        Col("minimum_unadjusted_copayment", "stated_minimum_unadjusted_copayment"),
        "note", "pass_through_expiration", Col("ira_adjusted_copayment", "stated_ira_adjusted_copayment"),
        "change_flag",
    )),
    Table("opps_addendum_a", "opps", "release x APC",
          "OPPS Addendum A: every ambulatory payment classification (APC) with its group title, status indicator, "
          "relative weight, payment rate and copayments.", ("apc",), (
        "apc", "group_title", Col("status_indicator", own_doc="OPPS status indicator of the APC; see status_indicator"),
        "relative_weight", "payment_rate", "national_unadjusted_copayment", "minimum_unadjusted_copayment",
    )),
    Table("asc_addendum_aa", "asc", "release x HCPCS",
          "ASC Addendum AA: covered surgical procedures with their payment indicator, weight and rate.", ("hcpcs",), (
        "hcpcs", "marker", "short_descriptor", "subject_to_multiple_procedure_discounting", "payment_indicator",
        Col("payment_weight", more="(rounded to the 4 decimals CMS shows)"),
        Col("payment_rate", own_doc="national unadjusted ASC payment rate, dollars"), "comment_indicator",
    )),
    Table("asc_addendum_bb", "asc", "release x HCPCS",
          "ASC Addendum BB: covered ancillary services with their payment indicator, weight and rate.", ("hcpcs",), (
        "hcpcs", "marker", "short_descriptor",
        Col("pass_through_expiration", own_doc="drug (and device) pass-through expiration during the calendar year, "
                                               "as printed, where the addendum has the column"),
        "payment_indicator", "payment_weight", Col("payment_rate", own_doc="national unadjusted ASC payment rate, "
                                                                           "dollars"),
        "ira_adjusted_copayment", "comment_indicator",
    )),
    Table("asc_device_offset", "asc", "release x HCPCS",
          "ASC Addendum FF (from 2022): device offset percentages of covered procedures, with the OPPS APC and "
          "rate they are computed from; the device portion is removed from the ASC rate of device-intensive "
          "procedures.", ("hcpcs",), (
        "hcpcs", "marker", "short_descriptor", "payment_indicator",
        Col("apc", own_doc="OPPS APC of the procedure, 4 characters with leading zeros (NULL when none)"),
        "apc_device_offset_percent", "opps_payment_rate", "device_offset_percent", "device_offset_amount",
    )),
    Table("asc_excluded", "asc", "release x HCPCS",
          "ASC Addendum EE: surgical procedures excluded from payment in an ASC.", ("hcpcs",),
          ("hcpcs", "short_descriptor")),
    Table("status_indicator", "*", "release x setting x code",
          "What each status or payment indicator means, by setting: PFS status codes (curated from the PFS record "
          "layout), OPPS status indicators (curated Addendum D1), ASC payment indicators (Addendum DD1, or the curated "
          "CY2020 DD1 for releases posted without it) and ASC comment indicators (DD2), each with the release that "
          "defined it.", ("setting", "code"), ("setting", "code", "definition")),
    Table("vendor_guide_row", "vendor", "guide x code x field x page x value",
          "Figures read from a device maker's coding guide (PDF): one row per code, field, page and value.",
          ("hcpcs", "field", "page", "value"), (
        "guide", "guide_year", "guide_conversion_factor", "page",
        Col("hcpcs", more="('+' add-on marker and footnote marks removed)"), "add_on", "field", "value", "raw",
    )),
    Table("vendor_guide_check", "vendor", "guide x code x field x page x value",
          "Each figure of a guide compared with cmsref's CMS data of the guide's year (at import time).",
          ("hcpcs", "field", "page", "guide_value"), (
        "guide", Col("page", own_doc="page of the figure"), "hcpcs",
        "field", "guide_value", "guide_raw", "cms_value", "status",
        "cms_release", Col("note", "check_note"),
    )),
    Table("addon_code_edit", "aoc", "release x add-on code x primary code",
          "NCCI add-on code (AOC) edits: which primary codes an add-on code may be billed with. Type 1: only the "
          "listed primaries; type 2: no list, the contractor defines the primaries; type 3: the listed primaries "
          "and others the contractor allows.",
          ("addon_code", "primary_code", "edit_effective_date"), (
        "addon_code", "primary_code", "edit_type", "edit_effective_date", "edit_deletion_date",
        "addon_deletion_date", "primary_deletion_date", "special_instruction_notes",
    )),
    Table("zip_locality", "zip", "release (quarter) x ZIP code",
          "CMS's ZIP code to carrier locality file: the Medicare carrier (MAC) and PFS pricing locality of every "
          "5-digit ZIP code, for the quarter of its release. A ZIP code with needs_plus_four spans localities: its "
          "locality depends on the ZIP+4 (CMS's ZIP9 file) and cmsref never prices it from this row.", ("zip5",), (
        "zip5", "state",
        Col("mac", more="(CMS calls it carrier); with locality, a key of pfs_gpci"),
        Col("locality", own_doc="PFS pricing locality number, 2 characters"),
        "rural_indicator", "lab_cb_locality", "needs_plus_four", "part_b_payment_indicator", "year_quarter",
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
