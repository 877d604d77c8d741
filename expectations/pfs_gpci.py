"""Expectation suite for pfs_gpci (Addendum E)."""

from expectations.common import E, SuiteContext, locality_grain


def suite(frame, ctx: SuiteContext):
    checks = locality_grain("pfs_gpci", ctx)
    checks += [
        E.ExpectColumnValuesToNotBeNull(column="locality_name"),
        # Real GPCIs: work 1.0..1.5 (Alaska floor), PE about 0.8..1.5, MP 0.2..2.8 (2022 has 2.702);
        # outside 0.1..5 is a parse error, not a real index
        *[E.ExpectColumnValuesToBeBetween(column=c, min_value=0.1, max_value=5.0)
          for c in ("work_gpci", "pe_gpci", "mp_gpci")],
        *[E.ExpectColumnValuesToNotBeNull(column=c) for c in ("work_gpci", "pe_gpci", "mp_gpci")],
    ]
    return checks, []
