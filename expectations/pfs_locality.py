"""Expectation suite for pfs_locality (LOCCO)."""

from expectations.common import E, SuiteContext, locality_grain


def suite(frame, ctx: SuiteContext):
    checks = locality_grain("pfs_locality", ctx)
    checks += [
        E.ExpectColumnValuesToNotBeNull(column="state"),
        E.ExpectColumnValuesToNotBeNull(column="fee_schedule_area"),
    ]
    return checks, [E.ExpectColumnValuesToNotBeNull(column="counties")]
