"""Expectation suite for conversion_factor: each CF read from the files must equal the curated, cited CF.

The curated table (expectations/reference/national_conversion_factors.csv) lists national CFs by kind,
variant and effective window with a citation per row. A CF that disagrees fails validation; a CF for which
the curated table has no entry is reported as a warning (add the entry with its citation).
"""

from datetime import date
from pathlib import Path

import polars as pl

from expectations.common import E, SuiteContext, key_checks
from core.effective import in_effect_expr
from core.tables import TABLES

REFERENCE = Path(__file__).parent / "reference" / "national_conversion_factors.csv"


def curated() -> pl.DataFrame:
    return pl.read_csv(REFERENCE, schema_overrides={"conversion_factor": pl.String}).with_columns(
        pl.col("effective_from").str.to_date(), pl.col("effective_to").str.to_date(),
        pl.col("conversion_factor").cast(TABLES["conversion_factor"].column("conversion_factor").polars_type),
    )


def with_curated(frame: pl.DataFrame, effective_from: date) -> pl.DataFrame:
    """Add `curated_conversion_factor`: the curated CF in force on the release's effective_from."""
    ref = curated().filter(in_effect_expr(effective_from))
    ref = ref.select("kind", "variant", pl.col("conversion_factor").alias("curated_conversion_factor"))
    return frame.join(ref, on=["kind", "variant"], how="left")


def suite(frame, ctx: SuiteContext):
    checks = [
        *key_checks("conversion_factor", column_set=False),
        E.ExpectColumnValuesToNotBeNull(column="conversion_factor"),
        E.ExpectColumnPairValuesToBeEqual(column_A="conversion_factor", column_B="curated_conversion_factor",
                                          ignore_row_if="either_value_is_missing"),
    ]
    warnings = [E.ExpectColumnValuesToNotBeNull(column="curated_conversion_factor")]
    return checks, warnings
