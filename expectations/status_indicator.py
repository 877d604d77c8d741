"""Expectation suite for status_indicator (indicator definitions of a release)."""

from expectations.common import E, SuiteContext, key_checks


def suite(frame, ctx: SuiteContext):
    checks = key_checks("status_indicator")
    checks += [
        E.ExpectColumnValuesToNotBeNull(column="definition"),
        E.ExpectTableRowCountToBeBetween(min_value=2, max_value=200),
    ]
    return checks, []
