"""Expectation suite for pfs_anesthesia_cf (ANES)."""

from expectations.common import E, LOCALITY_RE, MAC_RE, SuiteContext, key_checks, row_count


def suite(frame, ctx: SuiteContext):
    checks = key_checks("pfs_anesthesia_cf", ["mac", "locality"])
    checks += row_count(ctx, 100, 120)
    checks += [
        E.ExpectColumnValuesToMatchRegex(column="mac", regex=MAC_RE),
        E.ExpectColumnValuesToMatchRegex(column="locality", regex=LOCALITY_RE),
        E.ExpectColumnValuesToNotBeNull(column="anesthesia_cf"),
        E.ExpectColumnValuesToBeBetween(column="anesthesia_cf", min_value=10, max_value=40),
    ]
    return checks, []
