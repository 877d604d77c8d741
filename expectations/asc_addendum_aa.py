"""Expectation suite for asc_addendum_aa (covered surgical procedures)."""

from expectations.common import E, HCPCS_RE, SuiteContext, key_checks, non_negative, row_count


def suite(frame, ctx: SuiteContext, table: str = "asc_addendum_aa"):
    checks = key_checks(table)
    # the January update changes the list most: AA grew 15 % from 2025-01 to 2026-01 (4,183 -> 4,821 rows)
    checks += row_count(ctx, 100, 20_000, drift=0.20)
    checks += [
        E.ExpectColumnValuesToMatchRegex(column="hcpcs", regex=HCPCS_RE),
        E.ExpectColumnValuesToNotBeNull(column="payment_indicator"),
        E.ExpectColumnValuesToBeInSet(column="payment_indicator", value_set=ctx.defined("asc_pi")),
        E.ExpectColumnValuesToBeInSet(column="marker", value_set=["*", "**", "***"]),
        *non_negative(["payment_weight", "payment_rate"], 10_000_000),
    ]
    if (ctx.definitions or {}).get("asc_ci"):
        checks.append(E.ExpectColumnValuesToBeInSet(column="comment_indicator", value_set=ctx.defined("asc_ci")))
    return checks, []
