"""Expectation suite for pfs_rvu (PPRRVU)."""

import polars as pl

from expectations.common import E, RVU_MAX, SuiteContext, field_checks, key_checks, non_negative, row_count

RVU_COLUMNS = ["work_rvu", "non_facility_pe_rvu", "facility_pe_rvu", "mp_rvu", "non_facility_total_rvu",
               "facility_total_rvu", "opps_non_facility_pe_rvu", "opps_facility_pe_rvu", "opps_mp_rvu"]


def with_derived(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `total_rvu_problem`: NULL, or the code and the figures where a stated total is not work + PE + MP within
    a cent (a misread, shifted or edited column); and `share_sum`, the global surgery shares added up."""
    def gap(total: str, pe: str) -> pl.Expr:
        parts = pl.col("work_rvu") + pl.col(pe) + pl.col("mp_rvu")
        return pl.when((pl.col(total) - parts).abs() > 0.01).then(
            pl.format("{} {}: {} {} != work {} + PE {} + MP {}", "hcpcs", "modifier", pl.lit(total), total,
                      "work_rvu", pe, "mp_rvu"))
    return frame.with_columns(
        pl.coalesce(gap("non_facility_total_rvu", "non_facility_pe_rvu"),
                    gap("facility_total_rvu", "facility_pe_rvu")).alias("total_rvu_problem"),
        (pl.col("pre_op_share") + pl.col("intra_op_share") + pl.col("post_op_share")).alias("share_sum"))


# a value other than NA in the NA indicators is reported, as a warning: it does not stop a publish
WARNED = ("non_facility_na_indicator", "facility_na_indicator")


def suite(frame, ctx: SuiteContext):
    checks = key_checks("pfs_rvu", column_set=False, warned=WARNED)  # the frame also holds the derived columns above
    # PPRRVU grows 1-3 % a year (17,600 in 2022A, 19,090 in 2025D): a file cut short by 5 % is not a new release
    checks += row_count(ctx, 15_000, 25_000, drift=0.04)
    checks += [
        E.ExpectColumnValuesToNotBeNull(column="status_code"),
        E.ExpectColumnValuesToNotBeNull(column="conversion_factor"),
        E.ExpectColumnValuesToBeBetween(column="conversion_factor", min_value=10, max_value=100),
    ]
    checks += [E.ExpectColumnValuesToNotBeNull(column=c) for c in ("work_rvu", "non_facility_pe_rvu",
                                                                    "facility_pe_rvu", "mp_rvu")]
    checks += non_negative(RVU_COLUMNS, RVU_MAX)
    checks += [
        E.ExpectColumnValuesToBeNull(column="total_rvu_problem"),
        *[E.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=1)
          for c in ("pre_op_share", "intra_op_share", "post_op_share")],
        E.ExpectColumnValuesToBeBetween(column="share_sum", min_value=0, max_value=1.001),
        # work RVUs dominate: their mean is 3.76-4.05 and the MP mean 0.79-0.84 in every release 2022-2025; a file
        # whose columns were swapped or shifted lands far outside
        E.ExpectColumnMeanToBeBetween(column="work_rvu", min_value=2, max_value=8),
        E.ExpectColumnMeanToBeBetween(column="mp_rvu", min_value=0.2, max_value=2),
    ]
    warnings = field_checks("pfs_rvu", *WARNED)
    return checks, warnings
