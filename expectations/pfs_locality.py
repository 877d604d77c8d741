"""Expectation suite for pfs_locality (LOCCO)."""

from expectations.common import E, LOCALITY_RE, MAC_RE, SuiteContext, key_checks, row_count


def suite(frame, ctx: SuiteContext):
    checks = key_checks("pfs_locality", ["mac", "locality"])
    checks += row_count(ctx, 100, 120)
    checks += [
        E.ExpectColumnValuesToMatchRegex(column="mac", regex=MAC_RE),
        E.ExpectColumnValuesToMatchRegex(column="locality", regex=LOCALITY_RE),
        E.ExpectColumnValuesToNotBeNull(column="state"),
        E.ExpectColumnValuesToNotBeNull(column="fee_schedule_area"),
    ]
    return checks, [E.ExpectColumnValuesToNotBeNull(column="counties")]
