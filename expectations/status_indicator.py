"""Expectation suite for status_indicator (indicator definitions of a release)."""

from expectations.common import E, SuiteContext, key_checks


def suite(frame, ctx: SuiteContext):
    checks = key_checks("status_indicator")
    checks += [
        E.ExpectColumnValuesToBeInSet(column="setting", value_set=["pfs_status", "opps_si", "asc_pi", "asc_ci"]),
        E.ExpectColumnValuesToMatchRegex(column="code", regex=r"^[0-9A-Z]{1,2}$"),
        E.ExpectColumnValuesToNotBeNull(column="definition"),
        E.ExpectTableRowCountToBeBetween(min_value=2, max_value=200),
    ]
    return checks, []
