"""Expectation suite for pfs_opps_cap (OPPSCAP)."""

from expectations.common import E, SuiteContext, key_checks, non_negative, row_count


def suite(frame, ctx: SuiteContext):
    checks = key_checks("pfs_opps_cap")
    checks += row_count(ctx, 8_000, 30_000, drift=0.25)
    checks += [
        *[E.ExpectColumnValuesToNotBeNull(column=c) for c in ("facility_price", "non_facility_price")],
        *non_negative(["facility_price", "non_facility_price"], 1_000_000),
    ]
    return checks, []
