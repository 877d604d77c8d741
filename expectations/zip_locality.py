"""Expectation suite for zip_locality (CMS's ZIP code to carrier locality file), and its check against the GPCI file.

The suite: one row per ZIP code; code shapes; the rural indicator, lab competitive-bid locality and +4 flag within
what ZIP5lyout.txt lists; CMS's year/quarter equal to the release's quarter in every row (a file of another quarter,
which the cms.gov page may hand out as its current one, is refused); the row count within 2 % of the previous release
(ZIP codes come and go by dozens a quarter, 42,956 in October 2025).

Across datasets (`release_checks`): every MAC x locality a ZIP code is priced in is a locality of the GPCI file in
effect on the quarter's first day, when a PFS release covering that day is in the build or the warehouse
(cmsref.pipeline passes its localities as previous_data["gpci"]). A ZIP code in a locality the GPCI file lacks could
never be priced; the check names the locality and its ZIP codes. October 2025 against RVU25D: all 109 MAC x locality
pairs of the ZIP file are GPCI localities, and every GPCI locality has ZIP codes.
"""

from __future__ import annotations

import polars as pl

from expectations.common import E, SuiteContext, key_checks, row_count

PATTERNED = ("zip5", "state", "mac", "locality", "part_b_payment_indicator", "year_quarter")  # shapes: core/fields.py
CODED = ("rural_indicator", "lab_cb_locality")  # closed sets of ZIP5lyout.txt: core/fields.py
ZIPS_NAMED = 10  # ZIP codes named per failing locality (and how many more)


def release_year_quarter(period: str) -> str:
    """CMS's YYYYQ of a release period labelled by its first month: 2025-10 -> 20254."""
    year, month = period.split("-")
    return f"{year}{(int(month) - 1) // 3 + 1}"


def suite(frame, ctx: SuiteContext):
    checks = [
        *key_checks("zip_locality"),
        *row_count(ctx, 30_000, 50_000, drift=0.02),
        *[E.ExpectColumnValuesToNotBeNull(column=c) for c in (*PATTERNED[1:], *CODED, "needs_plus_four")],
        E.ExpectColumnValuesToBeInSet(column="year_quarter", value_set=[release_year_quarter(ctx.period)], meta={
            "why": f"CMS states the year and quarter on every row; release {ctx.period} is "
                   f"{release_year_quarter(ctx.period)}: another value is another quarter's file"}),
    ]
    return checks, []


def release_checks(tables: dict[str, pl.DataFrame], previous_data: dict | None = None
                   ) -> list[tuple[str, pl.DataFrame, list]]:
    """The ZIP codes' localities against the GPCI file in effect (previous_data["gpci"]: (frame of mac, locality;
    its PFS period)); nothing when the release has no zip_locality or no PFS release covers its quarter."""
    gpci, period = (previous_data or {}).get("gpci") or (None, None)
    if gpci is None or "zip_locality" not in tables:
        return []
    known = gpci.select("mac", "locality").unique().with_columns(pl.lit(True).alias("in_gpci"))
    by_locality = (tables["zip_locality"].group_by("mac", "locality")
                   .agg(pl.col("zip5").sort().alias("zips"))
                   .join(known, on=["mac", "locality"], how="left"))
    rows = [(mac, loc, f"{mac}:{loc} is not a locality of the GPCI file of {period}, but {len(zips)} ZIP code"
                       f"{'s are' if len(zips) > 1 else ' is'} priced in it: {', '.join(zips[:ZIPS_NAMED])}"
                       f"{f' and {len(zips) - ZIPS_NAMED} more' if len(zips) > ZIPS_NAMED else ''}")
            for mac, loc, zips, ok in by_locality.sort("mac", "locality").iter_rows() if not ok]
    frame = pl.DataFrame(rows or [(None, None, None)], orient="row",
                         schema={"mac": pl.String, "locality": pl.String, "problem": pl.String})
    return [(f"zip localities vs GPCI ({period})", frame, [E.ExpectColumnValuesToBeNull(column="problem", meta={
        "why": f"every ZIP code is priced in a MAC x locality of the GPCI file in effect ({period}; "
               f"expectations/zip_locality.py)"})])]
