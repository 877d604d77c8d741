"""Expectation suite for opps_addendum_a (one row per APC)."""

from expectations.common import E, SuiteContext, key_checks, non_negative, row_count


def suite(frame, ctx: SuiteContext):
    checks = key_checks("opps_addendum_a")
    checks += row_count(ctx, 1, 5_000)
    checks += [
        E.ExpectColumnValuesToNotBeNull(column="group_title"),
        E.ExpectColumnValuesToBeInSet(column="status_indicator", value_set=ctx.defined("opps_si")),
        *non_negative(["relative_weight", "payment_rate", "national_unadjusted_copayment",
                       "minimum_unadjusted_copayment"], 10_000_000),
    ]
    return checks, []
