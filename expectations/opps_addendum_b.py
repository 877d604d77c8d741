"""Expectation suite for opps_addendum_b.

Besides keys and ranges, every row's rate must be its relative weight x the year's OPPS conversion factor within a
cent, and its copayments must obey the identities in expectations/rates.py (national <= rate, minimum <= national,
a non-zero minimum = 20 % of the rate): `with_derived` adds `opps_conversion_factor`, `rate_problem` and
`copay_problem` before the suite runs.
"""

from datetime import date

import polars as pl

from expectations import rates
from expectations.common import E, SuiteContext, key_checks, non_negative, row_count

# Status indicators paid through an APC: a row with one of these must name its APC (Addendum D1). Not P: partial
# hospitalization codes (G0129, G0410, ...) are paid a per diem whose APC depends on the provider type, so CMS
# lists them without one (every real Addendum B 2020-2022).
SI_WITH_APC = ["G", "H", "J1", "J2", "K", "R", "S", "T", "U", "V"]
DERIVED = ("opps_conversion_factor", "rate_problem", "copay_problem")


def with_derived(frame: pl.DataFrame, effective_from: date) -> pl.DataFrame:
    cf = rates.curated_cf("opps", effective_from)
    return frame.with_columns(pl.lit(cf, dtype=pl.Float64).alias("opps_conversion_factor"),
                              rates.weight_rate_problem(cf, "relative_weight").alias("rate_problem"),
                              rates.copay_problem().alias("copay_problem"))


def suite(frame, ctx: SuiteContext):
    checks = key_checks("opps_addendum_b", derived=DERIVED)
    checks += row_count(ctx, 1, 40_000)
    checks += [
        E.ExpectColumnValuesToNotBeNull(column="status_indicator"),
        E.ExpectColumnValuesToBeInSet(column="status_indicator", value_set=ctx.defined("opps_si")),
        E.ExpectColumnValuesToNotBeNull(column="apc", row_condition=f"status_indicator.isin({SI_WITH_APC!r})",
                                        condition_parser="pandas"),
        *non_negative(["relative_weight", "payment_rate", "national_unadjusted_copayment",
                       "minimum_unadjusted_copayment"], 10_000_000),
        E.ExpectColumnValuesToBeNull(column="rate_problem", meta={
            "why": "OPPS rate = relative weight x the year's OPPS CF (expectations/reference/opps_asc_conversion_factors.csv)"}),
        E.ExpectColumnValuesToBeNull(column="copay_problem", meta={
            "why": "national copayment <= rate, minimum <= national, a non-zero minimum = 20 % of the rate"}),
    ]
    warnings = [E.ExpectColumnValuesToNotBeNull(column="opps_conversion_factor", meta={
        "why": "no curated OPPS CF for this quarter: rates not compared; add it to opps_asc_conversion_factors.csv"})]
    return checks, warnings
