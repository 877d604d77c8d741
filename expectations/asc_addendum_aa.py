"""Expectation suite for asc_addendum_aa (covered surgical procedures); Addendum BB runs the same suite.

Each row's rate must be its payment weight x the year's ASC conversion factor within a cent (expectations/rates.py
says where the CF comes from and what the real files show): `with_derived` adds `asc_conversion_factor` and
`rate_problem` before the suite runs.
"""

from datetime import date

import polars as pl

from expectations import rates
from expectations.common import E, SuiteContext, key_checks, non_negative, row_count

DERIVED = ("asc_conversion_factor", "rate_problem")


def with_derived(frame: pl.DataFrame, effective_from: date) -> pl.DataFrame:
    """Add `asc_conversion_factor` (curated, NULL when none is) and `rate_problem` (NULL, or the code and figures of a
    rate that is not payment_weight x CF within a cent)."""
    cf = rates.curated_cf("asc", effective_from)
    return frame.with_columns(pl.lit(cf, dtype=pl.Float64).alias("asc_conversion_factor"),
                              rates.weight_rate_problem(cf, "payment_weight").alias("rate_problem"))


def suite(frame, ctx: SuiteContext, table: str = "asc_addendum_aa"):
    checks = key_checks(table, derived=DERIVED)
    # the January update changes the list most: AA grew 15 % from 2025-01 to 2026-01 (4,183 -> 4,821 rows)
    checks += row_count(ctx, 100, 20_000, drift=0.20)
    checks += [
        E.ExpectColumnValuesToNotBeNull(column="payment_indicator"),
        E.ExpectColumnValuesToBeInSet(column="payment_indicator", value_set=ctx.defined("asc_pi")),
        *non_negative(["payment_weight", "payment_rate"], 10_000_000),
        E.ExpectColumnValuesToBeNull(column="rate_problem", meta={
            "why": "ASC rate = payment weight x the year's ASC CF (expectations/reference/opps_asc_conversion_factors.csv)"}),
    ]
    if (ctx.definitions or {}).get("asc_ci"):
        checks.append(E.ExpectColumnValuesToBeInSet(column="comment_indicator", value_set=ctx.defined("asc_ci")))
    warnings = [E.ExpectColumnValuesToNotBeNull(column="asc_conversion_factor", meta={
        "why": "no curated ASC CF for this quarter: rates not compared; add it to opps_asc_conversion_factors.csv"})]
    return checks, warnings
