"""Identities between the money columns of OPPS Addendum B and the ASC addenda AA / BB (checked per row).

What the real files obey (every file in ../shared/cms-mirror, tested in tests/integration/test_identities_real.py):

* **ASC rate = relative weight x that year's ASC conversion factor**, rounded to the cent, in AA and BB, for every
  row that states a weight above 0 (A2, G2, J8, P2, R2, D2; Z2, H2, S2 in BB). Neither the files nor their headers
  state the CF: it is curated in expectations/reference/opps_asc_conversion_factors.csv (system `asc`, one row per
  calendar year, cited). 13 quarters 2020-01..2026-01: every such row within a cent; 2 rows differ by exactly one
  cent (0632T in 2021-04, 0871T in 2026-01: CMS rounds from an unrounded weight), so the tolerance is one cent.
  CMS's own exception: 2024-01 BB states a weight of 0.0000 *and* a rate for its 17 H2 codes (other quarters leave
  their weight blank): a weight of 0 is not a weight, those rows are not checked, and transform/asc.py lists them in
  the release notes. A digit transposition in a rate moves it by at least 9 cents and fails.
* **OPPS rate = relative weight x that year's OPPS conversion factor** (system `opps` in the same file), within a
  cent, for every row with a weight above 0: no exception in the 7 mirrored Addendum B files (2020-01..2022-10).
* **OPPS copayments**: the national unadjusted copayment (stated for about 130 codes) is at most the payment rate,
  the minimum unadjusted copayment at most the national one, and a non-zero minimum unadjusted copayment is 20 % of
  the payment rate within two cents (2021-2022: within a cent; the 2020 workbooks store copayments computed from the
  unrounded rate, up to 1.2 cents off; 36-89 rows a quarter have a minimum copayment of 0: no cost sharing, e.g.
  vaccines and preventive services, allowed). No exception in the 7 files.

A year with no curated CF gets a warning (add the CF with its citation) and its rates are not compared.
Cost: one vectorised polars expression per table (about 5 ms for 20,000 rows).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from core.effective import in_effect_expr

REFERENCE = Path(__file__).parent / "reference" / "opps_asc_conversion_factors.csv"
RATE_TOLERANCE = 0.01  # a cent: CMS rounds weight x CF to the cent, sometimes from an unrounded weight
COPAY_TOLERANCE = 0.02  # 2020 copayments were computed from unrounded rates (up to 1.2 cents off)
EPS = 1e-6  # float noise of the Decimal -> Float64 comparison


def curated_cf(system: str, effective_from: date) -> float | None:
    """The `system` (asc, opps) conversion factor in force on `effective_from`, or None when none is curated."""
    ref = pl.read_csv(REFERENCE, schema_overrides={"conversion_factor": pl.String}).with_columns(
        pl.col("effective_from").str.to_date(), pl.col("effective_to").str.to_date())
    rows = ref.filter((pl.col("system") == system) & in_effect_expr(effective_from))["conversion_factor"]
    return float(rows[0]) if len(rows) else None


def _f(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Float64)


def weight_rate_problem(cf: float | None, weight_column: str) -> pl.Expr:
    """NULL, or '<hcpcs>: rate R != weight W x CF C = E' where a row with a weight above 0 and a rate has a rate that
    is not weight x CF within a cent. All NULL when no CF is curated."""
    if cf is None:
        return pl.lit(None, dtype=pl.String)
    expected = _f(weight_column) * cf
    off = (_f("payment_rate") - expected).abs() > RATE_TOLERANCE + EPS
    return pl.when((pl.col(weight_column) > 0) & pl.col("payment_rate").is_not_null() & off).then(pl.format(
        "{}: payment_rate {} != {} {} x CF {} = {}", "hcpcs", pl.col("payment_rate").cast(pl.Float64).round(2),
        pl.lit(weight_column), pl.col(weight_column).cast(pl.String), pl.lit(f"{cf:g}"), expected.round(2)))


def copay_problem() -> pl.Expr:
    """NULL, or the code and figures where an OPPS row's copayments break the identities of the module docstring."""
    rate, national, minimum = _f("payment_rate"), _f("national_unadjusted_copayment"), _f("minimum_unadjusted_copayment")
    msg = "{}: payment_rate {}, national_unadjusted_copayment {}, minimum_unadjusted_copayment {}: "
    fields = ["hcpcs", *[c.round(4).cast(pl.String).fill_null("none") for c in (rate, national, minimum)]]  # a NULL
    # field would make the whole message NULL
    return pl.coalesce(
        pl.when(national > rate + EPS).then(pl.format(msg + "national copayment above the rate", *fields)),
        pl.when(minimum > national + EPS).then(pl.format(msg + "minimum copayment above the national", *fields)),
        pl.when((minimum > 0) & ((minimum - rate * 0.2).abs() > COPAY_TOLERANCE + EPS))
          .then(pl.format(msg + "minimum copayment is not 20 % of the rate ({})", *fields, (rate * 0.2).round(2))),
    )
