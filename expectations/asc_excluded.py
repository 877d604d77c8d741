"""Expectation suite for asc_excluded (Addendum EE)."""

from expectations.common import E, HCPCS_RE, SuiteContext, key_checks, row_count


def suite(frame, ctx: SuiteContext):
    checks = key_checks("asc_excluded", ["hcpcs"])
    checks += row_count(ctx, 100, 20_000)
    checks.append(E.ExpectColumnValuesToMatchRegex(column="hcpcs", regex=HCPCS_RE))
    return checks, []
