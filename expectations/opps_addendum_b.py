"""Expectation suite for opps_addendum_b."""

from expectations.common import E, HCPCS_RE, SuiteContext, key_checks, non_negative, row_count

# Status indicators paid through an APC: a row with one of these must name its APC (Addendum D1). Not P: partial
# hospitalization codes (G0129, G0410, ...) are paid a per diem whose APC depends on the provider type, so CMS
# lists them without one (every real Addendum B 2020-2022).
SI_WITH_APC = ["G", "H", "J1", "J2", "K", "R", "S", "T", "U", "V"]


def suite(frame, ctx: SuiteContext):
    checks = key_checks("opps_addendum_b")
    checks += row_count(ctx, 1, 40_000)
    checks += [
        E.ExpectColumnValuesToMatchRegex(column="hcpcs", regex=HCPCS_RE),
        E.ExpectColumnValuesToNotBeNull(column="status_indicator"),
        E.ExpectColumnValuesToBeInSet(column="status_indicator", value_set=ctx.defined("opps_si")),
        E.ExpectColumnValuesToNotBeNull(column="apc", row_condition=f"status_indicator.isin({SI_WITH_APC!r})",
                                        condition_parser="pandas"),
        E.ExpectColumnValuesToMatchRegex(column="apc", regex=r"^[0-9]{4}$"),
        *non_negative(["relative_weight", "payment_rate", "national_unadjusted_copayment",
                       "minimum_unadjusted_copayment"], 10_000_000),
    ]
    return checks, []
