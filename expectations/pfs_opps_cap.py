"""Expectation suite for pfs_opps_cap (OPPSCAP)."""

from expectations.common import E, HCPCS_RE, LOCALITY_RE, MAC_RE, SuiteContext, key_checks, non_negative, row_count
from expectations.pfs_rvu import STATUS_CODES


def suite(frame, ctx: SuiteContext):
    checks = key_checks("pfs_opps_cap")
    checks += row_count(ctx, 8_000, 30_000, drift=0.25)
    checks += [
        E.ExpectColumnValuesToMatchRegex(column="hcpcs", regex=HCPCS_RE),
        E.ExpectColumnValuesToMatchRegex(column="mac", regex=MAC_RE),
        E.ExpectColumnValuesToMatchRegex(column="locality", regex=LOCALITY_RE),
        E.ExpectColumnValuesToBeInSet(column="procedure_status", value_set=STATUS_CODES),
        *[E.ExpectColumnValuesToNotBeNull(column=c) for c in ("facility_price", "non_facility_price")],
        *non_negative(["facility_price", "non_facility_price"], 1_000_000),
    ]
    return checks, []
