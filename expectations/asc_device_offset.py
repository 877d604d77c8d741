"""Expectation suite for asc_device_offset (ASC Addendum FF, device offset percentages)."""

from expectations.common import E, SuiteContext, key_checks, non_negative, row_count


def suite(frame, ctx: SuiteContext):
    checks = key_checks("asc_device_offset")
    # FF lists AA's procedures: it grew 15 % from 2025-01 to 2026-01 like AA
    checks += row_count(ctx, 100, 20_000, drift=0.20)
    checks += [
        E.ExpectColumnValuesToNotBeNull(column="payment_indicator"),
        E.ExpectColumnValuesToBeInSet(column="payment_indicator", value_set=ctx.defined("asc_pi")),
        # percentages: a parse that lost the '%' scaling or shifted a money column into them lands outside 0-100
        E.ExpectColumnValuesToBeBetween(column="device_offset_percent", min_value=0, max_value=100),
        E.ExpectColumnValuesToBeBetween(column="apc_device_offset_percent", min_value=0, max_value=100),
        *non_negative(["opps_payment_rate", "device_offset_amount"], 10_000_000),
        # the device portion is part of the OPPS rate it is taken from
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="opps_payment_rate", column_B="device_offset_amount",
                                                  or_equal=True, ignore_row_if="either_value_is_missing"),
    ]
    return checks, []
