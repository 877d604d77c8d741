"""Expectation suite for pfs_anesthesia_cf (ANES)."""

from expectations.common import E, SuiteContext, locality_grain


def suite(frame, ctx: SuiteContext):
    checks = locality_grain("pfs_anesthesia_cf", ctx)
    checks += [
        E.ExpectColumnValuesToNotBeNull(column="anesthesia_cf"),
        E.ExpectColumnValuesToBeBetween(column="anesthesia_cf", min_value=10, max_value=40),
    ]
    return checks, []
