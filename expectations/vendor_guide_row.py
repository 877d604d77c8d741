"""Expectation suite for vendor_guide_row: codes are HCPCS, every row names its page, amounts are not negative."""

import polars as pl

from expectations.common import E, SuiteContext, key_checks

NUMERIC_FIELDS = ["work_rvu", "total_rvu_facility", "total_rvu_non_facility", "payment_facility",
                  "payment_non_facility", "asc_payment", "opps_payment", "mue"]


def with_derived(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `number`: the value of a numeric field as a number (NULL for indicators and codes)."""
    return frame.with_columns(pl.when(pl.col("field").is_in(NUMERIC_FIELDS))
                              .then(pl.col("value").cast(pl.Float64, strict=False)).alias("number"))


def suite(frame, ctx: SuiteContext):
    checks = [
        *key_checks("vendor_guide_row", column_set=False),  # the frame also holds the derived `number`
        E.ExpectTableRowCountToBeBetween(min_value=1, max_value=100_000),
        E.ExpectColumnValuesToNotBeNull(column="page"),
        E.ExpectColumnValuesToBeBetween(column="page", min_value=1, max_value=10_000),
        E.ExpectColumnValuesToBeBetween(column="number", min_value=0, max_value=10_000_000),
        E.ExpectColumnValuesToNotBeNull(column="number", row_condition=f"field.isin({NUMERIC_FIELDS!r})",
                                        condition_parser="pandas"),
    ]
    return checks, []
