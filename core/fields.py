"""The field registry: every value cmsref publishes or reads from a person, defined once (PUDL's FIELD_METADATA).

A field has its DuckDB type (the scale of a DECIMAL comes from the type), a description, and where the data has one,
the full-match `pattern` of a published value or the `values` it may take. Everything that checks a value asks
the field: the tables of core/tables.py list field names, the layouts find a file's data rows with the key
column's pattern, the suites check patterns and value sets with `regex` and `values`, and the CLI's arguments
and the server's parameters are read with `parse` (or `parse_locality`), so they accept and refuse the same input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def decimal_parts(type_name: str) -> tuple[int, int] | None:
    """(precision, scale) of a DuckDB DECIMAL type name, else None."""
    m = DECIMAL.fullmatch(type_name)
    return (int(m.group(1)), int(m.group(2))) if m else None


ISO_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"


class FieldValueError(ValueError):
    """A value that is not what its field holds; the message is one line naming the field and a good value."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # the DuckDB type; parsing, suites and docs derive theirs from it
    doc: str
    pattern: str | None = None  # a published value matches it in full (None: NULL is allowed where the column is)
    values: tuple | None = None  # the only values it takes, where the data has a closed set
    pad: int | None = None  # digits CMS prints without their leading zeros: restored to this width
    upper: bool = False  # codes are upper case: a person may type them in lower case
    what: str | None = None  # how a message names it: "a HCPCS / CPT code"
    example: str | None = None  # how a message shows a good one: "5 letters or digits, e.g. 37252"

    @property
    def scale(self) -> int | None:
        """Decimals of a DECIMAL(p,s) field (a layout reads the file's numbers to exactly this many)."""
        parts = decimal_parts(self.type)
        return parts[1] if parts else None

    @property
    def polars_type(self):
        """The polars type a parsed frame holds for this field before it is published."""
        import polars as pl

        parts = decimal_parts(self.type)
        if parts:
            return pl.Decimal(*parts)
        return {"VARCHAR": pl.String, "INTEGER": pl.Int64, "BIGINT": pl.Int64, "BOOLEAN": pl.Boolean,
                "DATE": pl.Date}[self.type]

    @property
    def regex(self) -> str | None:
        """The pattern anchored at both ends, as a regex-matching check (Great Expectations) wants it."""
        return None if self.pattern is None else f"^(?:{self.pattern})$"

    def source_pattern(self, pad: int | None = None) -> str:
        """The anchored pattern of a value as a source file prints it: the field's pattern, or, for a column read
        with `pad` (CMS drops leading zeros), also the shorter runs of digits that the padding completes."""
        if self.pattern is None:
            raise FieldValueError(self.name, f"field {self.name!r} has no pattern to find a file's data rows with")
        shorter = f"[0-9]{{1,{pad - 1}}}|" if pad and pad > 1 else ""
        return f"^(?:{shorter}{self.pattern})$"

    def describe(self) -> str:
        return f"{self.what or self.name} ({self.example})" if self.example else (self.what or self.name)

    def parse(self, value: object) -> str:
        """A value a person typed (a CLI argument, a query parameter, a JSON string) as the field publishes it:
        upper-cased and zero-padded where the field says so; a DATE as its ISO text. Anything else, a non-string
        or non-ASCII text included, raises FieldValueError naming the field."""
        text = value if isinstance(value, str) and value.isascii() else None
        if text is not None and self.type == "DATE":
            try:
                return date.fromisoformat(text).isoformat() if re.fullmatch(ISO_DATE, text) else self._refuse(value)
            except ValueError:
                self._refuse(value)
        if text is not None and self.upper:
            text = text.upper()
        if text is not None and self.pad and re.fullmatch(r"[0-9]+", text):
            text = text.zfill(self.pad)
        if text is None or (self.pattern is not None and not re.fullmatch(self.pattern, text)) \
                or (self.values is not None and text not in self.values):
            self._refuse(value)
        return text

    def _refuse(self, value: object):
        raise FieldValueError(self.name, f"{shown(value)} is not {self.describe()}")


