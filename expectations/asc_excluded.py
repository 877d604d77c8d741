"""Expectation suite for asc_excluded (Addendum EE)."""

from expectations.common import SuiteContext, key_checks, row_count


def suite(frame, ctx: SuiteContext):
    checks = key_checks("asc_excluded")
    # EE shrinks as CMS moves procedures onto the ASC list: -11 % from 2020-07 to 2021-01 and -26 % from 2025-01 to
    # 2026-01 (1,557 rows) in the real addenda, hence the wide drift bound
    checks += row_count(ctx, 100, 20_000, drift=0.35)
    return checks, []
