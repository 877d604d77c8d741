"""Expectation suite for vendor_guide_check."""

from expectations.common import E, SuiteContext, key_checks


def suite(frame, ctx: SuiteContext):
    checks = key_checks("vendor_guide_check")
    checks.append(E.ExpectColumnValuesToBeInSet(column="status", value_set=["match", "mismatch", "other period",
                                                                            "not in CMS data", "not comparable"]))
    return checks, []