def shown(value: object) -> str:
    """A value as a message quotes it: its repr, cut short (a 50 MB value is not sent back)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


LOCALITY_INPUT = "MAC:LOCALITY (digits, e.g. 01182:18)"


def parse_locality(value: object) -> tuple[str, str] | None:
    """`MAC:LOC` as a person types it (01182:18, 1182:18) -> (mac, locality) padded as the fields say; '' is none
    (national). Raises FieldValueError naming the locality."""
    if value == "":
        return None
    parts = value.split(":") if isinstance(value, str) else []
    if len(parts) != 2:
        raise FieldValueError("locality", f"{shown(value)} is not {LOCALITY_INPUT}")
    try:
        return FIELDS["mac"].parse(parts[0]), FIELDS["locality"].parse(parts[1])
    except FieldValueError:
        raise FieldValueError("locality", f"{shown(value)} is not {LOCALITY_INPUT}") from None


RVU = "DECIMAL(9,2)"
GPCI = "DECIMAL(6,3)"
CF = "DECIMAL(9,4)"
MONEY = "DECIMAL(12,2)"
STATED_MONEY = "DECIMAL(18,9)"  # money as CMS states it, to 9 decimals: OPPS drug rates 115.936, copayments 23.1872
PERCENT = "DECIMAL(9,4)"
WEIGHT = "DECIMAL(12,4)"
HCPCS = "[0-9A-Z]{5}"  # CPT (5 digits or 4 digits + F/T/U) and HCPCS Level II (letter + 4 digits)

FIELDS: dict[str, Field] = {f.name: f for f in [
    # codes and places
    Field("hcpcs", "VARCHAR", "HCPCS / CPT code, text (leading zeros kept)", pattern=HCPCS, upper=True,
          what="a HCPCS / CPT code", example="5 letters or digits, e.g. 37252"),
    Field("modifier", "VARCHAR", "modifier ('' = none; 26 professional, TC technical, 53 discontinued)",
          pattern="(?:[0-9A-Z]{2})?", upper=True, what="a modifier", example="2 letters or digits, e.g. 26 or TC"),
    Field("mac", "VARCHAR", "Medicare Administrative Contractor number, 5 characters (zeros restored)",
          pattern="[0-9]{5}", pad=5, what="a MAC number", example="up to 5 digits, e.g. 01182"),
    Field("locality", "VARCHAR", "locality number, 2 characters (zeros restored)", pattern="[0-9]{2}", pad=2,
          what="a locality number", example="up to 2 digits, e.g. 18"),
    Field("state", "VARCHAR", "state abbreviation", pattern="[A-Z]{2}"),
    Field("state_name", "VARCHAR", "state name"),
    Field("locality_name", "VARCHAR", "locality name (CMS footnote markers '*' removed)"),
    Field("fee_schedule_area", "VARCHAR", "fee schedule area name"),
    Field("counties", "VARCHAR", "counties in the locality, as CMS lists them"),
    Field("apc", "VARCHAR", "ambulatory payment classification, 4 characters with leading zeros", pattern="[0-9]{4}",
          pad=4),
    # descriptors and notes
    Field("description", "VARCHAR", "CMS short descriptor (CPT descriptors are copyright AMA)"),
    Field("short_descriptor", "VARCHAR", "short descriptor (CPT descriptors are copyright AMA)"),
    Field("group_title", "VARCHAR", "APC group title"),
    Field("note", "VARCHAR", "the note column (its header changes every year)"),
    Field("check_note", "VARCHAR", "why, e.g. 'guide rounds to whole dollars; CMS 927.06 rounds to 927'"),
    Field("marker", "VARCHAR", "the unnamed marker column next to the code ('*', '**'), explained by the addendum's "
                               "NOTE rows", values=("*", "**", "***")),
    Field("change_flag", "VARCHAR", "'*' where the row changed since the previous quarter"),
    Field("pass_through_expiration", "VARCHAR", "pass-through expiration, as printed"),
    Field("special_instruction_notes", "VARCHAR", "CMS's special instructions for the edit, as printed"),
    # indicators
    Field("status_code", "VARCHAR", "PFS status code (A active, B bundled, C carrier priced, ... see "
                                    "status_indicator)", values=tuple("ABCDEFGHIJMNPRTX")),  # PFS record layout
    Field("status_indicator", "VARCHAR", "OPPS payment status indicator (SI), e.g. N packaged, J1 comprehensive APC; "
                                         "see status_indicator"),
    Field("payment_indicator", "VARCHAR", "ASC payment indicator (PI), e.g. A2, G2, N1, P3, J8; see status_indicator",
          pattern="[A-Z][0-9]"),
    Field("comment_indicator", "VARCHAR", "comment indicator (CH, NI, NP, NC), where the addendum has the column",
          pattern="[A-Z]{2}"),
    Field("setting", "VARCHAR", "pfs_status, opps_si, asc_pi or asc_ci",
          values=("pfs_status", "opps_si", "asc_pi", "asc_ci")),
    Field("code", "VARCHAR", "the indicator, e.g. A, N, J1, N1", pattern="[0-9A-Z]{1,2}"),
    Field("definition", "VARCHAR", "its definition, as CMS words it (or as the cited curated file has it)"),
    Field("not_used_for_medicare_payment", "VARCHAR", "'+' when the RVUs are not used for Medicare payment"),
    Field("non_facility_na_indicator", "VARCHAR", "'NA': rarely or never performed in the non-facility setting",
          values=("NA",)),
    Field("facility_na_indicator", "VARCHAR", "'NA': rarely or never performed in the facility setting",
          values=("NA",)),
    Field("pctc_indicator", "VARCHAR", "professional/technical component indicator"),
    Field("global_days", "VARCHAR", "global surgery period: 000, 010, 090, MMM, XXX, YYY, ZZZ",
          values=("000", "010", "090", "MMM", "XXX", "YYY", "ZZZ")),
    Field("multiple_procedure_indicator", "VARCHAR", "multiple procedure (modifier 51) payment rule"),
    Field("bilateral_surgery_indicator", "VARCHAR", "bilateral surgery (modifier 50) payment rule"),
    Field("assistant_surgery_indicator", "VARCHAR", "assistant at surgery (modifiers 80-82, AS) rule"),
    Field("co_surgeons_indicator", "VARCHAR", "co-surgeons (modifier 62) rule"),
    Field("team_surgery_indicator", "VARCHAR", "team surgery (modifier 66) rule"),
    Field("pricing_indicator", "VARCHAR", "PRIC IND column, present from CY2026 (NULL before)"),
    Field("endoscopic_base_code", "VARCHAR", "endoscopic base code for multiple procedure indicator 3"),
    Field("physician_supervision", "VARCHAR", "physician supervision of diagnostic procedures"),
    Field("calculation_flag", "VARCHAR", "calculation flag (0 for all codes since July 2014)"),
    Field("diagnostic_imaging_family", "VARCHAR", "diagnostic imaging family indicator (88 = subject to the "
                                                  "reduction)"),
    Field("subject_to_multiple_procedure_discounting", "VARCHAR", "Y/N: subject to multiple procedure discounting"),
    # RVUs, GPCIs, conversion factors, weights, money
    Field("work_rvu", RVU, "physician work RVU"),
    Field("non_facility_pe_rvu", RVU, "practice expense RVU, non-facility setting"),
    Field("facility_pe_rvu", RVU, "practice expense RVU, facility setting"),
    Field("mp_rvu", RVU, "malpractice (professional liability) RVU"),
    Field("non_facility_total_rvu", RVU, "work + non-facility PE + MP RVUs, as stated by CMS"),
    Field("facility_total_rvu", RVU, "work + facility PE + MP RVUs, as stated by CMS"),
    Field("pre_op_share", RVU, "share of the global package for pre-operative care"),
    Field("intra_op_share", RVU, "share of the global package for intra-operative care"),
    Field("post_op_share", RVU, "share of the global package for post-operative care"),
    Field("opps_non_facility_pe_rvu", RVU, "non-facility PE RVU used for the OPPS imaging cap"),
    Field("opps_facility_pe_rvu", RVU, "facility PE RVU used for the OPPS imaging cap"),
    Field("opps_mp_rvu", RVU, "MP RVU used for the OPPS imaging cap"),
    Field("work_gpci", GPCI, "work GPCI (the column CMS labels 'PW GPCI (with 1.0 Floor)')"),
    Field("pe_gpci", GPCI, "practice expense GPCI"),
    Field("mp_gpci", GPCI, "malpractice GPCI"),
    Field("conversion_factor", CF, "dollars per RVU (physician) or per anesthesia unit"),
    Field("anesthesia_cf", "DECIMAL(9,2)", "anesthesia conversion factor for the locality, dollars per unit"),
    Field("kind", "VARCHAR", "physician or anesthesia", values=("physician", "anesthesia")),
    Field("variant", "VARCHAR", "'all' before 2026; from 2026 'qp' (qualifying APM participants) or 'non_qp'",
          values=("all", "qp", "non_qp")),
    Field("source_field", "VARCHAR", "where in the source file the value was read"),
    Field("relative_weight", WEIGHT, "APC relative weight"),
    Field("payment_weight", WEIGHT, "ASC payment weight"),
    Field("payment_rate", MONEY, "national unadjusted payment rate, dollars"),
    Field("national_unadjusted_copayment", MONEY, "national unadjusted copayment, dollars"),
    Field("minimum_unadjusted_copayment", MONEY, "minimum unadjusted copayment, dollars"),
    Field("ira_adjusted_copayment", MONEY, "copayment adjusted under the Inflation Reduction Act (IRA-22), where the "
                                           "addendum has the column (from October 2023)"),
    Field("stated_payment_rate", STATED_MONEY, "national unadjusted payment rate, dollars, with the decimals CMS "
                                               "states (drug rates have 3: 115.936; 2020 workbooks store computed "
                                               "values, kept to 9 decimals)"),
    Field("stated_national_unadjusted_copayment", STATED_MONEY, "national unadjusted copayment, dollars (NULL where "
                                                                "CMS prints '.')"),
    Field("stated_minimum_unadjusted_copayment", STATED_MONEY, "minimum unadjusted copayment, dollars, as stated "
                                                               "(e.g. 23.1872 = 20 % of a 115.936 rate)"),
    Field("stated_ira_adjusted_copayment", STATED_MONEY, "copayment adjusted under the Inflation Reduction Act, where "
                                                         "the addendum has the column"),
    Field("facility_price", MONEY, "OPPS cap amount, facility setting, dollars"),
    Field("non_facility_price", MONEY, "OPPS cap amount, non-facility setting, dollars"),
    Field("opps_payment_rate", MONEY, "OPPS national payment rate of the procedure, dollars"),
    Field("apc_device_offset_percent", PERCENT, "the APC's device offset percentage (95.49 = 95.49 %), where the "
                                                "addendum has the column (from 2025)"),
    Field("device_offset_percent", PERCENT, "device offset percentage of the procedure (95.49 = 95.49 %)"),
    Field("device_offset_amount", MONEY, "device offset amount (CMS: 'Device Portion'), dollars"),
    # NCCI edits
    Field("service_type", "VARCHAR", "practitioner, outpatient_hospital or dme (the MUE table the row is from)",
          values=("practitioner", "outpatient_hospital", "dme")),
    Field("mue_value", "INTEGER", "the most units of service accepted (per line, or per day for MAI 2 and 3)"),
    Field("mai", "INTEGER", "MUE adjudication indicator: 1 line edit, 2 date of service edit (policy), 3 date of "
                            "service edit (clinical)", values=(1, 2, 3)),
    Field("mai_label", "VARCHAR", "the indicator's label as CMS prints it, e.g. 'Date of Service Edit: Policy'"),
    Field("rationale", "VARCHAR", "MUE rationale, e.g. 'Clinical: Data', 'CMS Policy'"),
    Field("addon_code", "VARCHAR", "the add-on HCPCS / CPT code (CPT marks it '+')", pattern=HCPCS),
    Field("primary_code", "VARCHAR", "an allowed primary code; 'CCCCC' stands for the primaries the contractor "
                                     "defines (type 2)", pattern=f"(?:{HCPCS})?"),
    Field("edit_type", "INTEGER", "AOC edit type 1, 2 or 3 (formerly I, II, III)", values=(1, 2, 3)),
    # dates
    Field("date_of_service", "DATE", "a date of service", what="a date of the form YYYY-MM-DD",
          example="e.g. 2024-06-01"),
    Field("effective_from", "DATE", "first date of service this row applies to (from its release)"),
    Field("effective_to", "DATE", "first date of service it no longer applies to (exclusive): the next loaded "
                                  "release of the dataset takes over, and never later than the end of the release's "
                                  "calendar year"),
    Field("edit_effective_date", "DATE", "first date of service the edit applies to (file: AOC_Edit_EffDT, Julian "
                                         "yyyyddd)"),
    Field("edit_deletion_date", "DATE", "last date of service the edit applies to (AOC_Edit_DelDT; NULL: not "
                                        "deleted); 2025365 = 2025-12-31 means it ends with that day"),
    Field("addon_deletion_date", "DATE", "last date of service of the add-on code itself (AOC_DelDT; NULL: not "
                                         "deleted)"),
    Field("primary_deletion_date", "DATE", "last date of service of the primary code (Primary_Code_DelDT; NULL: not "
                                           "deleted)"),
    # vendor guides
    Field("guide", "VARCHAR", "the guide's file name"),
    Field("guide_year", "INTEGER", "the year the guide states (or that was given on import)"),
    Field("guide_conversion_factor", CF, "the conversion factor the guide states, if any"),
    Field("page", "INTEGER", "1-based page the figure is printed on"),
    Field("add_on", "BOOLEAN", "the guide prints the code as an add-on code ('+')"),
    Field("field", "VARCHAR", "work_rvu, total_rvu_facility, total_rvu_non_facility, payment_facility, "
                              "payment_non_facility, asc_payment, asc_payment_indicator, opps_payment, "
                              "opps_status_indicator, mue or not_reported_with"),
    Field("value", "VARCHAR", "the figure, normalised (927, 1026.07, N1)"),
    Field("raw", "VARCHAR", "the text as printed ($1,026.07*)"),
    Field("guide_value", "VARCHAR", "the guide's figure, normalised"),
    Field("guide_raw", "VARCHAR", "the guide's figure as printed"),
    Field("cms_value", "VARCHAR", "the CMS figure it was compared with (NULL when there is none)"),
    Field("status", "VARCHAR", "match, mismatch, other period (only another year's CMS data is loaded: never a "
                               "match), not in CMS data or not comparable",
          values=("match", "mismatch", "other period", "not in CMS data", "not comparable")),
    Field("cms_release", "VARCHAR", "the CMS release compared with, e.g. pfs/2024B/r1"),
    # ZIP code to carrier locality file (ZIP5)
    Field("zip5", "VARCHAR", "5-digit ZIP code, text (leading zeros kept: 02574)", pattern="[0-9]{5}", pad=5),
    Field("zip", "VARCHAR", "ZIP code of the place of service: 5 digits, or ZIP+4 (its first 5 digits place it)",
          pattern="[0-9]{5}(?:-?[0-9]{4})?", what="a ZIP code",
          example="5 digits, or 9 with an optional dash, e.g. 90210 or 90210-1234"),
    Field("rural_indicator", "VARCHAR", "urban, rural or super_rural (CMS's code: blank, R, B; from the 2013 OMB "
                                        "delineations and 2010 RUCA codes, effective 2015-01-01)",
          values=("urban", "rural", "super_rural")),
    Field("lab_cb_locality", "VARCHAR", "lab competitive bid locality: Z1 (CBA 1), Z2 (CBA 2), Z9 (not a "
                                        "demonstration locality)", values=("Z1", "Z2", "Z9")),
    Field("needs_plus_four", "BOOLEAN", "true: the ZIP code spans localities and is placed by its +4 (CMS's plus four "
                                        "flag 1); its locality here is not used for pricing"),
    Field("part_b_payment_indicator", "VARCHAR", "Part B payment indicator, as CMS prints it (the xlsx header says "
                                                 "PART B DRUG INDICATOR)", pattern="[0-9A-Z]"),
    Field("year_quarter", "VARCHAR", "the year and quarter CMS states on the row, YYYYQ (20254 = 2025 Q4); equal to "
                                     "the release's quarter in every row", pattern="[0-9]{4}[1-4]"),
    # lineage
    Field("source_sha256", "VARCHAR", "SHA-256 of the source file this row was read from (see source_files)",
          pattern="[0-9a-f]{64}"),
    Field("source_row", "BIGINT", "1-based record number of this row in its source file (its line in a CSV/TXT)"),
]}
