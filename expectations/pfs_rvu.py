"""Expectation suite for pfs_rvu (PPRRVU)."""

from expectations.common import E, HCPCS_RE, RVU_MAX, SuiteContext, key_checks, non_negative, row_count

# PFS status codes (record layout, Attachment A, RVU24B.pdf / RVU25D.pdf)
STATUS_CODES = list("ABCDEFGHIJMNPRTX")
RVU_COLUMNS = ["work_rvu", "non_facility_pe_rvu", "facility_pe_rvu", "mp_rvu", "non_facility_total_rvu",
               "facility_total_rvu", "opps_non_facility_pe_rvu", "opps_facility_pe_rvu", "opps_mp_rvu"]


def suite(frame, ctx: SuiteContext):
    checks = key_checks("pfs_rvu")
    checks += row_count(ctx, 15_000, 25_000)
    checks += [
        E.ExpectColumnValuesToMatchRegex(column="hcpcs", regex=HCPCS_RE),
        E.ExpectColumnValuesToMatchRegex(column="modifier", regex=r"^(?:[0-9A-Z]{2})?$"),
        E.ExpectColumnValuesToBeInSet(column="status_code", value_set=STATUS_CODES),
        E.ExpectColumnValuesToNotBeNull(column="status_code"),
        E.ExpectColumnValuesToBeInSet(column="global_days", value_set=["000", "010", "090", "MMM", "XXX", "YYY", "ZZZ"]),
        E.ExpectColumnValuesToNotBeNull(column="conversion_factor"),
        E.ExpectColumnValuesToBeBetween(column="conversion_factor", min_value=10, max_value=100),
    ]
    checks += [E.ExpectColumnValuesToNotBeNull(column=c) for c in ("work_rvu", "non_facility_pe_rvu",
                                                                    "facility_pe_rvu", "mp_rvu")]
    checks += non_negative(RVU_COLUMNS, RVU_MAX)
    warnings = [E.ExpectColumnValuesToBeInSet(column="non_facility_na_indicator", value_set=["NA"]),
                E.ExpectColumnValuesToBeInSet(column="facility_na_indicator", value_set=["NA"])]
    return checks, warnings
