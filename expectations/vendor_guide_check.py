"""Expectation suite for vendor_guide_check."""

from expectations.common import SuiteContext, key_checks


def suite(frame, ctx: SuiteContext):
    checks = key_checks("vendor_guide_check")
    return checks, []
