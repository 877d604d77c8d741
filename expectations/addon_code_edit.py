"""Expectation suite for addon_code_edit (NCCI add-on code edits)."""

import polars as pl

from expectations.common import E, SuiteContext, key_checks, row_count


def with_derived(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `primary_is_addon` (a primary code equal to its own add-on code is an error in the file) and
    `ends_before_start` (an edit deleted before it took effect: a misread or swapped date)."""
    return frame.with_columns(
        (pl.col("primary_code") == pl.col("addon_code")).alias("primary_is_addon"),
        (pl.col("edit_deletion_date") < pl.col("edit_effective_date")).fill_null(False).alias("ends_before_start"))


def suite(frame, ctx: SuiteContext):
    checks = [
        *key_checks("addon_code_edit", column_set=False),  # the frame also holds the derived columns below
        *row_count(ctx, 1, 200_000, drift=0.25),
        E.ExpectColumnValuesToBeInSet(column="primary_is_addon", value_set=[False]),
        E.ExpectColumnValuesToNotBeNull(column="edit_effective_date"),
        E.ExpectColumnValuesToBeInSet(column="ends_before_start", value_set=[False]),
    ]
    return checks, []
